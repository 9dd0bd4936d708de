"""What normalisation needs from a config besides the rows: one place, used by the
embedded stage and by the engine kernels (which must agree, or parity breaks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from cdp.config import Settings


@dataclass(frozen=True)
class NormalizeOptions:
    """What `normalize_records` needs besides the rows (`today` fixed for every worker)."""

    default_country: str
    source_countries: Mapping[str, str] = field(default_factory=dict)
    date_formats: Mapping[str, str] = field(default_factory=dict)
    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())


def normalize_options(settings: Settings) -> NormalizeOptions:
    """Country and explicit birth-date format per source, from the config."""
    return NormalizeOptions(
        default_country=settings.project.default_country,
        source_countries={s.name: settings.source_country(s) for s in settings.sources},
        date_formats={
            s.name: str(s.options["date_format"])
            for s in settings.sources
            if s.options.get("date_format")
        },
    )
