"""Classical fusion methods: contract (shape, range, background), self-fusion, sanity cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from lwnet.data import luma8, read_image, split_luma
from lwnet.errors import InputError
from lwnet.methods import get_method, method_names, register_method
from lwnet.methods.edge import edge

MULTI_SCALE = ["laplacian", "dwt", "gff", "edge", "pcnn"]


def _texture(shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(gaussian_filter(rng.random(shape), 1.5) * 2.5 - 0.75, 0.0, 1.0)


def _phantom(shape: tuple[int, int], seed: int) -> np.ndarray:
    """Textured ellipse on a zero background, like a brain slice."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    body = ((yy - h / 2) / (0.4 * h)) ** 2 + ((xx - w / 2) / (0.4 * w)) ** 2 <= 1.0
    return np.where(body, 0.2 + 0.7 * _texture(shape, seed), 0.0)


def test_registry_lists_all_required_methods() -> None:
    assert set(method_names()) >= {"mean", "max", "laplacian", "dwt", "gff", "edge", "pcnn"}


def test_unknown_method_lists_known_ones() -> None:
    with pytest.raises(InputError, match="unknown fusion method 'nope'.*gff"):
        get_method("nope")


def test_register_method_refuses_names_that_cannot_be_folders_and_non_callables() -> None:
    for name in ("", "a/b", "lwnet", "../x", " mine"):
        with pytest.raises(ValueError, match="letters, digits"):
            register_method(name, lambda a, b: a)
    with pytest.raises(ValueError, match="must be a callable"):
        register_method("three", 3)


def test_register_method_refuses_duplicates() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_method("mean", lambda a, b: a)


def test_a_registered_target_that_is_not_there_is_named_on_use(monkeypatch) -> None:
    from lwnet.errors import InputError
    from lwnet.methods import registry

    monkeypatch.setitem(registry._REGISTRY, "ghost", "nonexistent.module:fuse")
    with pytest.raises(InputError, match="fusion method 'ghost': cannot load "
                                         "'nonexistent.module:fuse' \\(No module named"):
        get_method("ghost")


@pytest.mark.parametrize("name", method_names())
def test_shape_dtype_range_on_odd_size(name: str) -> None:
    a, b = _phantom((37, 53), 0), _texture((37, 53), 1)
    f = get_method(name)(a, b)
    assert f.shape == (37, 53) and f.dtype == np.float32
    assert np.isfinite(f).all() and f.min() >= 0.0 and f.max() <= 1.0
    assert f.std() > 0.01  # not a constant image


@pytest.mark.parametrize("name", method_names())
def test_zero_background_is_exactly_zero(name: str) -> None:
    a, b = _phantom((64, 80), 2), _phantom((64, 80), 3)
    b[:, :30] = 0.0  # b has less body than a
    f8 = luma8(get_method(name)(a, b))
    background = (luma8(a) == 0) & (luma8(b) == 0)
    assert background.mean() > 0.3
    assert (f8[background] == 0).all()


@pytest.mark.parametrize("name", method_names())
def test_zero_background_on_real_pair(name: str, sample) -> None:
    a = read_image(sample / "SPECT-MRI" / "MRI" / "9028.png")
    b = split_luma(read_image(sample / "SPECT-MRI" / "SPECT" / "9028.png"))[0]
    f8 = luma8(get_method(name)(a, b))
    background = (luma8(a) == 0) & (luma8(b) == 0)
    assert (f8[background] == 0).all()
    assert (f8[~background] > 0).mean() > 0.9  # the body is not erased


@pytest.mark.parametrize("name", [n for n in method_names() if n != "edge"])
def test_fusing_an_image_with_itself_returns_it(name: str) -> None:
    a = _phantom((45, 61), 4)
    np.testing.assert_allclose(get_method(name)(a, a), a, atol=1e-5)


