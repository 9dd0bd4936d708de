"""A small lake (two customers, four sources) written under a temp data dir."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cdp.config import Settings, load_settings
from cdp.layout import Layout
from tests.profiles.frames import customer_records, identity, raw, settings_file, ts, write_lake

#: The person erasure tests forget; every value is unique to them.
ERASED = {
    "email": "zoe.erasable@example.org",
    "phone": "+34611222333",
    "first_name": "Zoelinda",
    "last_name": "Quixhotte",
}


def lake_frames() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    raws = [
        dict(
            source="shop",
            record_id="1001",
            occurred_at=ts(1),
            kind="order",
            amount=120,
            currency="EUR",
            status="paid",
            items=["TEE"],
            channel="shop",
            email="Ana@X.com",
            first_name="Ana",
            consent_ads=True,
            consent_marketing=True,
        ),
        dict(
            source="web",
            record_id="m-1",
            occurred_at=ts(0),
            kind="event",
            event_name="Page Viewed",
            channel="web",
            utm_source="google",
            anonymous_id="anon-1",
        ),
        dict(
            source="pay",
            record_id="ch_1",
            occurred_at=ts(1),
            kind="payment",
            amount=120,
            currency="EUR",
            status="paid",
            channel="payments",
            email="ana@x.com",
        ),
        dict(
            source="leads",
            record_id="L1",
            occurred_at=ts(2),
            kind="lead",
            channel="social",
            email=ERASED["email"],
            phone="611 222 333",
            first_name=ERASED["first_name"],
            last_name=ERASED["last_name"],
            consent_ads=True,
            extras='{"note": "' + ERASED["email"] + '"}',
        ),
        dict(
            source="shop",
            record_id="1002",
            occurred_at=ts(3),
            kind="order",
            amount=35,
            currency="EUR",
            status="paid",
            channel="shop",
            email=ERASED["email"],
            first_name=ERASED["first_name"],
            last_name=ERASED["last_name"],
        ),
    ]
    ids = identity(
        [
            dict(
                source="shop",
                record_id="1001",
                occurred_at=ts(1),
                first_name="Ana",
                last_name="Ruiz",
                email="ana@x.com",
                email_valid=True,
                phone="+34600111222",
                city="Madrid",
                country="ES",
            ),
            dict(source="web", record_id="m-1", occurred_at=ts(0), anonymous_id="anon-1"),
            dict(
                source="pay",
                record_id="ch_1",
                occurred_at=ts(1),
                email="ana@x.com",
                email_valid=True,
                card_fingerprint="fp_9",
            ),
            dict(
                source="leads",
                record_id="L1",
                occurred_at=ts(2),
                first_name=ERASED["first_name"],
                last_name=ERASED["last_name"],
                email=ERASED["email"],
                email_valid=True,
                phone=ERASED["phone"],
                phone_raw="611 222 333",
                email_raw=ERASED["email"],
            ),
            dict(
                source="shop",
                record_id="1002",
                occurred_at=ts(3),
                first_name=ERASED["first_name"],
                last_name=ERASED["last_name"],
                email=ERASED["email"],
                email_valid=True,
                city="Bilbao",
                country="ES",
            ),
        ]
    )
    cr = customer_records(
        [
            ("shop", "1001", "C-ana"),
            ("web", "m-1", "C-ana"),
            ("pay", "ch_1", "C-ana"),
            ("leads", "L1", "C-zoe"),
            ("shop", "1002", "C-zoe"),
        ]
    )
    return raw(raws), ids, cr


@pytest.fixture
def lake(tmp_path: Path) -> Settings:
    """Settings whose data dir holds the small lake."""
    settings = load_settings(settings_file(tmp_path), check_files=False)
    write_lake(Layout.of(settings), *lake_frames())
    return settings
