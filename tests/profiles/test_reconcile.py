"""Every warehouse table checked against the others in SQL, independently of the polars
code that built them: counts reconcile, no customer without records, every golden value
has provenance pointing at one of the customer's records, and the traits equal values
recomputed from the timeline (first/last seen, interactions, orders on the counted tier,
net lifetime value in the main currency, channels)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from benchmarks.bench_profiles import generate
from cdp.profiles.build import build_tables, views_sql
from cdp.profiles.settings import DEFAULT_PURCHASE_EVENTS, GOLDEN_FIELDS, ProfileSettings
from cdp.profiles.traits import NOT_COUNTED_STATUSES, REFUNDED_STATUSES
from cdp.warehouse import build_warehouse

_GOLDEN = ", ".join(
    f"CAST({f} AS VARCHAR) AS {f}" if f == "birth_date" else f for f in GOLDEN_FIELDS
)

CHECKS: dict[str, str] = {
    "records_vs_identity": """
        SELECT abs((SELECT count(*) FROM customer_records)
                   - (SELECT count(*) FROM identity_records))""",
    "records_not_unique": """
        SELECT count(*) - count(DISTINCT (source, record_id)) FROM customer_records""",
    "customers_vs_record_customers": """
        SELECT abs((SELECT count(*) FROM customers)
                   - (SELECT count(DISTINCT customer_id) FROM customer_records))""",
    "customers_without_records": """
        SELECT count(*) FROM customers c
        WHERE c.records < 1
           OR c.records <> (SELECT count(*) FROM customer_records r
                            WHERE r.customer_id = c.customer_id)""",
    "interactions_without_record": """
        SELECT count(*) FROM interactions i ANTI JOIN customer_records r
        ON i.source = r.source AND i.record_id = r.record_id AND i.customer_id = r.customer_id""",
    "golden_without_provenance": f"""
        SELECT count(*) FROM (
            UNPIVOT (SELECT customer_id, {_GOLDEN} FROM customers)
            ON {", ".join(GOLDEN_FIELDS)} INTO NAME field VALUE value) g
        ANTI JOIN customer_field_provenance p
        ON p.customer_id = g.customer_id AND p.field = g.field AND p.value = g.value""",
    "provenance_from_another_customer": """
        SELECT count(*) FROM customer_field_provenance p ANTI JOIN customer_records r
        ON p.source = r.source AND p.record_id = r.record_id AND p.customer_id = r.customer_id""",
    "activity_traits": """
        SELECT count(*) FROM customers c JOIN (
            SELECT customer_id, min(occurred_at) AS fs, max(occurred_at) AS ls, count(*) AS n,
                   list_sort(list_distinct(list(channel))) AS ch
            FROM interactions GROUP BY ALL) t USING (customer_id)
        WHERE c.first_seen IS DISTINCT FROM t.fs OR c.last_seen IS DISTINCT FROM t.ls
           OR c.interactions_count <> t.n OR c.channels IS DISTINCT FROM t.ch""",
    "orders_and_value": """
        WITH tiered AS (
            SELECT *, CASE
                WHEN kind = 'order' AND coalesce(status, '') NOT IN $nc THEN 1
                WHEN kind = 'payment' AND coalesce(status, '') NOT IN $nc THEN 2
                WHEN kind = 'event' AND lower(event_name) IN $pe THEN 3 END AS tier
            FROM interactions),
        counted AS (
            SELECT *, coalesce(amount, 0) - CASE
                WHEN amount_refunded IS NOT NULL THEN amount_refunded
                WHEN status IN $rf THEN coalesce(amount, 0) ELSE 0 END AS net
            FROM tiered
            WHERE tier = (SELECT min(tier) FROM tiered t WHERE t.customer_id = tiered.customer_id)),
        per_currency AS (
            SELECT customer_id, coalesce(currency, 'XXX') AS currency, count(*) AS n, sum(net) AS v
            FROM counted GROUP BY ALL),
        main AS (
            SELECT customer_id, arg_min(currency, (-n, -v, currency)) AS currency,
                   arg_min(v, (-n, -v, currency)) AS v
            FROM per_currency GROUP BY customer_id),
        orders AS (SELECT customer_id, count(*) AS n FROM counted GROUP BY ALL)
        SELECT count(*) FROM customers c LEFT JOIN orders o USING (customer_id)
        LEFT JOIN main m USING (customer_id)
        WHERE c.orders_count <> coalesce(o.n, 0) OR c.currency IS DISTINCT FROM m.currency
           OR c.lifetime_value IS DISTINCT FROM m.v""",
}


def reconcile(warehouse: Path, purchase_events: tuple[str, ...]) -> dict[str, int]:
    """Violations per check (each should be 0) in a built warehouse."""
    params = {
        "nc": list(NOT_COUNTED_STATUSES),
        "rf": list(REFUNDED_STATUSES),
        "pe": list(purchase_events),
    }
    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for name, sql in CHECKS.items():
            used = {k: v for k, v in params.items() if f"${k}" in sql}
            out[name] = int(con.execute(sql, used).fetchall()[0][0])
    return out


@pytest.mark.parametrize("rule", ["most_recent", "source_priority", "longest"])
def test_every_table_reconciles_on_generated_data(tmp_path: Path, rule: str) -> None:
    lake = generate(4_000, seed=5)
    rules = {
        "first_name": rule,
        "last_name": "most_frequent",
        "email": rule,
        "phone": rule,
        "birth_date": "most_frequent",
        "country": "most_frequent",
        "address": rule,
    }
    cfg = ProfileSettings(source_priority=("shop", "pay", "leads", "app", "web"), rules=rules)
    build = build_tables(lake, cfg)
    assert build.passed, build.checks
    wh = tmp_path / "cdp.duckdb"
    build_warehouse(wh, build.tables, views_sql=views_sql())
    assert reconcile(wh, DEFAULT_PURCHASE_EVENTS) == dict.fromkeys(CHECKS, 0)
    with duckdb.connect(str(wh), read_only=True) as con:  # the checks saw real data
        values = con.execute("select count(*) from customer_field_provenance").fetchall()[0][0]
        buyers = con.execute("select count(*) from customers where orders_count > 1").fetchall()
    assert values > 4_000 and buyers[0][0] > 100


def test_the_checks_catch_a_wrong_value(tmp_path: Path) -> None:
    cfg = ProfileSettings(source_priority=("shop", "pay", "leads", "app", "web"))
    wh = tmp_path / "cdp.duckdb"
    build_warehouse(wh, build_tables(generate(1_500, seed=2), cfg).tables)
    breakage = {
        "orders_and_value": "UPDATE customers SET lifetime_value = lifetime_value + 1 "
        "WHERE customer_id = (SELECT min(customer_id) FROM customers WHERE orders_count > 0)",
        "golden_without_provenance": "UPDATE customers SET last_name = 'Other' "
        "WHERE customer_id = (SELECT min(customer_id) FROM customers)",
        "activity_traits": "UPDATE customers SET channels = ['fax'] "
        "WHERE customer_id = (SELECT max(customer_id) FROM customers)",
        "customers_without_records": "DELETE FROM customer_records "
        "WHERE record_id = (SELECT min(record_id) FROM customer_records)",
    }
    for check, sql in breakage.items():
        broken = tmp_path / f"{check}.duckdb"
        broken.write_bytes(wh.read_bytes())
        with duckdb.connect(str(broken)) as con:
            con.execute(sql)
        found = reconcile(broken, DEFAULT_PURCHASE_EVENTS)
        assert found[check] >= 1, (check, found)