def test_edge_with_itself_only_enhances_detail() -> None:
    a = _phantom((45, 61), 4)
    np.testing.assert_allclose(edge(a, a, gains=(1.0, 1.0, 1.0)), a, atol=1e-5)
    enhanced = edge(a, a)
    assert np.abs(enhanced - a).mean() < 0.02
    # Enhancement sharpens: more gradient energy than the source itself.
    assert np.abs(np.diff(enhanced, axis=1)).sum() > np.abs(np.diff(a, axis=1)).sum()


def test_mean_weight_hand_computed() -> None:
    a, b = np.full((20, 20), 0.8), np.full((20, 20), 0.4)
    np.testing.assert_allclose(get_method("mean")(a, b, weight=0.25), 0.25 * 0.8 + 0.75 * 0.4,
                               rtol=1e-6)
    with pytest.raises(ValueError):
        get_method("mean")(a, b, weight=1.5)


def test_max_on_step_images() -> None:
    a = np.zeros((20, 30))
    a[:, :15] = 0.8
    a[:, 15:] = 0.2
    b = a[:, ::-1].copy()
    np.testing.assert_allclose(get_method("max")(a, b), 0.8, rtol=1e-6)


@pytest.mark.parametrize("name", MULTI_SCALE)
def test_keeps_the_detail_of_each_source(name: str) -> None:
    """Detail only in a's left half and only in b's right half: both halves survive."""
    shape = (64, 96)
    tex = _texture(shape, 5)
    a = np.full(shape, 0.5)
    b = np.full(shape, 0.5)
    a[:, :48] = 0.25 + 0.5 * tex[:, :48]
    b[:, 48:] = 0.25 + 0.5 * tex[:, 48:]
    f = get_method(name)(a, b)
    mean = get_method("mean")(a, b)
    for half in (slice(4, 40), slice(56, 92)):
        src = tex[8:-8, half]
        corr = np.corrcoef(f[8:-8, half].ravel(), src.ravel())[0, 1]
        assert corr > 0.9, (name, half, corr)
        # contrast of the detail is kept, unlike the mean which halves it
        assert f[8:-8, half].std() > 1.5 * mean[8:-8, half].std()


def test_methods_are_deterministic() -> None:
    a, b = _phantom((40, 40), 6), _phantom((40, 40), 7)
    for name in method_names():
        fn = get_method(name)
        np.testing.assert_array_equal(fn(a, b), fn(a, b))


def test_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="equal shape"):
        get_method("gff")(np.zeros((20, 20)), np.zeros((20, 21)))


@pytest.mark.parametrize("name", method_names())
def test_integer_sources_are_scaled_and_other_ranges_refused(name: str) -> None:
    a8, b8 = (np.rint(x * 255).astype(np.uint8)
              for x in (_phantom((40, 44), 8), _texture((40, 44), 9)))
    fn = get_method(name)
    np.testing.assert_array_equal(fn(a8, b8), fn(a8.astype(np.float32) / 255,
                                                 b8.astype(np.float32) / 255))
    with pytest.raises(InputError, match=r"^A: float values from 0 to \d+; .*divide by 255"):
        fn(a8.astype(np.float64), b8 / 255)
    with pytest.raises(InputError, match="^B: unsupported array type int16"):
        fn(a8 / 255, b8.astype(np.int16))


@pytest.mark.parametrize("name", ["laplacian", "dwt"])
def test_base_rule_on_flat_images(name: str) -> None:
    """Flat images have no detail: the base rule alone decides the result."""
    a, b = np.full((40, 44), 0.6), np.full((40, 44), 0.2)
    fn = get_method(name)
    np.testing.assert_allclose(fn(a, b), 0.4, atol=1e-6)
    np.testing.assert_allclose(fn(a, b, base_rule="max"), 0.6, atol=1e-6)
    with pytest.raises(ValueError, match="base_rule"):
        fn(a, b, base_rule="min")


