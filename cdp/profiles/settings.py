"""The `[profiles]` config table: survivorship rules, source priority, purchase events.

```toml
[profiles]
source_priority = ["shop", "crm", "payments", "web"]   # best source first
purchase_events = ["Order Completed", "purchase"]       # event names that are purchases
[profiles.survivorship]
email = "most_recent"
first_name = "source_priority"
address = "most_complete"       # street .. region are chosen together, from one record
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cdp.config import Settings

#: Survivorship rules a field may use.
RULES: tuple[str, ...] = (
    "source_priority",
    "most_recent",
    "most_frequent",
    "longest",
    "most_complete",
)

#: Golden fields picked one by one.
SINGLE_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "country",
)
#: Address parts: picked together from one record, so a street never pairs with another
#: record's city. Configured under the name `address`.
ADDRESS_FIELDS: tuple[str, ...] = (
    "street",
    "street_number",
    "address_line2",
    "city",
    "postal_code",
    "region",
)
GOLDEN_FIELDS: tuple[str, ...] = SINGLE_FIELDS + ADDRESS_FIELDS

DEFAULT_RULES: Mapping[str, str] = MappingProxyType(
    {
        "first_name": "most_frequent",
        "last_name": "most_frequent",
        "email": "most_recent",
        "phone": "most_recent",
        "birth_date": "most_frequent",
        "country": "most_frequent",
        "address": "most_recent",
    }
)

#: Event names (compared case-insensitively) that mean "a purchase happened" in web/app data.
DEFAULT_PURCHASE_EVENTS: tuple[str, ...] = (
    "order completed",
    "order_completed",
    "purchase",
    "checkout completed",
    "completed order",
)

_KEYS = frozenset({"source_priority", "survivorship", "purchase_events"})


@dataclass(frozen=True, slots=True)
class ProfileSettings:
    source_priority: tuple[str, ...] = ()
    rules: Mapping[str, str] = field(default_factory=lambda: DEFAULT_RULES)
    purchase_events: tuple[str, ...] = DEFAULT_PURCHASE_EVENTS

    def rule(self, field_name: str) -> str:
        """The rule for a golden field (address parts share the `address` rule)."""
        key = "address" if field_name in ADDRESS_FIELDS else field_name
        return self.rules.get(key, DEFAULT_RULES[key])


def profile_settings(settings: Settings) -> ProfileSettings:
    """Parse `[profiles]`; unknown keys, fields or rules are `ConfigError`s naming the key."""
    r = settings.section("profiles")
    r.check_keys(_KEYS)
    prio = r.get("source_priority", list, [s.name for s in settings.sources])
    if not all(isinstance(s, str) for s in prio):
        raise r.error("source_priority", "expected a list of source names")
    known = {s.name for s in settings.sources}
    unknown = [s for s in prio if s not in known]
    if unknown:
        raise r.error("source_priority", f"unknown source(s): {', '.join(unknown)}")
    rules = dict(DEFAULT_RULES)
    for name, rule in r.table("survivorship").items():
        key = f"survivorship.{name}"
        if name not in DEFAULT_RULES:
            raise r.error(key, f"unknown field (one of: {', '.join(DEFAULT_RULES)})")
        if rule not in RULES:
            raise r.error(key, f"unknown rule {rule!r} (one of: {', '.join(RULES)})")
        rules[name] = rule
    events = r.get("purchase_events", list, list(DEFAULT_PURCHASE_EVENTS))
    if not all(isinstance(e, str) for e in events):
        raise r.error("purchase_events", "expected a list of event names")
    return ProfileSettings(
        source_priority=tuple(prio),
        rules=MappingProxyType(rules),
        purchase_events=tuple(e.lower() for e in events),
    )
