"""A self-contained HTML page: every image embedded as a base64 data URI, no external assets.

The page opens from disk (``file://``) in any browser without a server. A small inline script
marks ``<body data-images="ok">`` once every ``<img>`` has decoded (``"missing:N"`` otherwise),
so a headless browser can verify the page (``--dump-dom``).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: Credit for the Harvard images (data README): shown on every page that shows them.
ATTRIBUTION = (
    "Images: The Whole Brain Atlas, K. A. Johnson and J. A. Becker, Harvard Medical School "
    '(<a href="http://www.med.harvard.edu/AANLIB/">www.med.harvard.edu/AANLIB</a>), via the '
    '"Havard-Medical-Image-Fusion-Datasets" collection by xianming-gu '
    '(<a href="https://github.com/xianming-gu/Havard-Medical-Image-Fusion-Datasets">GitHub</a>).'
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child, table.text th, table.text td { text-align: left; }
thead th { background: #f2f2f2; }
td.best { font-weight: bold; background: #d9f2d9; }
td.second { text-decoration: underline; background: #f2f7d9; }
img { max-width: 100%; display: block; margin: 0.6em 0; }
.note { color: #555; font-size: 0.9em; }
footer { margin-top: 3em; font-size: 0.85em; color: #555; }
"""

_CHECK_IMAGES = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (im) { return !(im.complete && im.naturalWidth > 0); });
  document.body.setAttribute("data-images", bad.length ? "missing:" + bad.length : "ok");
  document.body.setAttribute("data-image-count", String(imgs.length));
});
"""


def data_uri(data: bytes, mime: str = "image/png") -> str:
    """``data:`` URI holding ``data`` in base64."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_tag(png: bytes, alt: str) -> str:
    """An ``<img>`` element embedding PNG bytes."""
    return f'<img src="{data_uri(png)}" alt="{html.escape(alt)}">'


def html_table(
    header: Sequence[str], rows: Sequence[Sequence[str]],
    marks: Mapping[tuple[int, int], str] | None = None, text: bool = False,
) -> str:
    """An HTML table of already formatted cells.

    ``marks[(row, col)]`` gives a cell a CSS class (``"best"``: bold, ``"second"``:
    underlined), with ``row``/``col`` indexing ``rows``. Cells align right, as numbers do,
    except the first column; ``text``: all align left.
    """
    marks = marks or {}
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            cls = marks.get((i, j))
            attr = f' class="{cls}"' if cls else ""
            cells.append(f"<td{attr}>{html.escape(str(cell))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cls = ' class="text"' if text else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


@dataclass
class Section:
    """One ``<h2>`` section of the page; ``parts`` are HTML fragments shown in order."""

    heading: str
    parts: list[str] = field(default_factory=list)
    anchor: str = ""


def render_page(title: str, sections: Sequence[Section], intro: str = "") -> str:
    """The whole page: title, table of contents, sections, attribution footer."""
    anchors = [s.anchor or f"s{i}" for i, s in enumerate(sections)]
    toc = "".join(
        f'<li><a href="#{a}">{html.escape(s.heading)}</a></li>' for a, s in zip(anchors, sections)
    )
    body = "".join(
        f'<section id="{a}"><h2>{html.escape(s.heading)}</h2>{"".join(s.parts)}</section>'
        for a, s in zip(anchors, sections)
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script>{_CHECK_IMAGES}</script></head>\n"
        f"<body><h1>{html.escape(title)}</h1>{intro}<nav><ul>{toc}</ul></nav>{body}"
        f"<footer>{ATTRIBUTION}</footer></body></html>\n"
    )
