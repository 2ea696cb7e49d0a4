"""LWNet network: blocks, shapes, budget, ablations and the background rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lwnet.data import harvard_pairs, read_image, split_luma
from lwnet.model import (
    ACA,
    MCA,
    LWNet,
    aca_kernel_size,
    background_gate,
    count_macs,
    count_parameters,
    cross_channel_attention,
    profile_model,
)


@pytest.mark.parametrize(
    ("channels", "expected"),
    # log2(C)/2 + 1/2: 1→0.5, 2→1.0, 4→1.5, 8→2.0 (tie → 3), 12→2.29, 16→2.5,
    # 32→3.0, 64→3.5, 128→4.0 (tie → 5), 256→4.5.
    [(1, 1), (2, 1), (4, 1), (8, 3), (12, 3), (16, 3), (32, 3), (64, 3), (128, 5), (256, 5)],
)
def test_aca_kernel_size_rule(channels: int, expected: int) -> None:
    assert aca_kernel_size(channels) == expected


def test_aca_kernel_size_matches_eca_reference_rule() -> None:
    # ECA-Net: t = int(|(log2(C) + b) / γ|); k = t if t odd else t + 1.
    for c in range(1, 2049):
        t = int(abs((np.log2(c) + 1) / 2))
        assert aca_kernel_size(c) == (t if t % 2 else t + 1), c


def test_aca_rescales_channels_by_sigmoid_weights() -> None:
    torch.manual_seed(0)
    aca = ACA(16)
    x = torch.rand(2, 16, 9, 7)
    pooled = x.mean(dim=(2, 3))
    k = aca.conv.weight.view(-1)
    # Hand-written 1-D correlation across channels with zero padding.
    padded = F.pad(pooled, (1, 1))
    logits = torch.stack([(padded[:, i : i + 3] * k).sum(1) for i in range(16)], dim=1)
    expected = x * torch.sigmoid(logits)[..., None, None]
    torch.testing.assert_close(aca(x), expected)


def test_cross_channel_attention_by_hand() -> None:
    torch.manual_seed(1)
    fa, fb = torch.randn(2, 4, 30), torch.randn(2, 4, 30)  # (N, C, P) here, (N, P, 2C) below
    attn_ab, attn_ba = cross_channel_attention(
        torch.cat([fa, fb], dim=1).transpose(1, 2), torch.tensor(2.0), torch.tensor(0.5)
    )
    for n in range(2):
        for i in range(4):
            for j in range(4):
                cos = torch.dot(fa[n, i], fb[n, j]) / (fa[n, i].norm() * fb[n, j].norm())
                num_ab = torch.exp(2.0 * cos)
                den_ab = sum(
                    torch.exp(2.0 * torch.dot(fa[n, i], fb[n, m])
                              / (fa[n, i].norm() * fb[n, m].norm()))
                    for m in range(4)
                )
                torch.testing.assert_close(attn_ab[n, i, j], num_ab / den_ab)
    torch.testing.assert_close(attn_ba.sum(-1), torch.ones(2, 4))


def test_mca_equals_literal_order_of_operations() -> None:
    """The folded implementation equals attention → concat → 1×1 conv → residual."""
    torch.manual_seed(2)
    c = 6
    mca = MCA(c)
    with torch.no_grad():
        mca.temperature.uniform_(0.5, 3.0)
    fa, fb = torch.rand(2, c, 13, 11), torch.rand(2, c, 13, 11)
    x = torch.cat([fa, fb], 1)
    outs = []
    for i, dw in enumerate(mca.depthwise):
        d = dw(x)
        va, vb = d[:, :c].flatten(2), d[:, c:].flatten(2)
        qa, qb = F.normalize(va, dim=-1), F.normalize(vb, dim=-1)
        attn_ab = torch.softmax(mca.temperature[i, 0] * qa @ qb.transpose(1, 2), -1)
        attn_ba = torch.softmax(mca.temperature[i, 1] * qb @ qa.transpose(1, 2), -1)
        outs += [(attn_ab @ vb).view_as(fa), (attn_ba @ va).view_as(fa)]
    expected = x + mca.mix(torch.cat(outs, 1))
    torch.testing.assert_close(mca(fa, fb), expected, atol=1e-5, rtol=1e-5)


def test_mca_in_place_accumulation_gives_the_same_bits() -> None:
    """Inference mode sums the scales into one buffer; grad mode, out of place: same bits."""
    torch.manual_seed(4)
    mca = MCA(8).to(memory_format=torch.channels_last)
    fa, fb = (t.contiguous(memory_format=torch.channels_last) for t in torch.rand(2, 2, 8, 37, 29))
    with torch.no_grad():
        out_of_place = mca(fa, fb)
    with torch.inference_mode():
        in_place = mca(fa, fb)
    assert torch.equal(in_place, out_of_place)
    with torch.inference_mode():  # and the residual input is left as it was
        x = torch.cat([fa, fb], 1)
        mca(fa, fb)
        assert torch.equal(torch.cat([fa, fb], 1), x)


@pytest.mark.parametrize("size", [(256, 256), (255, 301), (17, 19), (16, 64)])
def test_any_size(size: tuple[int, int]) -> None:
    model = LWNet().eval()
    a, b = torch.rand(2, 2, 1, *size)
    with torch.inference_mode():
        f = model(a, b)
    assert f.shape == (2, 1, *size)
    assert f.min() >= 0 and f.max() <= 1


def test_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="equal shape"):
        LWNet()(torch.rand(1, 1, 20, 20), torch.rand(1, 1, 20, 21))


def test_default_model_within_budget() -> None:
    model = LWNet()
    assert count_parameters(model) <= 13_000
    assert count_macs(model, (256, 256)) <= 1_000_000_000


def test_parameter_count_by_hand() -> None:
    c = 12
    k = aca_kernel_size(c)
    encoder = (9 * c + c) + (9 * c * c + c) + k
    mca = 2 * c * (9 + 25 + 49) + 2 * c * 3 + 6 + (6 * c * 2 * c + 2 * c)
    decoder = (9 * 2 * c * c + c) + k + (9 * c * (c // 2) + c // 2) + (c // 2 + 1)
    assert count_parameters(LWNet(width=c)) == 2 * encoder + mca + decoder


def test_macs_count_the_attention_matmuls() -> None:
    c, h, w = 12, 64, 64
    with_mca = count_macs(LWNet(width=c), (h, w))
    without = count_macs(LWNet(width=c, use_mca=False), (h, w))
    convs = h * w * (2 * c * (9 + 25 + 49) + 6 * c * 2 * c)  # depthwise + 1×1 mix
    logits = 3 * (2 * c) ** 2 * h * w  # one 2C×2C Gram per scale: the C×C product and norms
    tiny = 3 * 2 * (2 * c * c * c)  # folding the maps into the mix weights
    assert with_mca - without == convs + logits + tiny


@pytest.mark.parametrize("kwargs", [{"use_aca": False}, {"use_mca": False},
                                    {"use_aca": False, "use_mca": False}, {"aca_max_pool": True},
                                    {"width": 8, "scales": (3, 5)}])
def test_ablations_build_and_run(kwargs: dict) -> None:
    model = LWNet(**kwargs).eval()
    rebuilt = LWNet(**model.config)
    assert rebuilt.config == model.config
    with torch.inference_mode():
        assert model(torch.rand(1, 1, 20, 24), torch.rand(1, 1, 20, 24)).shape == (1, 1, 20, 24)
    if not kwargs.get("use_aca", True):
        assert not any(isinstance(m, ACA) for m in model.modules())
    if not kwargs.get("use_mca", True):
        assert model.mca is None


def test_background_gate_zeroes_only_common_background() -> None:
    a = torch.tensor([[[[0.0, 0.0, 0.5 / 255, 0.1]]]])
    b = torch.tensor([[[[0.0, 1.0 / 255, 0.0, 0.0]]]])
    f = torch.full_like(a, 0.3)
    assert background_gate(f, a, b).flatten().tolist() == pytest.approx([0.0, 0.3, 0.0, 0.3])


def test_background_is_exactly_zero_on_the_sample(sample) -> None:
    torch.manual_seed(3)
    model = LWNet().eval()
    for pair_type in ("SPECT-MRI", "PET-MRI", "CT-MRI"):
        pair = harvard_pairs(sample, pair_type)[0]
        a, _ = split_luma(read_image(pair.a))
        b, _ = split_luma(read_image(pair.b))
        with torch.inference_mode():
            f = model(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None])[0, 0]
        f8 = np.rint(f.numpy() * 255)
        background = (np.rint(a * 255) == 0) & (np.rint(b * 255) == 0)
        assert background.mean() > 0.3  # the sample slices do have a background
        assert (f8[background] == 0).all()
        assert (f8[~background] > 0).mean() > 0.9  # the gate does not blank the body
        ungated = LWNet(**{**model.config, "background_threshold": None}).eval()
        ungated.load_state_dict(model.state_dict())
        with torch.inference_mode():
            raw = ungated(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None])
        assert (np.rint(raw[0, 0].numpy() * 255)[background] > 0).any()  # the gate is needed


def test_gradients_flow_to_every_parameter() -> None:
    torch.manual_seed(4)
    model = LWNet()
    a, b = torch.rand(2, 1, 1, 24, 24)
    model(a, b).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_profile_model_reports_all_figures() -> None:
    report = profile_model(LWNet(width=8), size=(32, 32), batch=2, threads=1, warmup=1, repeats=3)
    assert report["params"] == count_parameters(LWNet(width=8))
    assert report["macs_per_pair"] == count_macs(LWNet(width=8), (32, 32))
    assert report["latency_ms"] > 0
    assert report["pairs_per_s"] == pytest.approx(2000 / report["latency_ms"])


def test_memory_format_does_not_change_the_result() -> None:
    torch.manual_seed(5)
    model = LWNet().eval()
    nchw = LWNet().eval()
    with torch.no_grad():
        for p, q in zip(nchw.parameters(), model.parameters()):
            p.data = q.detach().contiguous().clone()
    a, b = torch.rand(2, 2, 1, 33, 40)
    with torch.inference_mode():
        f = model(a, b)
        assert f.is_contiguous()
        torch.testing.assert_close(nchw(a, b), f, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(model(a.contiguous(memory_format=torch.channels_last),
                                         b.contiguous(memory_format=torch.channels_last)), f)


def test_zero_channel_keeps_gradients_finite() -> None:
    mca = MCA(4)
    fa = torch.zeros(1, 4, 8, 8, requires_grad=True)
    fb = torch.rand(1, 4, 8, 8, requires_grad=True)
    with torch.no_grad():
        for dw in mca.depthwise:
            dw.bias.zero_()
    mca(fa, fb).sum().backward()
    assert torch.isfinite(fa.grad).all() and torch.isfinite(fb.grad).all()


def test_macs_are_linear_in_the_number_of_pixels() -> None:
    """Global attention at linear cost: MACs = α·HW + β exactly (β: the C×C terms)."""
    model = LWNet()
    m1, m2, m4 = (count_macs(model, s) for s in [(32, 32), (32, 64), (64, 64)])
    assert m4 - m2 == 2 * (m2 - m1) > 0  # 1024 → 2048 → 4096 pixels
