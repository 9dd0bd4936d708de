"""Natural record ids that must be derived (DESIGN contract 3).

GA4 exports have no event id. The connector and the synthetic generator (whose
truth file names records by id) derive it the same way, from fields that a
re-export of the same event keeps unchanged.
"""

from __future__ import annotations

import hashlib

#: Fields hashed, in order; nulls count as empty strings.
GA4_ID_FIELDS: tuple[str, ...] = (
    "stream_id",
    "user_pseudo_id",
    "event_timestamp",
    "event_name",
    "event_bundle_sequence_id",
)

#: The same derivation in DuckDB SQL (columns as VARCHAR), for the connector's bulk path.
GA4_ID_SQL = (
    "md5(concat_ws('|', coalesce(stream_id, ''), coalesce(user_pseudo_id, ''), "
    "coalesce(event_timestamp, ''), coalesce(event_name, ''), "
    "coalesce(event_bundle_sequence_id, '')))"
)


def ga4_record_id(
    stream_id: str | None,
    user_pseudo_id: str | None,
    event_timestamp: str | None,
    event_name: str | None,
    event_bundle_sequence_id: str | None,
) -> str:
    """md5 hex of the `|`-joined fields (INT64 values as their decimal strings).

    >>> a = ga4_record_id("1", "abc.123", "1709374503642000", "page_view", None)
    >>> a == ga4_record_id("1", "abc.123", "1709374503642000", "page_view", "")
    True
    >>> len(a)
    32
    """
    parts = (stream_id, user_pseudo_id, event_timestamp, event_name, event_bundle_sequence_id)
    joined = "|".join("" if p is None else str(p) for p in parts)
    return hashlib.md5(joined.encode("utf-8"), usedforsecurity=False).hexdigest()
