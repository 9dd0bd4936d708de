"""`[resolve.fuzzy]` options: threshold, blocking rules, comparisons, EM and u-sampling knobs.

Example (every key optional)::

    [resolve.fuzzy]
    threshold = 0.99                 # match probability a pair needs to be reported
    comparisons = ["first_name", "last_name", "email", "phone", "birth_date", "address", "ids"]
    max_block_size = 1000            # key values shared by more records are skipped and reported
    em_max_iterations = 25
    em_convergence = 0.0001
    u_sample_size = 100000           # random record pairs used to estimate u
    tf_adjustment = true
    seed = 42
    labels = "labels.csv"            # labelled pairs: record_key_l, record_key_r, is_match
    blocking = [ { name = "email", on = ["email_key"] },
                 { name = "dob", on = ["birth_date"], max_block_size = 12 } ]
    guard_weight = -60.0             # household guard (twins, parent/child); 0 turns it off
    [resolve.fuzzy.fixed_m]          # expert m probabilities EM must not move
    "phone.else" = 0.3
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cdp.config import SectionReader, Settings
from cdp.resolve.fuzzy.blocking import BLOCK_KEYS, BlockingRule
from cdp.resolve.fuzzy.comparisons import COMPARISONS

DEFAULT_BLOCKING: tuple[BlockingRule, ...] = (
    BlockingRule("email", ("email_key",)),
    BlockingRule("phone", ("phone",)),
    BlockingRule("user_id", ("user_id",)),
    BlockingRule("external_id", ("external_customer_id",)),
    BlockingRule("card", ("card_fingerprint",)),
    # first name and surname, in either order (a swapped pair blocks with its original)
    BlockingRule("full_name", ("name_pair",)),
    # a birth date alone makes ~n²/50,000 pairs (29M at 1M records): narrower rules carry
    # it at scale, the broad ones only keep their small blocks (rule-level caps)
    BlockingRule("birth_date", ("birth_date",), max_block_size=12),
    BlockingRule("birth_date_first_initial", ("birth_date", "first_initial")),
    BlockingRule("birth_date_surname_initial", ("birth_date", "surname_initial")),
    BlockingRule("surname_prefix_postcode", ("surname_prefix", "postal_code")),
    BlockingRule("surname_sound_birth_year", ("surname_sound", "birth_year"), max_block_size=25),
    BlockingRule("surname_sound_year_initial", ("surname_sound", "birth_year", "first_initial")),
    BlockingRule("first_name_street", ("first_name_key", "street_key")),
    BlockingRule("first_sound_postcode", ("first_name_sound", "postal_code")),
    BlockingRule("street_number_postcode", ("street_number", "postal_code")),
    # street typed with a typo or a space past its 6th letter, postcode digits transposed;
    # blocks over 10 records (a household's many records, a block of flats) are left to
    # the other address rules: at 1.1M records 0.98M pairs uncapped, 0.21M capped
    BlockingRule("street_prefix_postcode", ("street_prefix", "postcode_sorted"), max_block_size=10),
)

#: Expert m probabilities EM keeps fixed (none by default; the household guard covers
#: twins and families, see guard.py).
DEFAULT_FIXED_M: Mapping[str, float] = MappingProxyType({})

_RULE_KEYS = frozenset({"name", "on", "max_block_size"})
_KEYS = frozenset(
    {
        "threshold",
        "comparisons",
        "blocking",
        "max_block_size",
        "retrain_growth",
        "em_max_iterations",
        "em_convergence",
        "u_sample_size",
        "tf_adjustment",
        "seed",
        "fixed_m",
        "labels",
        "guard_weight",
    }
)


@dataclass(frozen=True, slots=True)
class FuzzySettings:
    """Everything `find_matches` needs; defaults are tuned on generated and FEBRL data."""

    # 0.99, not 0.9: at 0.9 a bare first + last name agreement (namesakes) links, and on
    # 10k generated people 0.99 cut over-merged customers 709 -> 470 for +0.004 F1.
    threshold: float = 0.99
    blocking: tuple[BlockingRule, ...] = DEFAULT_BLOCKING
    comparisons: tuple[str, ...] = tuple(COMPARISONS)
    max_block_size: int = 1000
    em_max_iterations: int = 25
    em_convergence: float = 1e-4
    u_sample_size: int = 100_000
    tf_adjustment: bool = True
    seed: int = 42
    fixed_m: Mapping[str, float] = field(default_factory=lambda: DEFAULT_FIXED_M)
    labels_path: Path | None = None
    guard_weight: float = -60.0
    # retrain (and re-score every pair) once the records outnumber those the model was
    # trained on by this factor: a model trained on a first small delivery is not kept
    # forever (0 turns it off; `cdp resolve --retrain` always retrains)
    retrain_growth: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("threshold must be a probability strictly between 0 and 1")
        unknown = [c for c in self.comparisons if c not in COMPARISONS]
        if unknown:
            raise ValueError(f"unknown comparisons: {unknown}")
        if not self.blocking:
            raise ValueError("at least one blocking rule is needed")
        if self.guard_weight > 0:
            raise ValueError("guard_weight must be <= 0 (a penalty)")
        if self.retrain_growth != 0 and self.retrain_growth <= 1:
            raise ValueError("retrain_growth must be > 1, or 0 (never)")


def fuzzy_settings(settings: Settings) -> FuzzySettings:
    """Parse the optional `[resolve.fuzzy]` table, raising `ConfigError` naming the key."""
    table = settings.section("resolve").table("fuzzy")
    r = SectionReader(settings.path, "resolve.fuzzy", table)
    r.check_keys(_KEYS)
    d = FuzzySettings()
    threshold = r.get("threshold", float, d.threshold)
    if not 0.0 < threshold < 1.0:
        raise r.error("threshold", "expected a match probability between 0 and 1 (exclusive)")
    comparisons = tuple(r.get("comparisons", list, list(d.comparisons)))
    for c in comparisons:
        if c not in COMPARISONS:
            raise r.error(
                "comparisons", f"unknown comparison {c!r} (one of: {', '.join(COMPARISONS)})"
            )
    labels = r.get("labels", str, "")
    guard = r.get("guard_weight", float, d.guard_weight)
    if guard > 0:
        raise r.error("guard_weight", "expected a penalty <= 0 (log2 weight; 0 turns it off)")
    growth = r.get("retrain_growth", float, d.retrain_growth)
    if growth != 0 and growth <= 1:
        raise r.error("retrain_growth", "expected a factor > 1 (e.g. 2.0), or 0 for never")
    return FuzzySettings(
        threshold=threshold,
        blocking=_blocking(r) if "blocking" in table else d.blocking,
        comparisons=comparisons,
        max_block_size=_positive(r, "max_block_size", d.max_block_size),
        em_max_iterations=_positive(r, "em_max_iterations", d.em_max_iterations),
        em_convergence=r.get("em_convergence", float, d.em_convergence),
        u_sample_size=_positive(r, "u_sample_size", d.u_sample_size),
        tf_adjustment=r.get("tf_adjustment", bool, d.tf_adjustment),
        seed=r.get("seed", int, d.seed),
        fixed_m=_fixed_m(r, comparisons) if "fixed_m" in table else d.fixed_m,
        labels_path=(settings.path.parent / labels) if labels else None,
        guard_weight=guard,
        retrain_growth=growth,
    )


def _positive(r: SectionReader, key: str, default: int) -> int:
    value = r.get(key, int, default)
    if value <= 0:
        raise r.error(key, "expected a positive integer")
    return value


def _blocking(r: SectionReader) -> tuple[BlockingRule, ...]:
    rules = r.get("blocking", list, [])
    if not rules:
        raise r.error("blocking", "expected a non-empty list of {name, on} tables")
    out: list[BlockingRule] = []
    for i, raw in enumerate(rules):
        key = f"blocking[{i}]"
        if not isinstance(raw, Mapping) or not {"name", "on"} <= set(raw) <= _RULE_KEYS:
            raise r.error(key, "expected a table with 'name', 'on' and optional 'max_block_size'")
        name, on = raw["name"], raw["on"]
        cap = raw.get("max_block_size")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap <= 0):
            raise r.error(f"{key}.max_block_size", "expected a positive integer")
        if not isinstance(name, str) or not name:
            raise r.error(f"{key}.name", "expected a non-empty string")
        if name in {rule.name for rule in out}:
            raise r.error(f"{key}.name", f"duplicate rule name {name!r}")
        if not isinstance(on, list) or not on or not all(isinstance(k, str) for k in on):
            raise r.error(f"{key}.on", "expected a non-empty list of key names")
        for k in on:
            if k not in BLOCK_KEYS:
                raise r.error(f"{key}.on", f"unknown key {k!r} (one of: {', '.join(BLOCK_KEYS)})")
        out.append(BlockingRule(name, tuple(on), cap))
    return tuple(out)


def _fixed_m(r: SectionReader, comparisons: tuple[str, ...]) -> Mapping[str, float]:
    table: Mapping[str, Any] = r.table("fixed_m")
    out: dict[str, float] = {}
    for key, value in table.items():
        comp, _, level = key.partition(".")
        if comp not in comparisons or level not in COMPARISONS[comp].labels:
            raise r.error(
                f"fixed_m.{key}", "expected '<comparison>.<level>' of an enabled comparison"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise r.error(f"fixed_m.{key}", "expected a probability in (0, 1]")
        out[key] = float(value)
    return MappingProxyType(out)
