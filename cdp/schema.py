"""The column contracts between stages (DESIGN contract 3, and the lake layers).

Three layers, each an explicit Arrow schema so that no stage infers types:

* ``RAW_RECORD``: what every connector writes to ``lake/raw/<source>/``. Lineage,
  the canonical identity columns as *raw strings* (as found in the file, only
  unwrapped from format artefacts such as Meta's ``l:`` id prefix), the
  interaction columns that profiles need, and ``extras`` (JSON text) holding every
  other source field, so nothing is dropped.
* ``IDENTITY_RECORD``: what normalisation writes (``lake/identity_records.parquet``
  and the DuckDB table). The canonical columns, cleaned, plus matching keys and
  validity flags.
* Resolution outputs are described in ``cdp.resolve``; warehouse tables in
  ``cdp.warehouse``.

A record is identified everywhere by ``(source, record_id)``; ``record_key`` is the
single-string form ``"<source>:<record_id>"`` used in pair and graph tables.
"""

from __future__ import annotations

import pyarrow as pa

#: DESIGN contract 3, in order. The generic `csv` connector maps file columns onto these.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "source",
    "record_id",
    "occurred_at",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "birth_date",
    "street",
    "street_number",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "country",
    "user_id",
    "anonymous_id",
    "device_id",
    "card_fingerprint",
    "external_customer_id",
    "social_handle",
)

#: Canonical columns a `[sources.columns]` map may target (source is the config's name).
MAPPABLE_COLUMNS: frozenset[str] = frozenset(CANONICAL_COLUMNS) - {"source"}

#: Interaction columns a `[sources.columns]` map may also target (generic `csv` orders,
#: payments, leads): money is parsed with the source's separators, consent as yes/no.
MAPPABLE_INTERACTION_COLUMNS: frozenset[str] = frozenset(
    {
        "event_name",
        "amount",
        "amount_refunded",
        "currency",
        "status",
        "payment_method",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "consent_marketing",
        "consent_analytics",
        "consent_ads",
    }
)

#: Identifier columns (DESIGN: strong or shared identifiers), as used by the identity graph.
IDENTIFIER_COLUMNS: tuple[str, ...] = (
    "user_id",
    "anonymous_id",
    "device_id",
    "card_fingerprint",
    "external_customer_id",
    "social_handle",
)

#: What kind of interaction a raw record is; one timeline row per record.
INTERACTION_KINDS: tuple[str, ...] = ("event", "order", "payment", "lead", "profile")

TS = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(18, 4)

LINEAGE_FIELDS: list[pa.Field] = [
    pa.field("_source_file", pa.string(), nullable=False),  # path relative to the config folder
    pa.field("_line", pa.int64(), nullable=False),  # 1-based line (or row/offset) in that file
    pa.field("_file_sha256", pa.string(), nullable=False),
    pa.field("_ingested_at", TS, nullable=False),
]

_IDENTITY_RAW_FIELDS: list[pa.Field] = [
    pa.field("source", pa.string(), nullable=False),
    pa.field("record_id", pa.string(), nullable=False),
    pa.field("occurred_at", TS),
    *[pa.field(name, pa.string()) for name in CANONICAL_COLUMNS[3:]],
]

INTERACTION_FIELDS: list[pa.Field] = [
    pa.field("kind", pa.string(), nullable=False),  # one of INTERACTION_KINDS
    pa.field("event_name", pa.string()),  # e.g. "Order Completed", "page_view", "lead"
    pa.field("amount", MONEY),  # major currency units, exact
    pa.field("amount_refunded", MONEY),
    pa.field("currency", pa.string()),  # ISO 4217, upper case
    pa.field("status", pa.string()),  # paid / refunded / failed / disputed / ...
    pa.field("items", pa.list_(pa.string())),  # SKUs or product names
    pa.field("payment_method", pa.string()),
    pa.field("channel", pa.string()),  # web / app / social / shop / payments
    pa.field("utm_source", pa.string()),
    pa.field("utm_medium", pa.string()),
    pa.field("utm_campaign", pa.string()),
    pa.field("consent_marketing", pa.bool_()),  # null = not stated (profiles treat as no)
    pa.field("consent_analytics", pa.bool_()),
    pa.field("consent_ads", pa.bool_()),
    pa.field("extras", pa.string()),  # JSON object of every other field of the source record
]

RAW_RECORD: pa.Schema = pa.schema(_IDENTITY_RAW_FIELDS + INTERACTION_FIELDS + LINEAGE_FIELDS)

