"""SPI building blocks: patch grid, score, pools and screening rules, losses, config."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import structural_similarity

from lwnet.errors import ConfigError, InputError
from lwnet.training.config import PRESETS, TrainConfig, load_config, read_run_config
from lwnet.training.data import PatchSet
from lwnet.training.loss import spi_loss, unsupervised_loss
from lwnet.training.patches import extract, grid_positions, patch_index
from lwnet.training.pools import Pools, admit, best_candidate, refine, split_pools
from lwnet.training.score import ssim_sum

ROOT = Path(__file__).resolve().parents[1]


def test_grid_is_7x7_on_256_and_counts_match_spec() -> None:
    pos = grid_positions(256, 256)
    assert len(pos) == 49
    assert sorted(set(pos[:, 0])) == list(range(0, 121, 20))
    # 320 SPECT-MRI and 154 CT-MRI training pairs (SPEC §3).
    assert len(patch_index(320, pos)) == 15680
    assert len(patch_index(154, pos)) == 7546
    assert len(grid_positions(200, 130, size=120, stride=20)) == 5 * 1


def test_extract_cuts_the_right_windows() -> None:
    imgs = np.arange(2 * 256 * 256, dtype=np.int64).reshape(2, 256, 256)
    idx = patch_index(2, grid_positions(256, 256))
    p = extract(imgs, idx[[0, 50, 97]], 120)
    assert p.shape == (3, 120, 120)
    np.testing.assert_array_equal(p[1], imgs[1, 0:120, 20:140])
    np.testing.assert_array_equal(p[2], imgs[1, 120:240, 120:240])


def test_grid_rejects_patch_larger_than_image() -> None:
    with pytest.raises(ValueError):
        grid_positions(100, 256, size=120)


def _skimage_ssim(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """Mean SSIM over the valid region, as SPEC §3.2 / §5 define it."""
    _, full = structural_similarity(x, y, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=data_range,
                                    full=True)
    return float(full[5:-5, 5:-5].mean())


def test_score_equals_ssim_sum_of_the_metric(sample) -> None:
    from lwnet.data.colour import luma8
    from lwnet.data.io import read_image

    a8 = luma8(read_image(sample / "SPECT-MRI/MRI/9028.png"))[60:180, 70:190]
    b8 = luma8(read_image(sample / "SPECT-MRI/SPECT/9028.png"))[60:180, 70:190]
    f8 = np.maximum(a8, b8)
    t = [torch.from_numpy(x.astype(np.float32) / 255)[None, None] for x in (f8, a8, b8)]
    got = float(ssim_sum(*t)[0])
    # Independent reference: scikit-image on the 8-bit patch, data range 255.
    ref = (_skimage_ssim(f8.astype(np.float64), a8.astype(np.float64), 255)
           + _skimage_ssim(f8.astype(np.float64), b8.astype(np.float64), 255))
    assert got == pytest.approx(ref, abs=1e-4)
    from lwnet.metrics import compute_metrics

    # The metric's SSIM is the mean over the two sources: the score is twice it.
    assert got == pytest.approx(2 * compute_metrics(a8, b8, f8, extras=False)["SSIM"], abs=1e-4)


def test_composite_scores_add_the_weighted_fusion_metrics(sample) -> None:
    from lwnet.data.colour import luma8
    from lwnet.data.io import read_image
    from lwnet.metrics import qcb, viff
    from lwnet.training.score import get_score

    a8 = luma8(read_image(sample / "CT-MRI/MRI/16011.png"))[40:160, 60:180]
    b8 = luma8(read_image(sample / "CT-MRI/CT/16011.png"))[40:160, 60:180]
    fused = [np.maximum(a8, b8), ((a8.astype(np.uint16) + b8) // 2).astype(np.uint8)]
    t = lambda x: torch.from_numpy(x.astype(np.float32) / 255)[None, None]  # noqa: E731
    for f8 in fused:
        base = float(ssim_sum(t(f8), t(a8), t(b8))[0])
        vif, contrast = viff(a8, b8, f8), qcb(a8, b8, f8)
        got = float(get_score("ssim_vif_qcb", 0.5, 2.0)(t(f8), t(a8), t(b8))[0])
        assert got == pytest.approx(base + 0.5 * vif + 2.0 * contrast, abs=1e-9)
        assert float(get_score("ssim_vif", 0.5)(t(f8), t(a8), t(b8))[0]) == \
            pytest.approx(base + 0.5 * vif, abs=1e-9)
        # w_qcb = 0 reduces the three-term score to ssim_vif.
        assert float(get_score("ssim_vif_qcb", 0.5, 0.0)(t(f8), t(a8), t(b8))[0]) == \
            pytest.approx(base + 0.5 * vif, abs=1e-9)


def test_split_is_seeded_and_disjoint() -> None:
    l1, u1 = split_pools(100, 30, seed=3)
    l2, u2 = split_pools(100, 30, seed=3)
    np.testing.assert_array_equal(l1, l2)
    assert len(l1) == 30 and len(u1) == 70
    assert set(l1).isdisjoint(u1) and set(l1) | set(u1) == set(range(100))
    assert not np.array_equal(split_pools(100, 30, seed=4)[0], l1)


def test_screening_rules_on_hand_made_scores() -> None:
    idx, best = best_candidate(np.array([[1.0, 1.5, 0.2], [0.9, 0.3, 0.9]]))
    np.testing.assert_array_equal(idx, [1, 0])
    np.testing.assert_array_equal(best, [1.5, 0.9])
    # Prediction at least as good as every candidate → admitted; worse → not.
    np.testing.assert_array_equal(admit(np.array([1.5, 0.89, 1.2]), np.array([1.5, 0.9, 1.0]),
                                        tau=1.0), [True, False, True])
    np.testing.assert_array_equal(admit(np.array([1.2]), np.array([1.0]), tau=1.3), [False])
    np.testing.assert_array_equal(refine(np.array([1.0, 1.4, 1.3]), np.array([1.1, 1.3, 1.3])),
                                  [False, True, False])


def _tiny_patch_set(n: int = 6, size: int = 16) -> PatchSet:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    b = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    cands = np.stack([a, b])
    index = np.stack([np.arange(n), np.zeros(n, int), np.zeros(n, int)], axis=1)
    scores = np.stack([np.linspace(1.0, 1.5, n), np.full(n, 1.2)], axis=1)
    return PatchSet(a, b, cands, ["a", "b"], index, size, scores)


def test_pool_update_admits_refines_and_never_worsens() -> None:
    ps = _tiny_patch_set()
    pools = Pools(ps, labelled=np.array([0, 1]), unlabelled=np.array([2, 3, 4, 5]))
    np.testing.assert_array_equal(pools.choice, [1, 1])  # candidate b wins on patches 0, 1
    best_u = ps.cand_scores[[2, 3, 4, 5]].max(axis=1)  # 1.2, 1.3, 1.4, 1.5
    preds = np.stack([np.full((16, 16), v, np.uint8) for v in (10, 20, 30, 40)])
    adm, ref = pools.update(ps, preds, best_u + np.array([0.0, -0.01, 0.1, -0.5]), tau=1.0)
    assert (adm, ref) == (2, 0)
    np.testing.assert_array_equal(pools.P, [2, 4])
    np.testing.assert_array_equal(pools.U, [3, 5])
    # Best candidates of patches 0..5: 1.2, 1.2, 1.2, 1.3, 1.4, 1.5 (sum 7.8); patch 4's pseudo
    # label beats its best candidate by 0.1, patch 2's ties it.
    assert pools.pool_label_score(ps) == pytest.approx((7.9 / 6, 0.1 / 6))
    assert pools.mean_label_score() == pytest.approx((1.2 + 1.2 + 1.2 + 1.5) / 4)
    np.testing.assert_array_equal(pools.P_labels[:, 0, 0], [10, 30])
    old = pools.P_scores.copy()
    # Second round: U = [3, 5], P = [2, 4]; patch 2 improves, patch 4 gets worse.
    preds = np.stack([np.full((16, 16), v, np.uint8) for v in (1, 2, 3, 4)])
    adm, ref = pools.update(ps, preds, np.array([0.0, 0.0, old[0] + 0.2, old[1] - 0.2]), 1.0)
    assert (adm, ref) == (0, 1)
    np.testing.assert_array_equal(pools.P_labels[:, 0, 0], [3, 30])
    assert np.all(pools.P_scores >= old)


def test_screening_predictions_round_like_a_saved_png() -> None:
    """A pseudo label is the prediction as it would be saved in 8 bits (SPEC §1): a network
    output of (k + 0.6)/255 becomes grey level k + 1 and (k + 0.4)/255 becomes k, not the
    truncated k in both cases."""
    from lwnet.training.screening import predict

    levels = np.arange(16 * 16).reshape(16, 16) % 255  # k = 0 … 254
    up, down = (torch.from_numpy((levels + d) / 255).float() for d in (0.6, 0.4))

    class Stub(torch.nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return torch.stack([up, down])[torch.arange(len(a)) % 2][:, None]

    got = predict(Stub(), _tiny_patch_set(), np.array([0, 1]), torch.device("cpu"))
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got[0], levels + 1)
    np.testing.assert_array_equal(got[1], levels)


def test_losses_vanish_at_the_target_and_have_gradients() -> None:
    y = torch.rand(2, 1, 24, 24)
    assert float(spi_loss(y, y)) == pytest.approx(0.0, abs=1e-6)
    f = torch.rand(2, 1, 24, 24, requires_grad=True)
    loss = spi_loss(f, y, alpha=1.1, beta=1.0)
    loss.backward()
    assert float(loss.detach()) > 0 and f.grad.abs().sum() > 0
    a = torch.zeros(1, 1, 24, 24)
    a[..., 6:18, 6:18] = 0.8
    # The unsupervised loss prefers the pixel maximum of identical sources to a blank image.
    assert float(unsupervised_loss(a, a, a)) < float(unsupervised_loss(torch.zeros_like(a), a, a))


def _valid_ssim(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Per-image SSIM of ``(N, 1, H, W)`` batches on [0, 1] by scikit-image: Gaussian σ = 1.5,
    K = (0.01, 0.03), population moments, mean over the valid region (as lwnet.metrics.ssim)."""
    return np.array([_skimage_ssim(xi[0].numpy(), yi[0].numpy(), 1.0) for xi, yi in zip(x, y)])


