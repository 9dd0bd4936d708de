"""Identity-resolution rules: the `[identifiers]` and `[resolve]` config tables.

Example (every key optional; lists add to the built-in defaults)::

    [resolve]
    overrides = "overrides.csv"      # must/cannot-link pairs, relative to the config folder
    max_cluster_size = 50            # distinct identity profiles a customer may hold
    oversize = "split"               # split | hold  (what to do with a bigger cluster)

    [identifiers]
    priority = ["user_id", "external_customer_id", "email", "phone", "anonymous_id"]
    evidence_only = ["device_id", "card_fingerprint", "social_handle"]
    limits = { user_id = 1, external_customer_id = 1 }   # distinct values per customer
    blocked_values = ["abc123"]      # any type, compared case-insensitively
    blocked_patterns = ['^[0-]*$']   # regexes, any type
    shared_checks = ["email", "phone", "anonymous_id"]
    max_names = 5                    # a value seen with more distinct first names is junk
    name_similarity = 0.8            # Jaro-Winkler below this = two different first names
    birth_gap_years = 10             # birth dates further apart = two people (parent, child)
    [identifiers.blocked]
    email = ["info@example.com"]

Linking types (those in `priority`) join records on their own; evidence-only types
never do (Segment's shared-iPad lesson). Limits follow Segment Unify: one `user_id`
per customer; when a merge would break a limit the lower-priority link is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cdp.config import SectionReader, Settings

#: id_type -> identity-record column holding its normalised value.
ID_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "user_id": "user_id",
        "external_customer_id": "external_customer_id",
        "email": "email_key",
        "phone": "phone",
        "anonymous_id": "anonymous_id",
        "device_id": "device_id",
        "card_fingerprint": "card_fingerprint",
        "social_handle": "social_handle",
    }
)

DEFAULT_PRIORITY: tuple[str, ...] = (
    "user_id",
    "external_customer_id",
    "email",
    "phone",
    "anonymous_id",
)
DEFAULT_EVIDENCE_ONLY: tuple[str, ...] = ("device_id", "card_fingerprint", "social_handle")
DEFAULT_LIMITS: Mapping[str, int] = MappingProxyType({"user_id": 1, "external_customer_id": 1})

#: Placeholders seen in real exports (Segment Unify's recommended list plus dev values).
DEFAULT_BLOCKED_VALUES: frozenset[str] = frozenset(
    {
        "",
        "null",
        "none",
        "nil",
        "nan",
        "n/a",
        "na",
        "-1",
        "0",
        "anonymous",
        "unknown",
        "undefined",
        "void",
        "abc123",
        "test",
        "guest",
    }
)
DEFAULT_BLOCKED_PATTERNS: tuple[str, ...] = (
    r"^[0-]*$",
    r"^\+?0+$",
    r"^(test|noemail|no-email|none|noreply|no-reply|donotreply|nobody|null|unknown)@",
    r"@(example|test)\.(com|org|net)$",
)

_RESOLVE_KEYS = frozenset({"overrides", "max_cluster_size", "oversize", "fuzzy"})
_ID_KEYS = frozenset(
    {
        "priority",
        "evidence_only",
        "limits",
        "blocked_values",
        "blocked_patterns",
        "blocked",
        "shared_checks",
        "max_names",
        "name_similarity",
        "birth_gap_years",
    }
)


@dataclass(frozen=True, slots=True)
class IdentifierRules:
    """Which identifiers link, which are only evidence, and the over-merge limits."""

    priority: tuple[str, ...] = DEFAULT_PRIORITY
    evidence_only: tuple[str, ...] = DEFAULT_EVIDENCE_ONLY
    limits: Mapping[str, int] = field(default_factory=lambda: DEFAULT_LIMITS)
    blocked_values: frozenset[str] = DEFAULT_BLOCKED_VALUES
    blocked_patterns: tuple[str, ...] = DEFAULT_BLOCKED_PATTERNS
    blocked_by_type: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    shared_checks: tuple[str, ...] = ("email", "phone", "anonymous_id")
    max_names: int = 5
    name_similarity: float = 0.8
    birth_gap_years: int = 10

    def __post_init__(self) -> None:
        both = set(self.priority) & set(self.evidence_only)
        if both:
            raise ValueError(f"types both linking and evidence-only: {sorted(both)}")
        for t in (*self.priority, *self.evidence_only, *self.limits, *self.shared_checks):
            if t not in ID_COLUMNS:
                raise ValueError(f"unknown identifier type {t!r}")

    def rank(self, id_type: str) -> int:
        """Lower is stronger; evidence-only types rank after every linking type."""
        if id_type in self.priority:
            return self.priority.index(id_type)
        return len(self.priority)

    @property
    def all_types(self) -> tuple[str, ...]:
        return (*self.priority, *self.evidence_only)


@dataclass(frozen=True, slots=True)
class ResolveSettings:
    """Everything the deterministic graph, guards and ids need."""

    identifiers: IdentifierRules = field(default_factory=IdentifierRules)
    overrides_path: Path | None = None
    max_cluster_size: int = 50
    oversize: str = "split"  # split | hold

    def __post_init__(self) -> None:
        if self.oversize not in ("split", "hold"):
            raise ValueError("oversize must be 'split' or 'hold'")
        if self.max_cluster_size < 1:
            raise ValueError("max_cluster_size must be positive")


def resolve_settings(settings: Settings) -> ResolveSettings:
    """Parse `[resolve]` (except `[resolve.fuzzy]`) and `[identifiers]`; errors name the key."""
    r = settings.section("resolve")
    r.check_keys(_RESOLVE_KEYS)
    overrides = r.get("overrides", str, "")
    size = r.get("max_cluster_size", int, 50)
    if size < 1:
        raise r.error("max_cluster_size", "expected a positive integer")
    oversize = r.get("oversize", str, "split")
    if oversize not in ("split", "hold"):
        raise r.error("oversize", "expected 'split' or 'hold'")
    return ResolveSettings(
        identifiers=identifier_rules(settings.section("identifiers")),
        overrides_path=(settings.path.parent / overrides) if overrides else None,
        max_cluster_size=size,
        oversize=oversize,
    )


def identifier_rules(r: SectionReader) -> IdentifierRules:
    """Parse `[identifiers]`; value lists add to the defaults, type lists replace them."""
    r.check_keys(_ID_KEYS)
    d = IdentifierRules()
    priority = _types(r, "priority", d.priority)
    evidence = _types(r, "evidence_only", d.evidence_only)
    clash = set(priority) & set(evidence)
    if clash:
        raise r.error("evidence_only", f"types also in priority: {', '.join(sorted(clash))}")
    limits = dict(d.limits)
    for t, n in r.table("limits").items():
        if t not in ID_COLUMNS:
            raise r.error(f"limits.{t}", "unknown identifier type")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise r.error(f"limits.{t}", "expected a positive integer")
        limits[t] = n
    patterns = (*d.blocked_patterns, *_strings(r, "blocked_patterns"))
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise r.error("blocked_patterns", f"invalid regex: {exc}") from exc
    by_type: dict[str, frozenset[str]] = {}
    for t, values in r.table("blocked").items():
        if t not in ID_COLUMNS:
            raise r.error(f"blocked.{t}", "unknown identifier type")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise r.error(f"blocked.{t}", "expected a list of strings")
        by_type[t] = frozenset(v.strip().lower() for v in values)
    max_names = r.get("max_names", int, d.max_names)
    if max_names < 1:
        raise r.error("max_names", "expected a positive integer")
    sim = r.get("name_similarity", float, d.name_similarity)
    if not 0.0 < sim <= 1.0:
        raise r.error("name_similarity", "expected a number in (0, 1]")
    gap = r.get("birth_gap_years", int, d.birth_gap_years)
    if gap < 1:
        raise r.error("birth_gap_years", "expected a positive integer")
    return IdentifierRules(
        priority=priority,
        evidence_only=evidence,
        limits=MappingProxyType(limits),
        blocked_values=d.blocked_values
        | frozenset(v.strip().lower() for v in _strings(r, "blocked_values")),
        blocked_patterns=patterns,
        blocked_by_type=MappingProxyType(by_type),
        shared_checks=_types(r, "shared_checks", d.shared_checks),
        max_names=max_names,
        name_similarity=sim,
        birth_gap_years=gap,
    )


def _strings(r: SectionReader, key: str) -> list[str]:
    values: Any = r.get(key, list, [])
    if not all(isinstance(v, str) for v in values):
        raise r.error(key, "expected a list of strings")
    return list(values)


def _types(r: SectionReader, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if key not in r.data:
        return default
    values = _strings(r, key)
    for v in values:
        if v not in ID_COLUMNS:
            raise r.error(key, f"unknown identifier type {v!r} (one of: {', '.join(ID_COLUMNS)})")
    if len(set(values)) != len(values):
        raise r.error(key, "duplicate identifier type")
    return tuple(values)
