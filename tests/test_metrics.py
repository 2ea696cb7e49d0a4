"""Fusion metrics against independent references: scikit-image, scikit-learn, brute force and
hand-computed cases."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.ndimage import gaussian_filter
from scipy.signal import convolve2d, correlate2d
from skimage.metrics import structural_similarity
from sklearn.metrics import mutual_info_score

from lwnet.data import harvard_pairs, luma8, read_image
from lwnet.errors import InputError
from lwnet.metrics import (
    EXTRA_NAMES,
    METRIC_NAMES,
    average_gradient,
    compute_metrics,
    entropy,
    fusion_mi,
    fusion_ssim,
    fusion_uqi,
    fusion_vif,
    mutual_information,
    psnr,
    qabf,
    qcb,
    spatial_frequency,
    ssim_index,
    standard_deviation,
    uqi_index,
    uqi_map,
    viff,
    vifp,
)


@pytest.fixture(scope="module")
def triple(sample):
    """Luma (0..255 float64) of the SPECT-MRI sample pair and their pixel mean."""
    pair = harvard_pairs(sample, "SPECT-MRI")[0]
    a = luma8(read_image(pair.a)).astype(np.float64)
    b = luma8(read_image(pair.b)).astype(np.float64)
    return a, b, np.rint((a + b) / 2)


def _noisy(x: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(x + rng.normal(0, sigma, x.shape)), 0, 255)


def _blurred(x: np.ndarray, sigma: float) -> np.ndarray:
    return np.rint(gaussian_filter(x, sigma))


# --- SSIM -------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_ssim_matches_skimage_random(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (40, 52)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 30, x.shape), 0, 255).round()
    ref = structural_similarity(x, y, data_range=255, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert ssim_index(x, y) == pytest.approx(ref, abs=1e-10)


def test_ssim_matches_skimage_on_medical_pair(triple):
    a, b, f = triple
    for src in (a, b):
        ref = structural_similarity(src, f, data_range=255, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False)
        assert ssim_index(src, f) == pytest.approx(ref, abs=1e-10)
    expected = (ssim_index(a, f) + ssim_index(b, f)) / 2
    assert fusion_ssim(a, b, f) == pytest.approx(expected, abs=1e-12)
    assert fusion_ssim(a, b, f, "sum") == pytest.approx(2 * expected, abs=1e-12)


# --- MI ---------------------------------------------------------------------------------------

def test_mi_matches_sklearn_in_bits(triple):
    a, b, f = (x.astype(np.uint8) for x in triple)
    for src in (a, b):
        ref = mutual_info_score(src.ravel(), f.ravel()) / math.log(2)
        assert mutual_information(src, f) == pytest.approx(ref, rel=1e-10)
    ref_sum = sum(mutual_info_score(s.ravel(), f.ravel()) for s in (a, b)) / math.log(2)
    assert fusion_mi(a, b, f) == pytest.approx(ref_sum, rel=1e-10)
    assert fusion_mi(a, b, f, "mean") == pytest.approx(ref_sum / 2, rel=1e-10)


def test_mi_of_image_with_itself_is_its_entropy(triple):
    a = triple[0]
    assert mutual_information(a, a) == pytest.approx(entropy(a), rel=1e-12)


def test_mi_rejects_non_integer_levels():
    with pytest.raises(ValueError, match="MI: needs whole grey levels 0..255"):
        mutual_information(np.full((4, 4), 100.5), np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"EN: values within \[0, 1\] with fractions look like"):
        entropy(np.full((4, 4), 0.5))
    assert str(entropy(np.full((4, 4), 7.0))) == "0.0"  # not -0.0


# --- UQI --------------------------------------------------------------------------------------

def _uqi_brute_force(x: np.ndarray, y: np.ndarray, block: int = 8) -> float:
    """Every block×block window, moments straight from the definition, Wang–Bovik flat rules."""
    h, w = x.shape
    scores = []
    for i in range(h - block + 1):
        for j in range(w - block + 1):
            wx, wy = x[i:i + block, j:j + block], y[i:i + block, j:j + block]
            mx, my = wx.mean(), wy.mean()
            vx, vy = wx.var(), wy.var()
            cov = ((wx - mx) * (wy - my)).mean()
            if vx + vy == 0:
                scores.append(1.0 if mx == my == 0 else 2 * mx * my / (mx * mx + my * my))
            elif mx * mx + my * my == 0:
                scores.append(1.0)
            else:
                scores.append(4 * cov * mx * my / ((vx + vy) * (mx * mx + my * my)))
    return float(np.mean(scores))


def _uqi_test_images(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (24, 30)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 40, x.shape), 0, 255).round()
    x[:, :12] = 0  # black background in both: both-flat windows at zero (score 1)
    y[:, :12] = 0
    x[:10, 14:26] = 90  # both flat, equal
    y[:10, 14:26] = 90
    x[14:, 20:] = 50  # both flat, different levels: 2·50·200 / (50² + 200²)
    y[14:, 20:] = 200
    y[0:3, 0:4] = 7  # a faint offset on the background of one image only
    return x, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uqi_matches_brute_force_with_flat_regions(seed):
    x, y = _uqi_test_images(seed)
    assert uqi_index(x, y) == pytest.approx(_uqi_brute_force(x, y), abs=1e-12)
    assert uqi_index(y, x) == pytest.approx(_uqi_brute_force(y, x), abs=1e-12)


# Few distinct levels make flat, half-flat and both-flat windows common.
_levels = st.sampled_from([0.0, 0.0, 0.0, 3.0, 128.0, 255.0])


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (11, 13), elements=_levels),
       arrays(np.float64, (11, 13), elements=_levels))
def test_uqi_matches_brute_force_property(x, y):
    assert uqi_index(x, y) == pytest.approx(_uqi_brute_force(x, y), abs=1e-12)


def test_uqi_flat_window_rules_exact():
    x, y = _uqi_test_images(0)
    q = uqi_map(x, y)
    assert np.all(q[10:, :4] == 1.0)  # black in both
    assert q[0, 14] == 1.0  # equal flat
    assert q[-1, -1] == pytest.approx(2 * 50 * 200 / (50**2 + 200**2), abs=1e-15)


def test_uqi_and_ssim_of_identical_images_are_one(triple):
    a = triple[0]
    assert uqi_index(a, a) == 1.0
    assert ssim_index(a, a) == pytest.approx(1.0, abs=1e-12)


def test_uqi_reduction(triple):
    a, b, f = triple
    qa, qb = uqi_index(a, f), uqi_index(b, f)
    assert fusion_uqi(a, b, f) == pytest.approx((qa + qb) / 2, abs=1e-14)
    assert fusion_uqi(a, b, f, "sum") == pytest.approx(qa + qb, abs=1e-14)


# --- PSNR -------------------------------------------------------------------------------------

def test_psnr_identities(triple):
    a, b, _ = triple
    mse_ab = np.mean((a - b) ** 2)
    p_copy = 10 * np.log10(255**2 / (mse_ab / 2))
    assert psnr(a, b, a) == pytest.approx(p_copy, abs=1e-10)
    assert psnr(a, b, b) == pytest.approx(p_copy, abs=1e-10)
    # max/min(A, B) equal one source per pixel and differ from the other by |A − B|.
    assert psnr(a, b, np.maximum(a, b)) == pytest.approx(p_copy, abs=1e-10)
    assert psnr(a, b, np.minimum(a, b)) == pytest.approx(p_copy, abs=1e-10)
    mean = (a + b) / 2  # unrounded: MSE(A,F) + MSE(B,F) = MSE(A,B)/2
    assert psnr(a, b, mean) == pytest.approx(p_copy + 10 * np.log10(2), abs=1e-10)
    # The pixel mean beats any other blend.
    for w in (0.3, 0.45, 0.7):
        assert psnr(a, b, w * a + (1 - w) * b) < psnr(a, b, mean)
    assert psnr(a, a, a) == math.inf


def test_psnr_of_maximum_only_counts_differing_pixels():
    a = np.array([[0.0, 10.0], [20.0, 30.0]] * 8)
    b = np.array([[10.0, 0.0], [20.0, 50.0]] * 8)
    f = np.maximum(a, b)
    # max(A, B) differs from exactly one source where A ≠ B: squared errors 100, 100, 0, 400.
    assert psnr(a, b, f) == pytest.approx(10 * np.log10(255**2 / (600 / 4 / 2)), abs=1e-12)
    assert psnr(a, b, f) == pytest.approx(psnr(a, b, a), abs=1e-12)


# --- VIF --------------------------------------------------------------------------------------

def test_vif_is_one_for_identical_images_and_drops_with_noise_and_blur(triple):
    a = triple[0]
    assert viff(a, a, a) == pytest.approx(1.0, abs=1e-6)
    assert vifp(a, a) == pytest.approx(1.0, abs=1e-9)
    for degraded in (_noisy(a, 10), _blurred(a, 1.5)):
        assert 0.0 < viff(a, a, degraded) < 0.97  # VIFF assumes strong visual noise (σn² = 325)
        assert 0.0 < vifp(a, degraded) < 0.9
    assert viff(a, a, _noisy(a, 20)) < viff(a, a, _noisy(a, 5))


def test_viff_on_fusion_lowered_by_degradation(triple):
    a, b, f = triple
    base = viff(a, b, f)
    assert 0.0 < base <= 1.0
    assert viff(a, b, _noisy(f, 10)) < base
    assert viff(a, b, _blurred(f, 2.0)) < base


def test_vif_flavours_and_reduction(triple):
    a, b, f = triple
    assert fusion_vif(a, b, f) == viff(a, b, f)
    pix = vifp(a, f) + vifp(b, f)
    assert fusion_vif(a, b, f, "vifp") == pytest.approx(pix, abs=1e-12)
    assert fusion_vif(a, b, f, "vifp", "mean") == pytest.approx(pix / 2, abs=1e-12)
    assert fusion_vif(a, b, f, "viff", "mean") == viff(a, b, f)  # joint: no reduction
    with pytest.raises(ValueError):
        fusion_vif(a, b, f, "nope")


def _viff_reference(a, b, f, windows=(33, 17, 9, 5)):
    """Han et al. 2013 step by step with 2-D windows, one source at a time."""
    def scales(ref, dist):
        res = []
        for k, n in enumerate(windows):
            x = np.arange(n) - (n - 1) / 2
            win = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * (n / 5) ** 2))
            win /= win.sum()
            if k:
                ref = correlate2d(ref, win, "valid")[::2, ::2]
                dist = correlate2d(dist, win, "valid")[::2, ::2]
            mu1, mu2 = correlate2d(ref, win, "valid"), correlate2d(dist, win, "valid")
            s1 = np.maximum(correlate2d(ref * ref, win, "valid") - mu1**2, 0)
            s2 = np.maximum(correlate2d(dist * dist, win, "valid") - mu2**2, 0)
            s12 = correlate2d(ref * dist, win, "valid") - mu1 * mu2
            g = s12 / (s1 + 1e-10)
            sv = s2 - g * s12
            g[s1 < 1e-10], sv[s1 < 1e-10] = 0, s2[s1 < 1e-10]
            s1[s1 < 1e-10] = 0
            g[s2 < 1e-10], sv[s2 < 1e-10] = 0, 0
            sv[g < 0] = s2[g < 0]
            g[g < 0] = 0
            sv[sv <= 1e-10] = 1e-10
            noise = 0.005 * 255**2
            res.append((np.log10(1 + g**2 * s1 / (sv + noise)), np.log10(1 + s1 / noise), g))
        return res

    total = 0.0
    for (za, ma, ga), (zb, mb, gb), p in zip(scales(a, f), scales(b, f), [1, 0, 0.15, 1]):
        pick_a = ga < gb
        vid = np.where(pick_a, za, zb) + 1e-7
        vind = np.where(pick_a, ma, mb) + 1e-7
        total += p / 2.15 * vid.sum() / vind.sum()
    return total


def test_viff_matches_step_by_step_reference(triple):
    a, b, f = (x[60:200, 50:190] for x in triple)
    f = _noisy(f, 5)
    assert viff(a, b, f) == pytest.approx(_viff_reference(a, b, f), rel=1e-10)
    small = (17, 9, 5, 3)  # the window reading of the authors' MATLAB code
    assert viff(a, b, f, small) == pytest.approx(_viff_reference(a, b, f, small), rel=1e-10)


def test_vifp_matches_sewar(triple):
    # sewar's vifp is a transcription of Sheikh & Bovik's vifp_mscale (its UQI is not usable).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # sewar imports scipy.ndimage.filters
        sewar_vifp = pytest.importorskip("sewar.full_ref").vifp
    a, b, f = triple
    for src in (a, b):
        assert vifp(src, f) == pytest.approx(sewar_vifp(src, f), rel=1e-12)


def test_vif_rejects_too_small_images():
    x = np.zeros((64, 64))
    with pytest.raises(ValueError, match="at least 81"):
        viff(x, x, x)


# --- Qcb --------------------------------------------------------------------------------------

def _qcb_reference(a, b, f):
    """Chen–Blum as the reference code reads: centred frequency grid, 2-D 'same' Gaussians."""
    def norm(x):
        return np.rint((x - x.min()) / (x.max() - x.min()) * 255)

    rows, cols = a.shape
    u, v = np.meshgrid((np.arange(cols) - cols // 2) * 2 / cols * cols / 30,
                       (np.arange(rows) - rows // 2) * 2 / rows * rows / 30)
    r = np.sqrt(u**2 + v**2)
    sd = np.exp(-((r / 15.3870) ** 2)) - 0.7622 * np.exp(-((r / 1.3456) ** 2))
    x = np.arange(-15, 16)
    g2, g4 = (np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * s * s)) / (2 * np.pi * s * s)
              for s in (2.0, 4.0))
    resp = []
    for img in (a, b, f):
        filt = np.fft.ifft2(np.fft.ifftshift(np.fft.fftshift(np.fft.fft2(norm(img))) * sd)).real
        c = np.abs(correlate2d(filt, g2, "same") / correlate2d(filt, g4, "same") - 1)
        resp.append(c**3 / (c**2 + 1e-4))
    ca, cb, cf = resp
    qa = np.where(ca < cf, ca / cf, cf / ca)
    qb = np.where(cb < cf, cb / cf, cf / cb)
    lam = ca**2 / (ca**2 + cb**2)
    return float(np.mean(lam * qa + (1 - lam) * qb))


@pytest.mark.parametrize("shape", [(96, 96), (75, 88)])
def test_qcb_matches_reference_reading(triple, shape):
    a, b, f = (x[70:70 + shape[0], 60:60 + shape[1]] for x in triple)
    f = _noisy(f, 4)
    assert qcb(a, b, f) == pytest.approx(_qcb_reference(a, b, f), rel=1e-9)


def test_qcb_one_for_identical_bounded_and_lowered(triple):
    a, b, f = triple
    assert qcb(a, a, a) == pytest.approx(1.0, abs=1e-12)
    base = qcb(a, b, f)
    assert 0.0 < base < 1.0
    assert qcb(a, b, _noisy(f, 10)) < base
    assert qcb(a, b, _blurred(f, 2.0)) < base
    assert qcb(a, a, _blurred(a, 1.5)) < 0.95
    with pytest.raises(ValueError, match="Qcb: 3 \\(H, W\\) images of one shape needed"):
        qcb(a, b, f[:-1])
    with pytest.raises(ValueError, match="Qcb: 3 \\(H, W\\) images of one shape needed"):
        qcb(*(np.stack([x, x, x], axis=-1) for x in (a, b, f)))


def test_qcb_is_invariant_to_contrast_stretch(triple):
    # Min-max normalisation to 0..255 comes first: a linear stretch of F changes nothing.
    a, b, f = triple
    stretched = np.rint(f * 0.5)
    assert qcb(a, b, stretched) == pytest.approx(qcb(a, b, np.rint(stretched / stretched.max()
                                                                  * 255)), abs=1e-12)


# --- Qabf -------------------------------------------------------------------------------------

def test_qabf_identical_images_hand_computed(triple):
    a = triple[0]
    # Strength ratio 1 and equal orientation everywhere: Q = Γg/(1+e^{-15·0.5})·Γα/(1+e^{-22·0.2}).
    expected = 0.9994 / (1 + math.exp(-7.5)) * 0.9879 / (1 + math.exp(-4.4))
    assert qabf(a, a, a) == pytest.approx(expected, abs=1e-12)


def test_qabf_bounded_and_lowered(triple):
    a, b, f = triple
    base = qabf(a, b, f)
    assert 0.0 <= base <= 1.0
    assert 0.0 <= qabf(a, b, _noisy(f, 30)) < base
    assert qabf(a, b, _blurred(f, 2.0)) < base
    flat = np.zeros_like(a)
    assert qabf(a, b, flat) < 1e-3  # sigmoid floor: Γg / (1 + e^{7.5})


def _qabf_reference(a, b, f):
    """The widely used Qabf reference code: conv2(x, h, 'same') with its kernels h1 (rows) and
    h3 (columns), α = atan(Sy / Sx) with π/2 where Sx = 0, per-pixel ratios; except that equal
    non-zero strengths give the ratio 1 (the paper's), not the strength (the code's quirk)."""
    h1 = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], float)
    h3 = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)

    def grad(x):
        sx, sy = convolve2d(x, h3, mode="same"), convolve2d(x, h1, mode="same")
        alpha = np.full(x.shape, np.pi / 2)
        alpha[sx != 0] = np.arctan(sy[sx != 0] / sx[sx != 0])
        return np.sqrt(sx ** 2 + sy ** 2), alpha

    def preservation(gx, ax, gf, af):
        ratio = np.zeros_like(gx)
        both = (gx != 0) & (gf != 0)
        ratio[both] = np.minimum(gx, gf)[both] / np.maximum(gx, gf)[both]
        q_g = 0.9994 / (1 + np.exp(-15 * (ratio - 0.5)))
        q_a = 0.9879 / (1 + np.exp(-22 * (1 - np.abs(ax - af) / (np.pi / 2) - 0.8)))
        return q_g * q_a

    (ga, aa), (gb, ab), (gf, af) = grad(a), grad(b), grad(f)
    return ((preservation(ga, aa, gf, af) * ga + preservation(gb, ab, gf, af) * gb).sum()
            / (ga + gb).sum())


def test_qabf_matches_reference_reading(triple):
    assert qabf(*triple) == pytest.approx(_qabf_reference(*triple), abs=1e-12)
    # Horizontal stripes (Sx = 0, α = π/2) against a diagonal ramp: the reference's kernels give
    # the ramp α = −π/4, so its orientation agreement is 1 − (3π/4)/(π/2), not 1 − (π/4)/(π/2).
    i, j = np.mgrid[:16, :16].astype(float)
    stripes, ramp = i * 8, (i + j) * 4
    assert qabf(stripes, stripes, ramp) == pytest.approx(
        _qabf_reference(stripes, stripes, ramp), abs=1e-12)


# --- EN, SD, SF, AG -------------------------------------------------------------------------

def test_entropy_hand_computed():
    assert entropy(np.array([[0, 255], [0, 255]], np.uint8)) == pytest.approx(1.0)
    assert entropy(np.array([[0, 1], [2, 3]], np.uint8)) == pytest.approx(2.0)
    assert entropy(np.full((5, 5), 7, np.uint8)) == 0.0
    # p = (1/2, 1/4, 1/4): 1.5 bits
    assert entropy(np.array([[9, 9, 4, 200]], np.uint8)) == pytest.approx(1.5)


def test_sd_sf_ag_hand_computed():
    assert standard_deviation(np.array([[0.0, 2.0], [0.0, 2.0]])) == pytest.approx(1.0)
    assert spatial_frequency(np.array([[0.0, 2, 4], [0, 2, 4]])) == pytest.approx(2.0)
    # row diffs 2, 0 → RF² = 2; column diffs 1, -1 → CF² = 1
    assert spatial_frequency(np.array([[1.0, 3], [2, 2]])) == pytest.approx(math.sqrt(3))
    assert average_gradient(np.array([[0.0, 3], [4, 0]])) == pytest.approx(math.sqrt(12.5))
    # ramp of slope 1 in x only: every gradient is sqrt(1/2)
    ramp = np.tile(np.arange(6.0), (5, 1))
    assert average_gradient(ramp) == pytest.approx(math.sqrt(0.5))


# --- compute_metrics ------------------------------------------------------------------------

def test_compute_metrics_keys_and_colour_inputs(sample):
    pair = harvard_pairs(sample, "SPECT-MRI")[0]
    mri, spect = read_image(pair.a), read_image(pair.b)
    assert spect.ndim == 3
    fused = (mri[..., None] + spect) / 2  # a colour "fused" image
    out = compute_metrics(mri, spect, fused)
    assert list(out) == list(METRIC_NAMES + EXTRA_NAMES)
    assert all(math.isfinite(v) for v in out.values())
    a, b, f = (luma8(x).astype(np.float64) for x in (mri, spect, fused))
    assert out["UQI"] == fusion_uqi(a, b, f)
    assert out["MI"] == fusion_mi(a.astype(np.uint8), b.astype(np.uint8), f.astype(np.uint8))
    short = compute_metrics(mri, spect, fused, extras=False, reduction="sum")
    assert list(short) == list(METRIC_NAMES)
    assert short["UQI"] == pytest.approx(2 * out["UQI"])
    assert short["SSIM"] == pytest.approx(2 * out["SSIM"])
    assert short["MI"] == out["MI"] and short["VIF"] == out["VIF"] and short["Qcb"] == out["Qcb"]


def test_compute_metrics_size_mismatch():
    with pytest.raises(ValueError, match="differ in size"):
        compute_metrics(np.zeros((90, 90)), np.zeros((90, 90)), np.zeros((90, 91)))


def test_compute_metrics_reads_every_type_alike_and_names_a_wrong_range(sample):
    pair = harvard_pairs(sample, "CT-MRI")[0]
    mri, ct = read_image(pair.a), read_image(pair.b)
    fused8 = luma8((mri + ct) / 2)
    expected = compute_metrics(mri, ct, fused8)
    # 16-bit arrays (either byte order) and floats in [0, 1] score as the 8-bit image they are.
    fused16 = fused8.astype(np.uint16) * 257
    assert compute_metrics(mri, ct, fused16.astype(">u2")) == expected
    assert compute_metrics(mri, ct, fused8 / 255) == expected
    # The same image held as floats on 0..255 would be clipped to white: refused, naming F.
    with pytest.raises(InputError, match=r"^F: float values from 0 to \d+; .*divide by 255"):
        compute_metrics(mri, ct, fused8.astype(np.float64))
    with pytest.raises(InputError, match=r"^A: NaN"):
        compute_metrics(np.where(mri > 0.5, np.nan, mri), ct, fused8)
    # Other layouts of the same image, and float rounding just above 1, score alike.
    assert compute_metrics(mri, ct, fused8[..., None]) == expected
    rgba = np.dstack([fused8, fused8, fused8, np.full_like(fused8, 255)])
    assert compute_metrics(mri, ct, rgba) == expected
    assert compute_metrics(np.minimum(mri * 1.0004, 1.0004), ct, fused8)["SSIM"] == pytest.approx(
        compute_metrics(mri, ct, fused8)["SSIM"], abs=1e-3)


# --- Degenerate inputs, compute_metrics against direct calls, AG by brute force ---------------

def test_qcb_conventions_for_images_without_contrast(triple):
    """The docstring's limits where the reference divides 0 by 0, read from Chen & Blum's
    definition: a blank F (zero, or constant: min-max maps it to 0) has no contrast response,
    so it preserves none of a real pair's contrast (Q_XF = 0 wherever C'_X > 0): Qcb = 0.
    Three blank images preserve everything (Q = 1 for equal zero responses, λ = ½): Qcb = 1.
    F equal to the one source with contrast, the other blank: λ gives that source all the
    weight where it responds, and both are preserved where neither does: Qcb = 1."""
    a, b, _ = triple
    zeros = np.zeros_like(a)
    assert qcb(a, b, zeros) == 0.0
    assert qcb(a, b, np.full_like(a, 77.0)) == 0.0
    assert qcb(zeros, zeros, zeros) == 1.0
    assert qcb(np.full_like(a, 5.0), np.full_like(a, 5.0), np.full_like(a, 5.0)) == 1.0
    assert qcb(a, zeros, a) == pytest.approx(1.0, abs=1e-12)
    assert qcb(zeros, b, b) == pytest.approx(1.0, abs=1e-12)


def test_compute_metrics_equals_each_metric_called_directly(triple):
    """Every key scores the right images: F against the sources for the two-source metrics,
    F alone for EN, SD, SF and AG (a crop, F ≠ A, B)."""
    a, b, f = (x[60:188, 50:178] for x in triple)
    f = _noisy(f, 6)
    assert not np.array_equal(f, a) and not np.array_equal(f, b)
    a8, b8, f8 = (x.astype(np.uint8) for x in (a, b, f))
    expected = {
        "VIF": viff(a, b, f),
        "MI": mutual_information(a8, f8) + mutual_information(b8, f8),
        "UQI": (uqi_index(a, f) + uqi_index(b, f)) / 2,
        "SSIM": (ssim_index(a, f) + ssim_index(b, f)) / 2,
        "PSNR": psnr(a, b, f),
        "Qcb": qcb(a, b, f),
        "EN": entropy(f8),
        "SD": standard_deviation(f),
        "SF": spatial_frequency(f),
        "AG": average_gradient(f),
        "Qabf": qabf(a, b, f),
    }
    got = compute_metrics(a8, b8, f8)
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    # Those of F alone differ from the same statistic of A on this crop.
    for key, fn in (("EN", entropy), ("SD", standard_deviation), ("SF", spatial_frequency),
                    ("AG", average_gradient)):
        assert got[key] != pytest.approx(fn(a8 if key == "EN" else a), rel=1e-3), key


def test_compute_metrics_pixel_vif_sums_the_sources_by_default(triple):
    a, b, f = (x[60:188, 50:178] for x in triple)
    got = compute_metrics(*(x.astype(np.uint8) for x in (a, b, f)), vif_flavour="vifp",
                          extras=False)
    assert got["VIF"] == pytest.approx(vifp(a, f) + vifp(b, f), rel=1e-12)


def test_average_gradient_matches_brute_force():
    """AG by its definition: at every pixel (i, j) with a right and a lower neighbour, the
    forward differences f[i, j+1] − f[i, j] and f[i+1, j] − f[i, j]; sqrt of half their squared
    sum, averaged over the (H−1)(W−1) such pixels. A random, non-symmetric image."""
    f = np.random.default_rng(11).integers(0, 256, (7, 9)).astype(np.float64)
    total = 0.0
    for i in range(6):
        for j in range(8):
            dx, dy = f[i, j + 1] - f[i, j], f[i + 1, j] - f[i, j]
            total += math.sqrt((dx * dx + dy * dy) / 2)
    assert average_gradient(f) == pytest.approx(total / 48, rel=1e-12)


def test_every_public_metric_name_resolves() -> None:
    import lwnet.metrics

    for name in lwnet.metrics.__all__:
        assert getattr(lwnet.metrics, name) is not None
        assert name in dir(lwnet.metrics)
    with pytest.raises(AttributeError, match="no attribute 'vif_index'"):
        lwnet.metrics.vif_index  # noqa: B018


def test_the_metric_functions_refuse_what_would_score_wrong():
    """Each takes (H, W) grey levels on 0..255; a [0, 1] image gave plausible numbers (SSIM
    near 1, PSNR 48 dB too high) and fractional levels broke UQI's exact window sums."""
    from lwnet.metrics import (
        average_gradient,
        psnr,
        spatial_frequency,
        ssim_index,
        standard_deviation,
        uqi_index,
        viff,
    )

    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (96, 96)).astype(np.float64)
    unit = a / 255
    calls = {"SSIM": lambda x: ssim_index(x, x), "PSNR": lambda x: psnr(x, x, x),
             "VIF": lambda x: viff(x, x, x), "UQI": lambda x: uqi_index(x, x),
             "SD": standard_deviation, "SF": spatial_frequency, "AG": average_gradient}
    for name, call in calls.items():
        call(a)  # whole levels on 0..255: fine
        with pytest.raises(ValueError, match=f"^{name}: values within \\[0, 1\\] with fractions"):
            call(unit)
        for bad, said in [(a * 2, "grey levels run from 0 to 510; expected 0..255"),
                          (np.where(a > 250, np.nan, a), "the image holds NaN or infinite"),
                          (np.stack([a, a, a], -1), "expected an \\(H, W\\) grey image")]:
            with pytest.raises(ValueError, match=f"^{name}: {said}"):
                call(bad)
    # Fractional levels broke UQI's exact window sums (a flat 25.5 window beside one pixel at
    # 51 scored 1.5): refused, and whole levels stay within [-1, 1].
    with pytest.raises(ValueError, match="^UQI: needs whole grey levels"):
        uqi_index(a, np.clip(a + 0.5, 0, 255))
    x = np.full((16, 16), 26.0)
    y = x.copy()
    y[3, 3] = 51.0
    assert -1 <= uqi_map(x, y).min() and uqi_map(x, y).max() <= 1
