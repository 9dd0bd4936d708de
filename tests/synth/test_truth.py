"""truth.csv names every distinct source record by the connector's natural key, once."""

from __future__ import annotations

import polars as pl

from cdp.record_ids import ga4_record_id
from cdp.synth import SynthSummary
from tests.synth.conftest import PEOPLE, files, read_delimited, read_ndjson


def _ids(truth: pl.DataFrame, source: str) -> set[str]:
    return set(truth.filter(pl.col("source") == source)["record_id"])


def test_truth_is_unique_and_covers_the_five_sources(
    truth: pl.DataFrame, landing: SynthSummary
) -> None:
    assert truth.columns == ["source", "record_id", "person_id"]
    assert truth.select(pl.struct("source", "record_id").is_unique().all()).item()
    assert set(truth["source"]) == {"web", "app", "leads", "shop", "payments"}
    assert truth["person_id"].str.contains(r"^p\d{7}$").all()
    assert truth["person_id"].n_unique() <= PEOPLE
    assert truth.height == landing.records


def test_segment_message_ids_match_and_duplicate_deliveries_collapse(
    truth: pl.DataFrame, landing: SynthSummary
) -> None:
    df = read_ndjson(files(landing, "web"))
    assert set(df["messageId"]) == _ids(truth, "web")
    dupes = df.group_by("messageId").agg(pl.col("filename").n_unique().alias("files"))
    assert dupes.filter(pl.col("files") > 1).height > 0, "re-delivered in another file"
    assert df.height == landing.sources["web"].rows > len(_ids(truth, "web"))


def test_ga4_record_ids_are_the_connector_derivation(
    truth: pl.DataFrame, landing: SynthSummary
) -> None:
    df = read_ndjson(files(landing, "app"))
    cols = ("stream_id", "user_pseudo_id", "event_timestamp", "event_name",
            "event_bundle_sequence_id")  # fmt: skip
    derived = {ga4_record_id(*row) for row in df.select(cols).iter_rows()}
    assert derived == _ids(truth, "app")
    assert len(derived) == df.height


def test_meta_lead_ids_without_prefix_and_overlapping_downloads(
    truth: pl.DataFrame, landing: SynthSummary
) -> None:
    df = pl.concat(
        [read_delimited(p, "\t").select("id").with_columns(pl.lit(p.name).alias("file"))
         for p in files(landing, "leads")]
    )  # fmt: skip
    assert set(df["id"].str.strip_prefix("l:")) == _ids(truth, "leads")
    assert df.height > len(_ids(truth, "leads")), "some leads are in two downloads"


def test_shopify_names_and_stripe_ids(truth: pl.DataFrame, landing: SynthSummary) -> None:
    shop = pl.concat([read_delimited(p) for p in files(landing, "shop")])
    assert set(shop["Name"]) == _ids(truth, "shop")
    assert shop.height > shop["Name"].n_unique(), "multi-row orders"
    pay = pl.concat([read_delimited(p) for p in files(landing, "payments")], how="diagonal")
    assert set(pay["id"]) == _ids(truth, "payments")
    assert pay.height == pay["id"].n_unique()


def test_linked_payments_belong_to_the_orders_person(
    truth: pl.DataFrame, landing: SynthSummary
) -> None:
    pay = pl.concat([read_delimited(p) for p in files(landing, "payments")], how="diagonal")
    linked = pay.filter(pl.col("order_id (metadata)").is_not_null()).select(
        "id", pl.format("#{}", pl.col("order_id (metadata)")).alias("Name")
    )
    assert linked.height > 0
    who = truth.select("record_id", "person_id")
    joined = linked.join(who, left_on="id", right_on="record_id").join(
        who, left_on="Name", right_on="record_id", suffix="_order"
    )
    assert joined.height == linked.height
    assert (joined["person_id"] == joined["person_id_order"]).all()


def test_order_completed_events_are_the_same_persons_shop_orders(
    truth: pl.DataFrame, landing: SynthSummary
) -> None:
    web = read_ndjson(files(landing, "web"))
    orders = (
        web.filter(pl.col("event") == "Order Completed")
        .select("messageId", pl.col("properties").struct.field("order_id").alias("Name"))
        .unique("messageId")
    )
    assert orders.height > 0
    who = truth.select("record_id", "person_id")
    joined = orders.join(who, left_on="messageId", right_on="record_id").join(
        who, left_on="Name", right_on="record_id", suffix="_order"
    )
    assert joined.height == orders.height, "every order_id is a Shopify order Name"
    assert (joined["person_id"] == joined["person_id_order"]).all()
