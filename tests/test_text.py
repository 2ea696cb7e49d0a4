"""The helpers behind LWNet's printed text: counts, and progress as bars or as log lines."""

from __future__ import annotations

import pytest

from lwnet._text import counted, draws_bars, progress_mode, tracked


def test_counts_read_as_english() -> None:
    assert [counted(1, "pair"), counted(2, "pair"), counted(0, "thread")] == \
        ["1 pair", "2 pairs", "0 threads"]
    assert [counted(3, "patch"), counted(2, "pass"), counted(1, "patch")] == \
        ["3 patches", "2 passes", "1 patch"]
    assert [counted(2, "epoch"), counted(1, "epoch")] == ["2 epochs", "1 epoch"]


@pytest.mark.parametrize("terminal", [True, False])
def test_the_command_draws_bars_on_a_terminal_and_tells_lines_elsewhere(stderr_to,
                                                                         terminal) -> None:
    err = stderr_to(terminal)
    assert draws_bars() == terminal and not draws_bars(wanted=False)
    mode = progress_mode(draws_bars())
    assert progress_mode(True, reports=False) == "off"
    chunks = [[1, 2, 3], [4, 5], [6]]  # items of several units each
    assert list(tracked(iter(chunks), 6, "scoring", "patch", mode, count=len)) == chunks
    text = err.getvalue()
    if terminal:  # the bar counts units, not items, and ends at the total
        assert mode == "bars" and "scoring: 100%" in text and "6/6" in text
    else:
        lines = text.splitlines()
        assert lines[0] == "scoring: 6 patches ..." and len(lines) == 2
        assert lines[1].startswith("scoring: 6 patches in ") and "\r" not in text


def test_an_unannounced_step_says_one_line_and_off_says_none(stderr_to) -> None:
    err = stderr_to(False)
    assert list(tracked(range(3), 3, "label candidates: gff", "pair", "lines",
                        announce=False)) == [0, 1, 2]
    assert list(tracked(range(3), 3, "quiet", "pair", "off")) == [0, 1, 2]
    assert err.getvalue() == "label candidates: gff: 3 pairs in 0 s\n"