def test_spi_loss_is_alpha_ssim_term_plus_beta_l1() -> None:
    """loss = α·(1 − SSIM(f, y)) + β·mean|f − y| (SPEC §3.5), SSIM averaged over the batch; with
    α ≠ β and f ≠ y a swapped weight or a squared error shows. Defaults α = 1.10, β = 1.00."""
    rng = np.random.default_rng(7)
    y = rng.random((2, 1, 32, 40))
    f = np.clip(y + rng.normal(0, 0.2, y.shape), 0, 1)
    ft, yt = torch.from_numpy(f), torch.from_numpy(y)
    ssim_term = float(np.mean(1 - _valid_ssim(ft, yt)))
    l1 = float(np.abs(f - y).mean())
    assert 0.05 < l1 < 0.5 and 0.1 < ssim_term < 1  # both terms matter
    assert float(spi_loss(ft, yt, alpha=1.7, beta=0.3)) == pytest.approx(
        1.7 * ssim_term + 0.3 * l1, abs=1e-9)
    assert float(spi_loss(ft, yt)) == pytest.approx(1.10 * ssim_term + 1.00 * l1, abs=1e-9)


def test_unsupervised_loss_matches_its_formula() -> None:
    """(1 − SSIM(f, a)) + (1 − SSIM(f, b)) + mean|f − max(a, b)| + mean|∇f − max(∇a, ∇b)|
    (SPEC §3.7; ∇ = |Sobel_x| + |Sobel_y| / 8 with replicate borders, as loss.py documents),
    on sources that differ, so the element-wise maximum is not either source."""
    from scipy.ndimage import sobel

    rng = np.random.default_rng(8)
    a, b, f = (rng.random((2, 1, 24, 28)) for _ in range(3))
    a[:, :, :, :14] *= 0.3  # A darker on the left, B on the right
    b[:, :, :, 14:] *= 0.3

    def grad(x: np.ndarray) -> np.ndarray:  # image by image (sobel smooths every other axis)
        return np.stack([[(np.abs(sobel(c, axis=1, mode="nearest"))
                           + np.abs(sobel(c, axis=0, mode="nearest"))) / 8 for c in n]
                         for n in x])

    at, bt, ft = (torch.from_numpy(x) for x in (a, b, f))
    ssim_a, ssim_b = _valid_ssim(ft, at), _valid_ssim(ft, bt)
    expected = (float(np.mean((1 - ssim_a) + (1 - ssim_b)))
                + float(np.abs(f - np.maximum(a, b)).mean())
                + float(np.abs(grad(f) - np.maximum(grad(a), grad(b))).mean()))
    assert float(unsupervised_loss(ft, at, bt)) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("name", "preset", "sets"), [
    ("cpu", "cpu", ["score=ssim_vif"]), ("paper", "paper", ["workers=0"])])
