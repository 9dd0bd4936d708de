"""Configuration (DESIGN contract 2): a TOML file with `[project]` and `[[sources]]`.

Loaded into frozen, typed settings. Every problem is a `ConfigError` naming the
file, the key and what is wrong, which the CLI turns into one line and exit 2.
Relative paths resolve against the config file's folder.

Stage-specific tables (`[resolve]`, `[identifiers]`, `[profiles]`, `[export]`,
`[quality]`) are kept as read-only mappings and parsed by the stage that owns them
through `SectionReader`, so each stage's options live next to its code while
errors stay uniform.
"""

from __future__ import annotations

import glob
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from cdp.errors import ConfigError
from cdp.schema import MAPPABLE_COLUMNS, MAPPABLE_INTERACTION_COLUMNS

#: Connector names a source may use (implementations live in the `connectors` package).
CONNECTORS: tuple[str, ...] = (
    "segment",
    "ga4",
    "meta_leads",
    "shopify_orders",
    "stripe_payments",
    "csv",
)

#: Keys allowed in `[sources.options]`.
SOURCE_OPTIONS: frozenset[str] = frozenset(
    {
        "format",  # csv connector: csv | tsv | jsonl | parquet (default: from the extension)
        "delimiter",
        "quote",
        "encoding",  # utf-8 | utf-8-sig | utf-16 | cp1252 | latin-1
        "decimal_separator",
        "thousands_separator",
        "date_format",  # strftime format for birth dates / dates, never guessed
        "timestamp_format",  # strftime format for occurred_at
        "timezone",  # IANA name for naive timestamps (default UTC)
        "kind",  # interaction kind for csv sources (event/order/payment/lead/profile)
        "channel",  # channel label for csv sources (web/app/social/shop/payments/...)
        "header_row",  # 1-based row holding the header (preambles in UI exports)
    }
)

#: Top-level tables owned by later stages.
SECTIONS: frozenset[str] = frozenset(
    {"resolve", "identifiers", "profiles", "export", "quality", "dagster", "spark"}
)

_SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PROJECT_KEYS = frozenset({"name", "data_dir", "warehouse", "default_country", "engine"})
#: `[project] engine`: where the identity stages run (`[spark]` configures the second).
ENGINES: tuple[str, ...] = ("embedded", "spark")
_SOURCE_KEYS = frozenset(
    {"name", "connector", "path", "record_id", "columns", "options", "default_country", "enabled"}
)

#: Config used when neither --config, $CDP_CONFIG nor ./cdp.toml is given.
BUNDLED_CONFIG = Path(__file__).resolve().parent.parent / "data" / "samples" / "cdp.toml"


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """One `[[sources]]` entry."""

    name: str
    connector: str
    path: str  # the glob as written
    root: Path  # folder the glob is resolved against (the config file's folder)
    record_id: str | None = None
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    default_country: str | None = None

    @property
    def pattern(self) -> Path:
        """The absolute glob pattern."""
        p = Path(self.path)
        return p if p.is_absolute() else self.root / p

    def files(self) -> list[Path]:
        """Files matching the glob, sorted, so every run sees them in the same order."""
        return sorted(
            Path(p) for p in glob.glob(str(self.pattern), recursive=True) if Path(p).is_file()
        )


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """The `[project]` table."""

    name: str
    data_dir: Path
    warehouse: Path
    default_country: str
    engine: str = "embedded"  # one of ENGINES


@dataclass(frozen=True, slots=True)
class Settings:
    """A loaded configuration file."""

    path: Path
    project: ProjectSettings
    sources: tuple[SourceSettings, ...]
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))

    def source(self, name: str) -> SourceSettings:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources)
        raise ConfigError(self.path, "sources", f"no source named {name!r} (have: {known})")

    def section(self, name: str) -> SectionReader:
        """Typed reader over an optional stage table such as `[resolve]`."""
        if name not in SECTIONS:
            raise ValueError(f"unknown config section {name!r}")
        return SectionReader(self.path, name, self.sections.get(name, {}))

    def source_country(self, source: SourceSettings) -> str:
        """Default phone region for a source: its own setting, else the project's."""
        return source.default_country or self.project.default_country


T = TypeVar("T")


