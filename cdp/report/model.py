"""What a report is made of: sections holding tables, charts and notes.

Builders fill these; `cdp.report.html` renders them. Keeping the numbers in plain
rows (not only in the HTML) lets tests compare them with the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Table:
    name: str  # stable id, used as data-table in the HTML
    rows: list[dict[str, Any]]
    caption: str = ""


@dataclass
class Chart:
    name: str  # file stem under reports/<run_id>/
    png: bytes
    alt: str


@dataclass
class Section:
    key: str
    title: str
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: str | None = None  # why the section is "not available"

    @classmethod
    def not_available(cls, key: str, title: str, why: str) -> Section:
        return cls(key, title, missing=why)

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)


@dataclass
class Report:
    run_id: str
    title: str
    sections: list[Section]

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)
