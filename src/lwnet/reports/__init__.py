"""The benchmark report: the tables and figures of a fusion paper and one HTML page holding them.

* :mod:`lwnet.reports.figures` — box plots, radar chart (with polygon area %), visual comparison
  grid with an enlarged inset, SPI curves; each returns PNG bytes (matplotlib, Agg backend).
* :mod:`lwnet.reports.html` — a self-contained ``index.html`` (images embedded as data URIs).
* :mod:`lwnet.reports.benchmark` — the orchestration behind ``lwnet benchmark``, over
  :mod:`~lwnet.reports.rows` (the methods), :mod:`~lwnet.reports.results` (their cached outputs
  and metrics) and :mod:`~lwnet.reports.complexity` (parameters, MACs, latency).
"""