#: Normalised identity records: canonical columns (cleaned) + matching keys + flags.
IDENTITY_RECORD: pa.Schema = pa.schema(
    [
        pa.field("record_key", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("occurred_at", TS),
        # display forms (accents kept, titles removed, casing tidied)
        pa.field("first_name", pa.string()),
        pa.field("last_name", pa.string()),
        pa.field("full_name", pa.string()),
        # contact points, normalised; the raw value is kept alongside
        pa.field("email", pa.string()),  # trimmed, lower-case, display name stripped
        pa.field("email_key", pa.string()),  # matching key: gmail dots and +tags folded
        pa.field("email_raw", pa.string()),
        pa.field("email_valid", pa.bool_()),
        pa.field("phone", pa.string()),  # E.164, null when invalid
        pa.field("phone_raw", pa.string()),
        pa.field("phone_valid", pa.bool_()),
        pa.field("birth_date", pa.date32()),
        pa.field("birth_date_raw", pa.string()),
        pa.field("street", pa.string()),  # street name with type expanded/abbreviated canonically
        pa.field("street_number", pa.string()),
        pa.field("address_line2", pa.string()),
        pa.field("city", pa.string()),
        pa.field("postal_code", pa.string()),
        pa.field("region", pa.string()),
        pa.field("country", pa.string()),  # ISO 3166-1 alpha-2
        # identifiers, trimmed, placeholders nulled
        pa.field("user_id", pa.string()),
        pa.field("anonymous_id", pa.string()),
        pa.field("device_id", pa.string()),
        pa.field("card_fingerprint", pa.string()),
        pa.field("external_customer_id", pa.string()),
        pa.field("social_handle", pa.string()),
        # matching keys: ascii-folded, lower-case, nicknames canonicalised
        pa.field("first_name_key", pa.string()),  # "pepe" -> "jose", "maria jose" kept whole
        pa.field("last_name_key", pa.string()),  # both surnames, space-joined
        pa.field("last_name_first_key", pa.string()),  # first surname only (Hispanic paternal)
        pa.field("street_key", pa.string()),
        pa.field("city_key", pa.string()),
        # which columns held a blocked placeholder (names, comma-separated) for reporting
        pa.field("blocked_fields", pa.string()),
    ]
)


def empty_table(schema: pa.Schema) -> pa.Table:
    """A zero-row table with exactly `schema` (a stage with no input still writes its layer)."""
    return schema.empty_table()


def record_key(source: str, record_id: str) -> str:
    """The single-string record identity used in pair and graph tables."""
    return f"{source}:{record_id}"


# --- resolution outputs (lake/resolved/*.parquet), loaded into the warehouse by profiles ---

#: One row per pair the fuzzy matcher scored above its threshold (cdp.resolve.fuzzy output).
SCORED_PAIR: pa.Schema = pa.schema(
    [
        pa.field("record_key_l", pa.string(), nullable=False),  # record_key_l < record_key_r
        pa.field("record_key_r", pa.string(), nullable=False),
        pa.field("match_weight", pa.float64(), nullable=False),  # log2 Bayes factor incl. prior
        pa.field("match_probability", pa.float64(), nullable=False),
        pa.field("weights", pa.string()),  # JSON {comparison: {"level": str, "weight": float}}
        pa.field("blocking_rule", pa.string()),  # first rule that produced the pair
    ]
)

#: lake/resolved/customer_records.parquet: every identity record and its customer.
CUSTOMER_RECORD: pa.Schema = pa.schema(
    [
        pa.field("record_key", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
    ]
)

#: lake/resolved/match_evidence.parquet: every link used to build customers.
MATCH_EVIDENCE: pa.Schema = pa.schema(
    [
        pa.field("record_key_a", pa.string(), nullable=False),
        pa.field("record_key_b", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),  # identifier:<type> | fuzzy | must_link
        pa.field("id_type", pa.string()),  # for identifier links: email, phone, user_id, ...
        pa.field("match_weight", pa.float64()),  # for fuzzy links
        pa.field("match_probability", pa.float64()),
        pa.field("weights", pa.string()),  # JSON per-field weights (fuzzy links)
    ]
)

#: lake/resolved/customer_id_changes.parquet: append-only history of id events.
CUSTOMER_ID_CHANGE: pa.Schema = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # created | merged | split | retired
        pa.field("old_customer_id", pa.string()),
        pa.field("new_customer_id", pa.string()),
        pa.field("records", pa.int64()),  # records moved by this event
        pa.field("changed_at", TS, nullable=False),
    ]
)
