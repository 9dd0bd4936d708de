"""Connectors: read real export files into the raw Parquet lake (`cdp.schema.RAW_RECORD`).

One module per connector, named as in the config (`segment`, `ga4`, `meta_leads`,
`shopify_orders`, `stripe_payments`, `csv`). Built by issue #3.
"""
