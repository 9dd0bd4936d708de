"""Render a `Report` as one self-contained HTML page (inline CSS, charts as data URIs).

Every table cell carries its raw value in `data-value`, so tests and scripts can
read the numbers back exactly while people see them formatted.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from cdp.report.model import Report, Section, Table

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:70rem;color:#212529;padding:0 1rem}
h1{font-size:1.6rem}
h2{font-size:1.2rem;border-bottom:1px solid #dee2e6;padding-bottom:.3rem;margin-top:2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
th,td{border:1px solid #dee2e6;padding:.25rem .6rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f1f3f5}
caption{caption-side:top;text-align:left;color:#495057;font-size:.85rem;padding:.2rem 0}
.missing{color:#868e96;font-style:italic}img{max-width:100%;display:block;margin:.6rem 0}
nav a{margin-right:.8rem}.note{color:#495057;font-size:.9rem}
"""


def _cell(value: Any) -> str:
    if value is None:
        return '<td data-value=""></td>'
    if isinstance(value, bool):
        return f'<td data-value="{value}">{value}</td>'
    if isinstance(value, int):
        return f'<td class="num" data-value="{value}">{value:,}</td>'
    if isinstance(value, float):
        return f'<td class="num" data-value="{value!r}">{value:,.4g}</td>'
    text = escape(str(value))
    return f'<td data-value="{text}">{text}</td>'


def render_table(section: str, table: Table) -> str:
    if not table.rows:
        return f'<p class="missing" data-table="{section}.{table.name}">(no rows)</p>'
    cols: list[str] = []
    for row in table.rows:
        cols += [c for c in row if c not in cols]
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(_cell(row.get(c)) for c in cols) + "</tr>" for row in table.rows
    )
    caption = f"<caption>{escape(table.caption)}</caption>" if table.caption else ""
    return (
        f'<table data-table="{section}.{table.name}">{caption}'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def render_section(s: Section) -> str:
    parts = [f'<section id="{s.key}"><h2>{escape(s.title)}</h2>']
    if s.missing is not None:
        parts.append(f'<p class="missing">Not available: {escape(s.missing)}.</p>')
    for note in s.notes:
        parts.append(f'<p class="note">{escape(note)}</p>')
    for t in s.tables:
        parts.append(render_table(s.key, t))
    for c in s.charts:
        data = base64.b64encode(c.png).decode("ascii")
        parts.append(
            f'<img alt="{escape(c.alt)}" data-chart="{c.name}" src="data:image/png;base64,{data}">'
        )
    parts.append("</section>")
    return "\n".join(parts)


def render(report: Report) -> str:
    nav = " ".join(f'<a href="#{s.key}">{escape(s.title)}</a>' for s in report.sections)
    body = "\n".join(render_section(s) for s in report.sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(report.title)}</title><style>{_CSS}</style></head>"
        f"<body><h1>{escape(report.title)}</h1><nav>{nav}</nav>\n{body}\n</body></html>\n"
    )