class SectionReader:
    """Reads typed values from one config table, raising `ConfigError` naming file and key.

    >>> r = SectionReader(Path("cdp.toml"), "resolve", {"threshold": 0.9})
    >>> r.get("threshold", float, 0.5)
    0.9
    >>> r.get("max_cluster_size", int, 50)
    50
    """

    def __init__(self, path: Path, name: str, data: Mapping[str, Any]) -> None:
        self.path = path
        self.name = name
        self.data = data

    def key(self, key: str) -> str:
        return f"{self.name}.{key}"

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.path, self.key(key), problem)

    def get(self, key: str, kind: type[T], default: T) -> T:
        if key not in self.data:
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.error(key, f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    def table(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(key, "expected a table")
        return value

    def check_keys(self, allowed: set[str] | frozenset[str]) -> None:
        """Reject keys the stage does not know (catches typos in option names)."""
        for k in self.data:
            if k not in allowed:
                raise self.error(k, f"unknown key (allowed: {', '.join(sorted(allowed))})")


def find_config(explicit: str | Path | None = None) -> Path:
    """The config to use: --config, else $CDP_CONFIG, else ./cdp.toml, else the bundled sample."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("CDP_CONFIG")
    if env:
        return Path(env)
    local = Path.cwd() / "cdp.toml"
    if local.is_file():
        return local
    return BUNDLED_CONFIG


def load_settings(path: str | Path, *, check_files: bool = True) -> Settings:
    """Load and validate a config file.

    Args:
        path: the TOML file.
        check_files: also require every source glob to match at least one file
            (ingest needs this; lookups such as `cdp show` do not).

    Raises:
        ConfigError: with the file, the key and the problem.
    """
    cfg_path = Path(path).expanduser()
    if not cfg_path.is_file():
        raise ConfigError(cfg_path, None, "config file not found")
    cfg_path = cfg_path.resolve()
    try:
        with cfg_path.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(cfg_path, None, f"invalid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(cfg_path, None, "invalid TOML: not UTF-8 text") from exc
    return _parse(cfg_path, raw, check_files=check_files)


def _parse(cfg_path: Path, raw: Mapping[str, Any], *, check_files: bool) -> Settings:
    for key in raw:
        if key not in {"project", "sources"} | SECTIONS:
            raise ConfigError(cfg_path, key, "unknown top-level key")
    base = cfg_path.parent
    project = _parse_project(cfg_path, base, raw.get("project"))
    sources_raw = raw.get("sources")
    if not isinstance(sources_raw, list) or not sources_raw:
        raise ConfigError(cfg_path, "sources", "missing: at least one [[sources]] entry is needed")
    sources = tuple(s for s in _parse_sources(cfg_path, base, sources_raw, check_files=check_files))
    sections = {}
    for name in SECTIONS:
        value = raw.get(name, {})
        if not isinstance(value, Mapping):
            raise ConfigError(cfg_path, name, "expected a table")
        sections[name] = MappingProxyType(dict(value))
    return Settings(cfg_path, project, sources, MappingProxyType(sections))


def _parse_project(cfg_path: Path, base: Path, table: Any) -> ProjectSettings:
    if not isinstance(table, Mapping):
        raise ConfigError(cfg_path, "project", "missing: a [project] table is needed")
    r = SectionReader(cfg_path, "project", table)
    r.check_keys(_PROJECT_KEYS)
    data_dir_s = r.get("data_dir", str, "")
    if not data_dir_s:
        raise r.error("data_dir", "missing (where lake, warehouse and exports go)")
    data_dir = _resolve(base, data_dir_s)
    wh = r.get("warehouse", str, "")
    warehouse = _resolve(base, wh) if wh else data_dir / "warehouse" / "cdp.duckdb"
    country = r.get("default_country", str, "")
    if not _COUNTRY.match(country):
        raise r.error("default_country", "expected an ISO 3166 alpha-2 code such as 'ES'")
    name = r.get("name", str, cfg_path.parent.name)
    engine = r.get("engine", str, "embedded")
    if engine not in ENGINES:
        raise r.error("engine", f"unknown engine {engine!r} (one of: {', '.join(ENGINES)})")
    return ProjectSettings(name, data_dir, warehouse, country, engine)


def _parse_sources(
    cfg_path: Path, base: Path, entries: list[Any], *, check_files: bool
) -> Iterator[SourceSettings]:
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ConfigError(cfg_path, f"sources[{i}]", "expected a table")
        r = SectionReader(cfg_path, f"sources[{i}]", entry)
        r.check_keys(_SOURCE_KEYS)
        if not r.get("enabled", bool, True):
            continue
        name = r.get("name", str, "")
        if not _SOURCE_NAME.match(name):
            raise r.error("name", "expected a lower-case name like 'web' or 'crm_legacy'")
        if name in seen:
            raise r.error("name", f"duplicate source name {name!r}")
        seen.add(name)
        connector = r.get("connector", str, "")
        if connector not in CONNECTORS:
            raise r.error(
                "connector", f"unknown connector {connector!r} (one of: {', '.join(CONNECTORS)})"
            )
        path = r.get("path", str, "")
        if not path:
            raise r.error("path", "missing: a file glob such as 'exports/web/*.jsonl.gz'")
        columns = _parse_columns(r)
        options = r.table("options")
        for key in options:
            if key not in SOURCE_OPTIONS:
                allowed = ", ".join(sorted(SOURCE_OPTIONS))
                raise ConfigError(
                    cfg_path, f"{r.name}.options.{key}", f"unknown option (allowed: {allowed})"
                )
        record_id = r.get("record_id", str, "") or None
        if connector == "csv" and record_id is None:
            raise r.error("record_id", "missing: the csv connector needs the natural-key column")
        country = r.get("default_country", str, "") or None
        if country is not None and not _COUNTRY.match(country):
            raise r.error("default_country", "expected an ISO 3166 alpha-2 code such as 'ES'")
        src = SourceSettings(
            name=name,
            connector=connector,
            path=path,
            root=base,
            record_id=record_id,
            columns=MappingProxyType(columns),
            options=MappingProxyType(dict(options)),
            default_country=country,
        )
        if check_files and not src.files():
            raise r.error("path", f"glob {path!r} matches no file (looked in {base})")
        yield src


def _parse_columns(r: SectionReader) -> dict[str, str]:
    columns = dict(r.table("columns"))
    for canon, col in columns.items():
        if canon not in MAPPABLE_COLUMNS | MAPPABLE_INTERACTION_COLUMNS:
            raise ConfigError(
                r.path,
                f"{r.name}.columns.{canon}",
                "unknown canonical column (see DESIGN contract 3)",
            )
        if not isinstance(col, str) or not col:
            raise ConfigError(r.path, f"{r.name}.columns.{canon}", "expected a column name")
    return columns


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p)
