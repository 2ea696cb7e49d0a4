"""Report figures and the self-contained HTML page (synthetic inputs, no shared data)."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lwnet.metrics import METRIC_NAMES
from lwnet.reports import figures
from lwnet.reports.html import Section, html_table, image_tag, render_page


def _png_size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG"
        return im.size


# --- radar area ---------------------------------------------------------------------------------


def test_radar_area_extremes() -> None:
    assert figures.radar_area_percent([1] * 6) == pytest.approx(100.0)
    assert figures.radar_area_percent([0] * 6) == pytest.approx(0.0)


def test_radar_area_matches_shoelace() -> None:
    # Independent check: the shoelace formula on the polygon's Cartesian vertices.
    rng = np.random.default_rng(0)
    for n in (3, 6, 9):
        r = rng.uniform(0, 1, n)
        t = 2 * np.pi * np.arange(n) / n
        x, y = r * np.cos(t), r * np.sin(t)
        area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
        full = 0.5 * n * math.sin(2 * math.pi / n)
        assert figures.radar_area_percent(r) == pytest.approx(100 * area / full)


def test_radar_area_half_radii_is_quarter() -> None:
    assert figures.radar_area_percent([0.5] * 6) == pytest.approx(25.0)


def test_minmax_normalise_hand_made() -> None:
    means = {"a": {"X": 1.0, "Y": 5.0}, "b": {"X": 3.0, "Y": 5.0}, "c": {"X": 2.0, "Y": 5.0}}
    norm = figures.minmax_normalise(means, ["X", "Y"])
    np.testing.assert_allclose(norm["a"], [0.0, 1.0])  # Y equal for all: nobody is worse
    np.testing.assert_allclose(norm["b"], [1.0, 1.0])
    np.testing.assert_allclose(norm["c"], [0.5, 1.0])


def test_radar_chart_areas_best_and_worst() -> None:
    metrics = METRIC_NAMES
    means = {
        "top": {k: 2.0 for k in metrics},
        "bottom": {k: 0.0 for k in metrics},
        "mid": {k: 1.0 for k in metrics},
    }
    chart, areas = figures.radar_chart(means, metrics, title="t")
    png = chart.png
    assert areas == pytest.approx({"top": 100.0, "bottom": 0.0, "mid": 25.0})
    assert min(_png_size(png)) > 200


# --- other figures ------------------------------------------------------------------------------


def test_box_plots_png() -> None:
    rng = np.random.default_rng(1)
    scores = {m: {k: rng.normal(size=10) for k in ("VIF", "MI", "SSIM", "PSNR")}
              for m in ("mean", "max", "dwt")}
    w, h = _png_size(figures.box_plots(scores, ["VIF", "MI", "SSIM", "PSNR"], title="x").png)
    assert w > 600 and h > 400  # 3 x 2 panels


def test_pick_inset_finds_the_structure() -> None:
    a = np.zeros((128, 128), np.float32)
    a[80:100, 20:40] = 1.0  # the only edges in the image
    r, c, h, w = figures.pick_inset(a, np.zeros_like(a), 32)
    assert (h, w) == (32, 32)
    assert r <= 80 and r + h >= 100 and c <= 20 and c + w >= 40
    # Structure in one source only (a skull edge on MRI) loses to a region where both have it.
    b = np.zeros_like(a)
    b[20:40, 80:100] = 1.0
    a[20:40, 80:100] = 0.5
    r, c, _, _ = figures.pick_inset(a, b, 32)
    assert r <= 20 and r + 32 >= 40 and c <= 80 and c + 32 >= 100
    # A small image, where every window reaches the inset's corner, still gets a region.
    small = np.zeros((100, 100), np.float32)
    small[60:70, 60:70] = 1.0
    r, c, h, w = figures.pick_inset(small, small, 64)
    assert (h, w) == (64, 64) and r <= 60 and r + h >= 70 and c <= 60 and c + w >= 70


def test_comparison_grid_png() -> None:
    rng = np.random.default_rng(2)
    grey = rng.uniform(size=(64, 64)).astype(np.float32)
    colour = rng.uniform(size=(64, 64, 3)).astype(np.float32)
    rows = [("SPECT-MRI 1", {"MRI": grey, "SPECT": colour, "mean": colour, "max": colour}),
            ("CT-MRI 2", {"MRI": grey, "CT": grey, "mean": grey})]
    w, h = _png_size(figures.comparison_grid(rows, inset_size=16).png)
    assert w > h > 200


def test_spi_curves_png() -> None:
    log = [{"iteration": i, "admitted": 100 - 9 * i, "refined": 5 * i,
            "label_gain": 0.002 * i} for i in range(1, 11)]
    assert min(_png_size(figures.spi_curves({"spect-mri": log, "ct-mri": log[:5]}).png)) > 200


def test_every_figure_has_a_pdf_of_the_same_bytes_each_time() -> None:
    log = [{"iteration": i, "admitted": 0, "refined": 0, "label_gain": 0.0} for i in (1, 2)]
    first, again = (figures.spi_curves({"spect-mri": log}) for _ in range(2))
    assert first.pdf.startswith(b"%PDF-") and first.pdf == again.pdf
    assert b"CreationDate" not in first.pdf  # two renders a second apart are equal too


# --- HTML ---------------------------------------------------------------------------------------


def test_html_table_marks_and_escapes() -> None:
    out = html_table(["m", "<x>"], [["a", "1"], ["b", "2"]], {(1, 1): "best", (0, 1): "second"})
    assert "&lt;x&gt;" in out
    assert '<td class="best">2</td>' in out and '<td class="second">1</td>' in out


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium not installed (make test installs it with apt-get where allowed)")
    return exe


def _chromium_args(exe: str, profile: Path) -> list[str]:
    return [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}"]


def check_page_in_chromium(page: Path, tmp_path: Path) -> tuple[str, Path]:
    """Open ``page`` in headless chromium: returns (DOM after load, screenshot path)."""
    exe = _chromium()
    url = page.resolve().as_uri()
    dom = subprocess.run(
        [*_chromium_args(exe, tmp_path / "p1"), "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    shot = tmp_path / "screenshot.png"
    subprocess.run(
        [*_chromium_args(exe, tmp_path / "p2"), f"--screenshot={shot}",
         "--window-size=1400,3000", url],
        capture_output=True, timeout=120, check=True,
    )
    return dom, shot


def test_page_loads_in_chromium(tmp_path: Path) -> None:
    png = figures.spi_curves({"m": [{"iteration": 1, "admitted": 3, "refined": 0,
                                     "label_gain": 0.01}]}).png
    page = tmp_path / "index.html"
    page.write_text(render_page("Test report", [
        Section("Table", [html_table(["m", "v"], [["a", "1"]], {(0, 1): "best"})]),
        Section("Figure", [image_tag(png, "spi"), image_tag(png, "again")]),
    ]))
    dom, shot = check_page_in_chromium(page, tmp_path)
    assert 'data-images="ok"' in dom
    assert 'data-image-count="2"' in dom
    assert "Whole Brain Atlas" in dom
    assert shot.is_file() and _png_size(shot.read_bytes()) == (1400, 3000)


def test_page_with_broken_image_is_detected(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text(render_page("Broken", [Section("x", ['<img src="missing.png" alt="x">'])]))
    dom, _ = check_page_in_chromium(page, tmp_path)
    assert 'data-images="missing:1"' in dom
