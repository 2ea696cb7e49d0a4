"""Paired comparison helpers, against hand-computed values and scipy's paired t-test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lwnet.evaluation import (
    clear_sign,
    paired_cell,
    paired_difference,
    paired_rows,
    paired_table,
)


def test_paired_difference_by_hand() -> None:
    # d = 1, 2, 3, 4: mean 2.5, sample variance 5/3, standard error sqrt(5/3) / 2.
    mean, se = paired_difference(np.array([1.0, 2.0, 3.0, 4.0]), np.zeros(4))
    assert mean == pytest.approx(2.5)
    assert se == pytest.approx(np.sqrt(5 / 3) / 2)


def test_mean_over_standard_error_is_the_paired_t_statistic() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(0.6, 0.05, 37)
    b = a - rng.normal(0.004, 0.01, 37)
    mean, se = paired_difference(a, b)
    assert mean / se == pytest.approx(stats.ttest_rel(a, b).statistic)


def test_clear_sign() -> None:
    base = np.linspace(0.5, 0.7, 30)
    noise = np.tile([0.01, -0.01], 15)
    assert clear_sign(base + 0.02 + noise, base) == 1
    assert clear_sign(base - 0.02 + noise, base) == -1
    assert clear_sign(base + 0.001 + noise, base) == 0      # t ≈ 0.54: within noise
    assert clear_sign(base + 0.002, base) == 1              # constant difference: se = 0


def test_paired_cell_threshold_is_the_callers() -> None:
    # d = 1, 2, 3, 4: mean 2.5, standard error 0.6455, so t = 3.87: clear at two standard
    # errors and at the 95 % Student t quantile for 4 values (3.18), not at 4 standard errors.
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.zeros(4)
    assert paired_cell(a, b) == "+2.5000 ± 0.6455 ▲"
    assert paired_cell(b, a, stats.t.ppf(0.975, 3)) == "-2.5000 ± 0.6455 ▼"
    assert paired_cell(a, b, 4.0) == "+2.5000 ± 0.6455"


def test_paired_rows_align_by_id_and_drop_unmatched() -> None:
    rows = [{"method": "A", "id": "2", "VIF": "0.2"}, {"method": "B", "id": "1", "VIF": "0.5"},
            {"method": "A", "id": "1", "VIF": "0.1"}, {"method": "B", "id": "2", "VIF": "0.7"},
            {"method": "A", "id": "3", "VIF": "0.9"}, {"method": "C", "id": "1", "VIF": "1.0"}]
    a, b = paired_rows(rows, "A", "B", "VIF")
    np.testing.assert_array_equal(a, [0.1, 0.2])
    np.testing.assert_array_equal(b, [0.5, 0.7])


def test_paired_difference_rejects_unpaired_input() -> None:
    with pytest.raises(ValueError, match="equal 1-D"):
        paired_difference(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="at least 2"):
        paired_difference(np.zeros(1), np.zeros(1))


def test_paired_table_marks_only_clear_differences() -> None:
    rows = []
    for i in range(10):
        rows.append({"method": "net", "id": str(i), "VIF": 0.5 + 0.01 * i,
                     "SSIM": 0.7 + (0.01 if i % 2 else -0.01)})
        rows.append({"method": "gff", "id": str(i), "VIF": 0.4 + 0.01 * i, "SSIM": 0.7})
        rows.append({"method": "max", "id": str(i), "VIF": 0.6 + 0.01 * i, "SSIM": 0.7})
    lines = paired_table(rows, "net", ["VIF", "SSIM"]).splitlines()
    assert lines[0] == "| net minus | VIF | SSIM |"
    assert lines[2] == "| gff | +0.1000 ± 0.0000 ▲ | +0.0000 ± 0.0033 |"
    assert lines[3] == "| max | -0.1000 ± 0.0000 ▼ | +0.0000 ± 0.0033 |"
    assert lines[-1].startswith("Mean ± standard error over the images of net's value minus "
                                "each method's; ▲/▼: net ahead/behind by more than 2 standard")
    # Methods come in the order of the rows (the summary table's), not by name.
    max_first = sorted(rows, key=lambda r: r["method"] != "max")
    assert paired_table(max_first, "net", ["VIF"]).splitlines()[2].startswith("| max |")
    with pytest.raises(ValueError, match="another method"):
        paired_table([r for r in rows if r["method"] == "net"], "net", ["VIF"])


def test_paired_table_with_one_shared_image_says_so() -> None:
    rows = [{"method": "net", "id": "1", "VIF": 0.5}, {"method": "gff", "id": "1", "VIF": 0.4}]
    assert paired_table(rows, "net", ["VIF"]).splitlines()[2] == "| gff | — |"


def test_paired_rows_keep_pair_types_apart_and_refuse_doubles() -> None:
    # Ids repeat across pair types (2004 is a CT-MRI and a SPECT-MRI id in the Harvard data).
    rows = [{"method": m, "pair_type": pt, "id": "2004", "VIF": v}
            for m, pt, v in [("net", "CT-MRI", 0.5), ("net", "SPECT-MRI", 0.6),
                             ("gff", "CT-MRI", 0.4), ("gff", "SPECT-MRI", 0.3)]]
    a, b = paired_rows(rows, "net", "gff", "VIF")
    np.testing.assert_array_equal(a, [0.5, 0.6])
    np.testing.assert_array_equal(b, [0.4, 0.3])
    with pytest.raises(ValueError, match="net: two rows for image 2004; pair the rows of one"):
        paired_rows([{k: v for k, v in r.items() if k != "pair_type"} for r in rows],
                    "net", "gff", "VIF")
