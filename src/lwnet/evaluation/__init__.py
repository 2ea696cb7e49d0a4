"""Evaluating fused results: per-image metrics over a dataset, summary tables and their writers."""

from lwnet.evaluation.paired import (
    clear_sign,
    paired_cell,
    paired_cells,
    paired_difference,
    paired_legend,
    paired_rows,
    paired_table,
)
from lwnet.evaluation.report import markdown_summary, summary_texts, write_evaluation
from lwnet.evaluation.runner import (
    BUILTIN_PREFIX,
    check_metric_size,
    evaluate_folders,
    evaluate_pair,
    read_triple,
    result_files,
)
from lwnet.evaluation.tables import (
    SummaryTable,
    best_two,
    csv_table,
    markdown_table,
    rank_marks,
    rows_to_csv,
    summarise,
    summary_cell,
    to_csv,
    to_latex,
    to_markdown,
)

__all__ = [
    "BUILTIN_PREFIX", "SummaryTable", "best_two", "check_metric_size", "clear_sign", "csv_table",
    "evaluate_folders", "evaluate_pair", "markdown_summary", "markdown_table", "paired_cell",
    "paired_cells", "paired_difference", "paired_legend", "paired_rows", "paired_table",
    "rank_marks", "read_triple", "result_files", "rows_to_csv", "summarise", "summary_cell",
    "summary_texts", "to_csv", "to_latex", "to_markdown", "write_evaluation",
]
