"""Unified customer profiles: golden records, traits, timeline, identifiers.

Pure functions over polars frames in the contract schemas (`cdp.schema`); the
warehouse file itself is written by `cdp.warehouse`, the stage by
`pipelines.profiles`.
"""