def test_the_config_files_are_their_preset_and_the_overrides_the_readme_gives(
        name: str, preset: str, sets: list[str]) -> None:
    # An installed package has no configs/ folder; the README gives these instead.
    assert load_config(ROOT / "configs" / f"{name}.toml") == load_config(None, preset, sets)


def test_config_layers_and_validation(tmp_path) -> None:
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('pair_type = "CT-MRI"\nepochs = 3\n[model]\nwidth = 8\n')
    cfg = load_config(cfg_file, "cpu", ["iterations=5", "score=ssim_vif", "model.use_mca=false"])
    assert cfg.pair_type == "CT-MRI" and cfg.epochs == 3 and cfg.iterations == 5
    assert cfg.max_patches == PRESETS["cpu"]["max_patches"]
    assert cfg.model == {"width": 8, "use_mca": False} and cfg.score == "ssim_vif"
    assert TrainConfig(labelled=0.25).labelled_count(1000) == 250
    assert TrainConfig(labelled=300).labelled_count(1000) == 300
    assert TrainConfig(pair_type="CT-MRI").labelled_count(7546) == 4000
    for bad, key in [("epochs=0", "epochs"), ("lr=-1", "lr"), ("mode='gan'", "mode"),
                     ("labelled=1.5", "labelled"), ("bogus=1", "bogus"),
                     ("batch_size=2.5", "batch_size"), ("score='psnr'", "score"),
                     ("lr_schedule='step'", "lr_schedule"), ("lr_min=0.5", "lr_min"),
                     ("workers=-1", "workers"), ("compile='yes'", "compile"),
                     ("lr=0", "'lr': must be > 0"), ("patch_size=8", "'patch_size': must be ≥ 16"),
                     ("methods='gff'", "'methods': expected a list .* such as"),
                     ("methods=['gff','foo']", "'methods': unknown method 'foo'; known: mean,"),
                     ("methods=['all','gff']", "'methods': \"all\" stands alone"),
                     ("model=3", "'model': expected a table")]:
        with pytest.raises(ConfigError, match=key):
            load_config(None, None, [bad])
    # a weight or rate that the rest of the config leaves unused would train the same model
    for sets, said in [(["qcb_weight=2"], "--set qcb_weight: score ssim_sum has no Qcb term "
                         "(the scores ssim_vif_qcb do), so it would change nothing"),
                       (["score=ssim_vif", "qcb_weight=2"], "score ssim_vif has no Qcb term"),
                       (["vif_weight=0.5"], "the scores ssim_vif and ssim_vif_qcb do"),
                       (["lr_min=1e-5"], "the constant schedule keeps lr throughout")]:
        with pytest.raises(ConfigError, match=re.escape(said)):
            load_config(None, "cpu", sets)
    assert load_config(None, "cpu", ["score=ssim_vif_qcb", "qcb_weight=2"]).qcb_weight == 2
    assert load_config(None, None, ["lr_schedule=cosine", "lr_min=1e-5"]).lr_min == 1e-5
    assert load_config(ROOT / "configs" / "cpu.toml").qcb_weight == 1  # a file may list them
    with pytest.raises(ConfigError, match=r"overrides: a list of key=value items, e.g. \['lr"):
        load_config(None, None, "lr=0.01")
    with pytest.raises(ConfigError, match="would have no label candidates"):
        load_config(None, None, ["methods=[]", "external_root='none'"])
    assert load_config(None, None, ["methods=[]", "mode='unsupervised'",
                                    "external_root='none'"]).methods == []
    with pytest.raises(ConfigError, match=r"--preset paper, but .*cpu.toml is written for "
                                          r"preset 'cpu'; drop --preset"):
        load_config(ROOT / "configs" / "cpu.toml", "paper")
    assert load_config(ROOT / "configs" / "cpu.toml", "cpu").preset == "cpu"
    with pytest.raises(ConfigError, match="nowhere.toml: no such config file"):
        load_config(tmp_path / "nowhere.toml")
    (tmp_path / "broken.toml").write_text("epochs = \n")
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML \("):
        load_config(tmp_path / "broken.toml")
    cfg_file.write_text("epochs = 2\nunknown_key = 1\n")
    with pytest.raises(ConfigError, match="unknown_key"):
        load_config(cfg_file)
    # a misspelt key is answered with the nearest real one, a far-off one with the list
    with pytest.raises(ConfigError, match="did you mean 'samples_per_epoch'"):
        load_config(None, None, ["patches_per_epoch=10"])
    with pytest.raises(ConfigError, match=r"'model.widht': unknown \(did you mean 'width'\?\)"):
        load_config(None, None, ["model.widht=4"])
    with pytest.raises(ConfigError, match="the keys: alpha, batch_size"):
        load_config(None, None, ["bogus=1"])
    with pytest.raises(ConfigError, match="preset"):
        load_config(None, "gpu")
    with pytest.raises(ConfigError, match="--preset"):  # not silently dropped
        load_config(None, None, ["preset=cpu"])
    # "--set iterations 2" reaches here as two items (the CLI's --set takes several)
    with pytest.raises(ConfigError, match=r"expected key=value \(--set iterations=2\?\)"):
        load_config(None, None, ["iterations", "2"])
    from lwnet.cli import build_parser

    args = build_parser().parse_args(["train", "--set", "iterations=2", "epochs=1", "--set",
                                      "seed=3", "--run-dir", "r"])
    assert args.overrides == ["iterations=2", "epochs=1", "seed=3"]


def test_a_folder_that_is_not_a_run_is_named(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"config.json: no such file; not a run folder"):
        read_run_config(tmp_path)
    for text in ("{not json", '{"epochs": 2, "bogus": 1}'):
        (tmp_path / "config.json").write_text(text)
        with pytest.raises(ConfigError, match=r"config.json: not a run config \("):
            read_run_config(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(TrainConfig(epochs=3).to_dict()))
    assert read_run_config(tmp_path).epochs == 3


def test_optimizer_state_comes_back_laid_out_like_its_parameters(tmp_path) -> None:
    """A resumed Adam's moments have their parameters' strides (channels-last convolution
    weights): safetensors stores them contiguous, and fused CUDA Adam refuses mixed layouts."""
    from lwnet.model import LWNet
    from lwnet.training.checkpoint import (
        load_checkpoint,
        load_optimizer,
        optimizer_tensors,
        save_checkpoint,
    )

    model = LWNet(width=4)
    assert any(not p.is_contiguous() for p in model.parameters())  # the case that matters
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(2, 1, 32, 32)
    model(x, x).mean().backward()
    opt.step()
    tensors, groups = optimizer_tensors(opt)
    save_checkpoint(tmp_path / "c.safetensors", tensors, {"param_groups": groups})
    loaded, meta = load_checkpoint(tmp_path / "c.safetensors")
    again = torch.optim.Adam(model.parameters(), lr=1e-3)
    load_optimizer(again, loaded, meta["param_groups"])
    for param in model.parameters():
        for key in ("exp_avg", "exp_avg_sq"):
            moment = again.state[param][key]
            assert moment.stride() == param.stride()
            assert torch.equal(moment, opt.state[param][key])


def test_cli_reports_a_bad_config_key_in_one_line(tmp_path, capsys) -> None:
    from lwnet.cli import main

    assert main(["train", "--set", "epochs=-1", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "epochs" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()  # refused before any work


@pytest.mark.parametrize("pair_type, folder", [("SPECT-MRI", "SPECT"), ("CT-MRI", "CT")])
def test_shipped_weights_fuse_the_sample_and_carry_their_card(sample, pair_type, folder) -> None:
    from lwnet.data.colour import luma8, split_luma
    from lwnet.data.io import read_image
    from lwnet.inference import load_model, shipped_weights
    from lwnet.inference.api import network_method
    from lwnet.model.weights import read_weights

    path = shipped_weights(pair_type)
    card = read_weights(path)[1]["card"]
    for needed in ("preset cpu", "train split only", "Label sources (11)", "## SPI log",
                   "## Test metrics"):
        assert needed in card
    stem = next((sample / pair_type / "MRI").iterdir()).stem
    a = split_luma(read_image(sample / pair_type / "MRI" / f"{stem}.png"))[0]
    b = split_luma(read_image(sample / pair_type / folder / f"{stem}.png"))[0]
    f = luma8(network_method(load_model(path))(a, b))
    background = (luma8(a) == 0) & (luma8(b) == 0)
    assert background.mean() > 0.2 and np.all(f[background] == 0)
    # A real fusion: correlated with both sources, not a copy of either.
    for src in (a, b):
        r = np.corrcoef(f.ravel(), luma8(src).ravel())[0, 1]
        assert 0.3 < r < 0.999


def test_model_card_names_the_score_and_its_weights() -> None:
    from lwnet.training.card import model_card

    rows = [{"iteration": 1, "L": 10, "P": 2, "U": 8, "admitted": 2, "refined": 0,
             "mean_label_score": 2.5, "pool_label_score": 2.4, "label_gain": 0.01,
             "train_loss": 0.2, "val_ssim_sum": 1.3}]
    card = model_card(TrainConfig(score="ssim_vif_qcb", vif_weight=0.5, qcb_weight=2.0),
                      ["mean", "gff"], rows)
    assert "- Score: ssim_vif_qcb (w_vif = 0.5, w_qcb = 2); τ = 1.0." in card
    assert "| 1 | 10 | 2 | 8 | 2 | 0 | 2.5000 | 2.4000 | 0.0100 | 0.2000 | 1.3000 |" in card
    assert "- Score: ssim_sum; τ" in model_card(TrainConfig(), ["mean"], rows)


def test_cosine_schedule_matches_its_formula_and_constant_is_flat() -> None:
    from lwnet.training.schedule import learning_rate

    # SGDR eq. 5 by hand: lr_min + ½(lr − lr_min)(1 + cos(π·p)).
    assert learning_rate("cosine", 1e-3, 1e-5, 0.0) == pytest.approx(1e-3)
    assert learning_rate("cosine", 1e-3, 1e-5, 0.5) == pytest.approx((1e-3 + 1e-5) / 2)
    assert learning_rate("cosine", 1e-3, 0.0, 0.25) == pytest.approx(1e-3 * (1 + 2**-0.5) / 2)
    assert learning_rate("cosine", 1e-3, 1e-5, 1.0) == pytest.approx(1e-5)
    rates = [learning_rate("cosine", 1e-3, 0.0, p) for p in np.linspace(0, 1, 50)]
    assert all(x >= y for x, y in zip(rates, rates[1:]))
    assert {learning_rate("constant", 1e-3, 0.0, p) for p in (0.0, 0.3, 1.0)} == {1e-3}
    with pytest.raises(ValueError, match="schedule"):
        learning_rate("step", 1e-3, 0.0, 0.5)


def test_a_cache_write_removes_what_killed_writers_left(tmp_path) -> None:
    """A run killed while writing a cached array leaves its temp file; the next write into the
    cache folder removes it (its writer is gone), not a live writer's."""
    import os
    import subprocess

    from lwnet.training.candidates import save_array

    ended = subprocess.Popen(["true"])
    ended.wait()
    stale = tmp_path / f".mean-0.npy.{ended.pid}.k1ll3d.tmp"
    live = tmp_path / f".max-0.npy.{os.getpid()}.wr1t1ng.tmp"
    stale.write_bytes(b"half")
    live.write_bytes(b"half")
    save_array(tmp_path / "scores-0.npy", np.arange(3))
    assert not stale.exists() and live.exists()
    np.testing.assert_array_equal(np.load(tmp_path / "scores-0.npy"), np.arange(3))


def test_candidate_cache_follows_method_code_and_external_files(sample, tmp_path,
                                                                 monkeypatch) -> None:
    import shutil

    from lwnet.data.colour import luma8
    from lwnet.data.datasets import ImagePair
    from lwnet.data.io import read_image, write_image
    from lwnet.methods import ExternalMethod
    from lwnet.training import candidates as cand

    mri, spect = sample / "SPECT-MRI/MRI/9028.png", sample / "SPECT-MRI/SPECT/9028.png"
    pairs = [ImagePair("9028", mri, spect, "SPECT-MRI")]
    a8, b8 = cand.load_sources(pairs)
    cache = tmp_path / "cache"
    first = cand.builtin_candidates(pairs, a8, b8, "laplacian", cache)
    [path] = cache.glob("laplacian-*.npy")
    np.save(path, np.zeros_like(first))  # a cache hit returns the file, not a recomputation
    assert not cand.builtin_candidates(pairs, a8, b8, "laplacian", cache).any()
    # An edited method (a stale Laplacian cache once outlived the pyramid's border fix).
    monkeypatch.setattr(cand, "builtin_code_digest", lambda: "edited")
    np.testing.assert_array_equal(cand.builtin_candidates(pairs, a8, b8, "laplacian", cache),
                                  first)
    # ... replaces the stale array, and leaves the arrays of other pairs alone.
    [edited] = cache.glob("laplacian-*.npy")
    assert edited != path and edited.name.endswith("-edited.npy")
    other = [ImagePair("other", mri, spect, "SPECT-MRI")]
    cand.builtin_candidates(other, a8, b8, "laplacian", cache)
    assert len(list(cache.glob("laplacian-*.npy"))) == 2
    # The same ids with other pixels (another cohort in a shared cache) are other candidates.
    flipped = [np.ascontiguousarray(x[:, ::-1]) for x in (a8, b8)]
    np.testing.assert_array_equal(cand.builtin_candidates(pairs, *flipped, "laplacian", cache),
                                  cand.fused_luma("laplacian", flipped[0][0], flipped[1][0])[None])
    # External results: a replaced file gets new candidates.
    result = tmp_path / "ext/Net/SPECT-MRI/9028.png"
    result.parent.mkdir(parents=True)
    shutil.copy(spect, result)
    method = ExternalMethod(tmp_path / "ext/Net")

    def external() -> np.ndarray:
        return cand.external_candidates(pairs, method, cache, a8.shape[1:])

    np.testing.assert_array_equal(external()[0], b8[0])
    write_image(result, read_image(mri), overwrite=True)
    np.testing.assert_array_equal(external()[0],
                                  luma8(read_image(mri)))
    assert len(list(cache.glob("ext-Net-*.npy"))) == 1  # the replaced file's array is gone
    # Keyed by content: an edit of the same size and time stamp still gets new candidates.
    def write_stored(img8: np.ndarray) -> None:  # uncompressed: the size depends on the shape
        Image.fromarray(img8).save(result, compress_level=0)

    write_stored(b8[0])
    cand.external_candidates(pairs, method, cache, a8.shape[1:])
    stat = result.stat()
    write_stored(255 - b8[0])
    assert result.stat().st_size == stat.st_size
    os.utime(result, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    np.testing.assert_array_equal(external()[0], 255 - b8[0])
    # ... and the same files copied elsewhere with new time stamps reuse the cached array.
    [cached] = cache.glob("ext-Net-*.npy")
    np.save(cached, np.zeros_like(b8))  # a hit returns the file, not a re-read
    shutil.copytree(tmp_path / "ext", tmp_path / "moved")
    os.utime(tmp_path / "moved/Net/SPECT-MRI/9028.png", ns=(1, 1))
    assert not cand.external_candidates(pairs, ExternalMethod(tmp_path / "moved/Net"),
                                        cache, a8.shape[1:]).any()
    write_image(result, read_image(mri)[:-8], overwrite=True)  # a result of other images
    with pytest.raises(InputError, match=r"9028.png: 256x248, but its pair is 256x256"):
        cand.external_candidates(pairs, method, cache, a8.shape[1:])
    result.unlink()
    with pytest.raises(Exception, match="9028.png"):
        cand.external_candidates(pairs, method, cache, a8.shape[1:])
    # A folder of the pair type missing some results is named before any candidate is made.
    two = [*pairs, ImagePair("9029", mri, spect, "SPECT-MRI")]
    shutil.copy(spect, result)
    with pytest.raises(InputError, match=r"Net/SPECT-MRI: no result for 1 of the 2 training "
                                         r"pairs \(first: 9029\); complete it, move Net out"):
        cand.all_candidates(two, *(np.concatenate([x, x]) for x in (a8, b8)), ["mean"],
                            tmp_path / "ext", tmp_path / "empty-cache")
    assert not (tmp_path / "empty-cache").exists()
    with pytest.raises(InputError, match="no label candidates: 'methods' is empty and no folder "
                                         "under .*moved holds CT-MRI results"):
        cand.all_candidates([ImagePair("9028", mri, spect, "CT-MRI")], a8, b8, [],
                            tmp_path / "moved", cache)


def test_external_candidates_are_the_luma_the_metrics_see(tmp_path) -> None:
    """A colour result becomes the 8-bit luma of its RGB pixels, as every metric computes it; the
    float luminance rounded afterwards is a grey level off for some colours (these four)."""
    from lwnet.data import ImagePair, luma8, read_image, split_luma, write_image
    from lwnet.methods import ExternalMethod
    from lwnet.training import candidates as cand

    rgb = np.array([[[0, 0, 250], [0, 8, 86]], [[0, 14, 213], [0, 22, 49]]], np.uint8)
    result = tmp_path / "Net/SPECT-MRI/1.png"
    write_image(result, rgb)
    assert (luma8(split_luma(read_image(result))[0]) != luma8(rgb)).all()
    pairs = [ImagePair("1", tmp_path / "a.png", tmp_path / "b.png", "SPECT-MRI")]
    got = cand.external_candidates(pairs, ExternalMethod(tmp_path / "Net"), tmp_path / "cache",
                                   (2, 2))
    np.testing.assert_array_equal(got[0], luma8(rgb))


@pytest.mark.parametrize("seconds, text", [(0.4, "0 s"), (59.4, "59 s"), (59.6, "1 min"),
                                           (150, "2 min"), (3569, "59 min"), (3570, "1 h 00 min"),
                                           (7500, "2 h 05 min")])
def test_durations_read_as_people_say_them(seconds: float, text: str) -> None:
    from lwnet._text import duration

    assert duration(seconds) == text


def test_relative_paths_are_recorded_absolute(tmp_path, monkeypatch) -> None:
    """``--set data_root=mydata`` names the folder it meant in config.json and the card, and a
    resume from another working directory still finds it; words that are no path stay."""
    from lwnet.training import load_config

    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, None, ["data_root=mydata", "cache_dir=cache", "external_root=none",
                                   "init_weights=shipped"])
    assert (cfg.data_root, cfg.cache_dir) == (str(tmp_path / "mydata"), str(tmp_path / "cache"))
    assert (cfg.external_root, cfg.init_weights) == ("none", "shipped")
    assert load_config().data_root == ""  # the shared data, found when the run starts
    # A run that recorded a relative path (before paths were made absolute) resumes from here.
    import json

    from lwnet.training.config import check_resume_config

    (tmp_path / "run").mkdir()
    (tmp_path / "run/config.json").write_text(json.dumps({**cfg.to_dict(), "data_root": "mydata"}))
    check_resume_config(cfg, tmp_path / "run")


def test_a_patch_size_that_cannot_work_is_named_before_any_work() -> None:
    """Too small for the VIF score, or larger than the pairs: the key is named, not a ValueError
    from deep inside after the candidates were computed."""
    from lwnet.training import load_config
    from lwnet.training.data import patch_table

    with pytest.raises(ConfigError, match="'patch_size': score ssim_vif scores patches with VIFF, "
                                          "which needs at least 81×81, got 64"):
        load_config(None, None, ["score=ssim_vif", "patch_size=64"])
    assert load_config(None, None, ["score=ssim_sum", "patch_size=64"]).patch_size == 64
    with pytest.raises(ConfigError, match=r"'patch_size': 120×120 patches do not fit the 100×90 "
                                          r"training pairs; choose patch_size ≤ 90"):
        patch_table(load_config(), 2, (90, 100))


def test_print_config_shows_every_key_as_a_file_that_loads_back_equal(tmp_path, capsys,
                                                                     monkeypatch) -> None:
    from lwnet.cli import main

    monkeypatch.chdir(tmp_path)  # relative paths print absolute, against the working directory
    sets = ["pair_type=CT-MRI", "score=ssim_vif_qcb", "model.width=12", "lr=1e-5",
            "labelled=0.25", "methods=['gff', 'max']", "cache_dir=runs/cache"]
    argv = ["train", "--config", str(ROOT / "configs/cpu.toml"), "--set", *sets]
    assert main([*argv, "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert not (tmp_path / "runs").exists()  # nothing trained, nothing written
    (tmp_path / "shown.toml").write_text(printed)
    expected = load_config(ROOT / "configs/cpu.toml", None, sets)
    assert load_config(tmp_path / "shown.toml") == expected
    keys = {line.split(" = ")[0] for line in printed.splitlines() if " = " in line}
    assert keys == set(TrainConfig().to_dict()) - {"model"} | {"width"}
    assert f'cache_dir = "{tmp_path / "runs/cache"}"' in printed
    # what it needs, and what it refuses
    assert main(["train", "--preset", "cpu"]) == 2
    assert "--run-dir DIR is required; --print-config shows" in capsys.readouterr().err
    assert main(["train", "--print-config", "--resume"]) == 2
    assert "--run-dir DIR is required (the run to resume)" in capsys.readouterr().err
    assert main(["train", "--print-config", "--no-progress"]) == 2
    assert "--no-progress: --print-config trains nothing" in capsys.readouterr().err


def test_every_shipped_card_beside_its_weights_is_the_one_inside() -> None:
    """The .md is what people read, the metadata what travels with the file: one text."""
    from lwnet.inference import WEIGHTS_DIR, read_card

    files = sorted(WEIGHTS_DIR.glob("*.safetensors"))
    assert len(files) == 10
    for path in files:
        assert read_card(path) == path.with_suffix(".md").read_text(), path.name