def test_code_digest_follows_every_file_of_a_package(tmp_path, monkeypatch) -> None:
    from lwnet._code import code_digest

    pkg = tmp_path / "fake_methods"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "rule.py").write_text("WEIGHT = 0.5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = code_digest(("fake_methods",))
    (pkg / "rule.py").write_text("WEIGHT = 0.6\n")
    code_digest.cache_clear()
    assert code_digest(("fake_methods",)) != before
    code_digest.cache_clear()


def test_code_digest_ignores_comments_docstrings_and_layout(tmp_path, monkeypatch) -> None:
    """Edits that change nothing the code does keep the digest (and so the caches keyed by it);
    a changed value, name or string that is not a docstring does not."""
    from lwnet._code import code_digest

    pkg = tmp_path / "fake_rules"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    rule = pkg / "rule.py"
    base = 'def weight(x):\n    return 0.5 * x\n'
    variants = {
        "same": ['"""Module doc."""\n# a comment\n\n\ndef weight(x):  # why\n'
                 '    """Doc."""\n    return 0.5 * x\n',
                 'def weight(x):\n    return (0.5\n            * x)\n'],
        "other": ['def weight(x):\n    return 0.6 * x\n',
                  'def weight(y):\n    return 0.5 * y\n',
                  'def weight(x):\n    return 0.5 * x\n    "a string, not the docstring"\n',
                  'def weight(x):\n    return x * 0.5\n']}
    monkeypatch.syspath_prepend(str(tmp_path))

    def digest(source: str) -> str:
        rule.write_text(source)
        code_digest.cache_clear()
        return code_digest(("fake_rules",))

    before = digest(base)
    for source in variants["same"]:
        assert digest(source) == before, source
    for source in variants["other"]:
        assert digest(source) != before, source
    code_digest.cache_clear()


def test_function_id_follows_what_a_function_does(tmp_path, monkeypatch) -> None:
    """A user's method is recorded by its code: a new docstring or comment keeps its id, a new
    body does not; nested functions and lambdas have ids too."""
    import importlib

    from lwnet.methods.registry import function_id

    monkeypatch.syspath_prepend(str(tmp_path))
    sources = {
        "plain": "def mine(a, b):\n    return a + b\n",
        "documented": 'def mine(a, b):\n    """Sum."""\n    return a + b  # why\n',
        "other": "def mine(a, b):\n    return a - b\n",
        "nested": "def outer():\n    def mine(a, b):\n        return a + b\n    return mine\n",
        "lambda": "mine = lambda a, b: a + b  # noqa\n",
    }
    ids = {}
    for name, source in sources.items():
        (tmp_path / f"user_{name}.py").write_text(source)
        module = importlib.import_module(f"user_{name}")
        fn = module.outer() if name == "nested" else module.mine
        ids[name] = function_id(fn).split(" (code ")[1]
    assert ids["plain"] == ids["documented"] == ids["nested"]
    assert ids["other"] != ids["plain"] and ids["lambda"] != ids["plain"]
    assert function_id(np.add) == ""


def test_builtin_code_covers_every_module_a_builtin_method_uses() -> None:
    """Every lwnet module a built-in method reaches is in BUILTIN_CODE, so its output caches
    (SPI candidates, the benchmark's fused images) follow any edit of it."""
    import importlib
    import types

    from lwnet.methods.registry import _REGISTRY, BUILTIN_CODE

    def covered(module: str) -> bool:
        return any(module == c or module.startswith(c + ".") for c in BUILTIN_CODE)

    todo = [t.split(":")[0] for t in _REGISTRY.values() if isinstance(t, str)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name == "lwnet.methods.registry":
            continue
        seen.add(name)
        assert covered(name), name
        for value in vars(importlib.import_module(name)).values():
            used = value.__name__ if isinstance(value, types.ModuleType) else getattr(
                value, "__module__", None)
            if isinstance(used, str) and used.startswith("lwnet."):
                todo.append(used)
    assert {"lwnet.methods.pyramid", "lwnet.methods._common"} <= seen
