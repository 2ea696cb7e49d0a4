"""ONNX export: dynamic batch/height/width, parity with PyTorch within 1e-4, runtime API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from lwnet.errors import ConfigError, InputError, OutputExistsError, WeightsError
from lwnet.inference.onnx import DYNAMO_MIN_TORCH, OnnxFuser, export_onnx
from lwnet.model import LWNet


@pytest.fixture(scope="module")
def model() -> LWNet:
    torch.manual_seed(0)
    net = LWNet().eval()
    with torch.no_grad():  # non-trivial temperatures so the attention is really exercised
        net.mca.temperature.uniform_(0.5, 3.0)
    return net


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "lwnet.onnx"
    export_onnx(model, path)
    return path


def _inputs(n: int, h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.random((n, 1, h, w), dtype=np.float32)
    b = rng.random((n, 1, h, w), dtype=np.float32)
    a[..., : h // 4, :] = 0  # a background band, where the gate must give exactly 0
    b[..., : h // 4, :] = 0
    return a, b


def test_graph_has_dynamic_batch_height_width(exported):
    graph = onnx.load(exported).graph
    for value in (*graph.input, *graph.output):
        dims = value.type.tensor_type.shape.dim
        assert dims[1].dim_value == 1
        assert all(d.dim_param and not d.dim_value for d in (dims[0], dims[2], dims[3]))


@pytest.mark.parametrize("shape", [(1, 256, 256), (2, 255, 301), (3, 17, 40), (2, 64, 16)])
def test_onnx_matches_pytorch(model, exported, shape):
    a, b = _inputs(*shape, seed=sum(shape))
    with torch.inference_mode():
        ref = model(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    got = OnnxFuser(exported, threads=1)(a, b)
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.abs(got - ref).max() <= 1e-4
    assert (got[..., : shape[1] // 4, :] == 0).all()


def test_fuser_accepts_torch_and_batch_form(model, exported):
    a, b = _inputs(2, 40, 33, seed=1)
    fuser = OnnxFuser(exported)
    out = fuser(torch.from_numpy(a), torch.from_numpy(b))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 1, 40, 33)
    np.testing.assert_allclose(fuser.fuse_batch(a[:, 0], b[:, 0]), out.numpy()[:, 0], atol=0)



def test_latency_of_the_onnx_fuser_is_measured_like_a_module(exported):
    from lwnet.model import measure_latency

    calls = []

    class Counting(OnnxFuser):
        def __call__(self, a, b):
            calls.append(tuple(a.shape))
            return super().__call__(a, b)

    times = measure_latency(Counting(exported, threads=1), (24, 20), 3, "cpu", None, 2, 4)
    assert len(times) == 4 and all(t > 0 for t in times)
    assert calls == [(3, 1, 24, 20)] * 6  # two warm-up passes, four timed


@pytest.mark.slow
def test_dynamo_exporter_also_dynamic(model, tmp_path):
    if torch.__version__ < DYNAMO_MIN_TORCH:  # the oldest supported torch: a clear refusal
        with pytest.raises(ConfigError, match="dynamo exporter needs torch >= "):
            export_onnx(model, tmp_path / "d.onnx", dynamo=True)
        assert not (tmp_path / "d.onnx").exists()
        return
    export_onnx(model, tmp_path / "d.onnx", dynamo=True)
    a, b = _inputs(2, 255, 301, seed=2)
    with torch.inference_mode():
        ref = model(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert np.abs(OnnxFuser(tmp_path / "d.onnx")(a, b) - ref).max() <= 1e-4


def test_export_refuses_overwrite_and_bad_files(model, exported, tmp_path):
    before = exported.read_bytes()
    with pytest.raises(OutputExistsError):
        export_onnx(model, exported)
    assert exported.read_bytes() == before
    with pytest.raises(InputError, match="missing.onnx"):
        OnnxFuser(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(WeightsError, match="junk.onnx"):
        OnnxFuser(tmp_path / "junk.onnx")


def test_cli_export_then_fuse_with_both_backends(model, sample, tmp_path, capsys):
    from lwnet.cli import main
    from lwnet.data.io import read_image
    from lwnet.inference import save_weights

    weights = save_weights(tmp_path / "w.safetensors", model, "seeded test model")
    graph = tmp_path / "w.onnx"
    assert main(["export", "--weights", str(weights), "-o", str(graph)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {graph}: w.safetensors (max |")
    assert main(["export", "--weights", str(weights), "-o", str(graph)]) == 2
    assert "already exists" in capsys.readouterr().err
    a = sample / "SPECT-MRI" / "MRI" / "9028.png"
    b = sample / "SPECT-MRI" / "SPECT" / "9028.png"
    # --onnx alone runs onnxruntime, as --backend onnx with it does
    runs = {"torch": ["--backend", "torch", "--weights", str(weights)],
            "onnx": ["--backend", "onnx", "--onnx", str(graph)], "graph": ["--onnx", str(graph)]}
    fused = {}
    for name, extra in runs.items():
        out = tmp_path / f"{name}.png"
        assert main(["fuse", "-m", "lwnet", *extra, str(a), str(b), "-o", str(out)]) == 0
        fused[name] = read_image(out)
        # what made each output is recorded in it: the graph, or the weights
        assert Image.open(out).text["Source"].startswith(
            f"lwnet {weights.name if name == 'torch' else graph.name}")
    assert fused["torch"].shape == (256, 256, 3)
    assert np.abs(fused["torch"] - fused["onnx"]).max() <= 1 / 255 + 1e-6
    assert np.array_equal(fused["onnx"], fused["graph"])


def test_safetensors_header_length_starting_with_0x80_loads(tmp_path):
    # Regression: a safetensors file whose 8-byte header length begins with byte 0x80 (one in
    # 256 files) was refused as a pickle; ``lwnet export --weights`` met it first.
    from lwnet.inference import load_model, save_weights

    for n in range(256):
        path = save_weights(tmp_path / f"w{n}.safetensors", LWNet(), "card " + "x" * n)
        if path.read_bytes()[:1] == b"\x80":
            assert load_model(path).config == LWNet().config
            return
    pytest.fail("no card length gave a header length starting with 0x80")


def test_single_pair_network_takes_pair_option(model, sample, tmp_path, capsys):
    from lwnet.cli import main

    a = sample / "CT-MRI" / "MRI" / "16011.png"
    b = sample / "CT-MRI" / "CT" / "16011.png"
    graph = tmp_path / "m.onnx"
    export_onnx(model, graph)
    before = torch.get_num_threads()
    try:
        assert main(["fuse", str(a), str(b), "-o", str(tmp_path / "f.png"), "--pair",
                     "CT-MRI", "--threads", str(before + 1)]) == 0
        assert torch.get_num_threads() == before + 1  # what --threads asks of PyTorch
    finally:
        torch.set_num_threads(before)
    assert main(["fuse", "-m", "mean", str(a), str(b), "-o", str(tmp_path / "g.png"),
                 "--pair", "CT-MRI"]) == 2
    assert ("--pair picks the network's shipped model for a single pair; --method mean takes "
            "none") in capsys.readouterr().err
    # the graph is the model: a --pair beside it would pick nothing (it was ignored)
    assert main(["fuse", str(a), str(b), "-o", str(tmp_path / "h.png"), "--pair", "CT-MRI",
                 "--onnx", str(graph)]) == 2
    assert "--onnx already names the model" in capsys.readouterr().err
    assert not (tmp_path / "h.png").exists()


def test_graph_with_other_inputs_is_named_not_dumped(tmp_path):
    from onnx import TensorProto, helper

    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 1, 4, 4]) for n in "xyf"]
    graph = helper.make_graph([helper.make_node("Add", ["x", "y"], ["f"])], "other", io[:2],
                              io[2:])
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                             ir_version=8).SerializeToString()
    with pytest.raises(WeightsError) as raised:
        OnnxFuser(data)
    # from bytes: a short message, not the graph's bytes
    assert str(raised.value) == "ONNX model: expected ONNX inputs ('a', 'b'), found ('x', 'y')"
    (tmp_path / "other.onnx").write_bytes(data)
    with pytest.raises(WeightsError, match=r"other\.onnx: expected ONNX inputs"):
        OnnxFuser(tmp_path / "other.onnx")
