"""Column shapes of customer exports: our default, HubSpot contacts, Salesforce Contacts.

HubSpot's contact import matches columns to properties by header name ("Email",
"First Name", "Phone Number", "Country/Region", ...); Salesforce's Data Import
Wizard / Data Loader use Contact field API names (`FirstName`, `MailingCity`, ...).
Custom fields carry our id and traits (`CDP Customer ID`, `CDP_Customer_ID__c`) so a
later change feed can find the record again.
"""

from __future__ import annotations

import polars as pl

from cdp.errors import CdpError

SHAPES: tuple[str, ...] = ("default", "hubspot", "salesforce")

DEFAULT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "first_name",
    "last_name",
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
    "funnel_stage",
    "rfm_segment",
    "orders_count",
    "lifetime_value",
    "currency",
    "last_order_at",
    "first_seen",
    "last_seen",
    "consent_marketing",
    "consent_analytics",
    "consent_ads",
)

#: HubSpot lifecycle stage internal values for our funnel stages.
_LIFECYCLE = {
    "visitor": "subscriber",
    "lead": "lead",
    "customer": "customer",
    "repeat_customer": "customer",
}


def _street() -> pl.Expr:
    return pl.concat_str(
        [pl.col("street"), pl.col("street_number"), pl.col("address_line2")],
        separator=" ",
        ignore_nulls=True,
    ).replace("", None)


def _hubspot() -> list[pl.Expr]:
    return [
        pl.col("email").alias("Email"),
        pl.col("first_name").alias("First Name"),
        pl.col("last_name").alias("Last Name"),
        pl.col("phone").alias("Phone Number"),
        _street().alias("Street Address"),
        pl.col("city").alias("City"),
        pl.col("region").alias("State/Region"),
        pl.col("postal_code").alias("Postal Code"),
        pl.col("country").alias("Country/Region"),
        pl.col("funnel_stage")
        .replace_strict(_LIFECYCLE, default=None, return_dtype=pl.String)
        .alias("Lifecycle Stage"),
        pl.col("customer_id").alias("CDP Customer ID"),
        pl.col("lifetime_value").cast(pl.Float64).alias("CDP Lifetime Value"),
        pl.col("currency").alias("CDP Currency"),
        pl.col("orders_count").alias("CDP Orders"),
        pl.col("consent_marketing").alias("CDP Marketing Consent"),
    ]


def _salesforce() -> list[pl.Expr]:
    return [
        pl.col("email").alias("Email"),
        pl.col("first_name").alias("FirstName"),
        # LastName is required on Contact; Salesforce's own placeholder for a missing value.
        pl.col("last_name").fill_null("[not provided]").alias("LastName"),
        pl.col("phone").alias("Phone"),
        _street().alias("MailingStreet"),
        pl.col("city").alias("MailingCity"),
        pl.col("region").alias("MailingState"),
        pl.col("postal_code").alias("MailingPostalCode"),
        pl.col("country").alias("MailingCountry"),
        pl.col("birth_date").alias("Birthdate"),
        (~pl.col("consent_marketing").fill_null(False)).alias("HasOptedOutOfEmail"),
        pl.col("customer_id").alias("CDP_Customer_ID__c"),
        pl.col("lifetime_value").cast(pl.Float64).alias("CDP_Lifetime_Value__c"),
        pl.col("currency").alias("CDP_Currency__c"),
        pl.col("orders_count").alias("CDP_Orders__c"),
    ]


def id_column(shape: str) -> str:
    """The column holding our customer_id in a shape (for the export log and erasure)."""
    return {"default": "customer_id", "hubspot": "CDP Customer ID"}.get(shape, "CDP_Customer_ID__c")


def shape_customers(customers: pl.DataFrame, shape: str) -> pl.DataFrame:
    """`customers` (warehouse table) in the columns a CRM import expects."""
    if shape == "default":
        return customers.select(DEFAULT_COLUMNS)
    if shape == "hubspot":
        return customers.select(_hubspot())
    if shape == "salesforce":
        return customers.select(_salesforce())
    raise CdpError(f"unknown export shape {shape!r} (one of: {', '.join(SHAPES)})")
