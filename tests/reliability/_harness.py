"""Shared helpers of the reliability suite: a tiny landing folder, the CLI in a
subprocess, and a canonical comparison of everything a run leaves on disk.

"Identical" follows RELIABILITY §7: the same row multiset, checked with `EXCEPT ALL`
both ways plus equal counts, over every warehouse and snapshot table, every lake and
state Parquet file and every export, with volatile columns (load times, run ids)
left out.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl

from cdp.atomic import TEMP_NAME
from cdp.config import load_settings
from cdp.layout import Layout
from cdp.synth.generate import generate

#: The checkout these tests belong to: subprocesses run its code, not whatever is installed.
REPO = Path(__file__).resolve().parents[2]

#: Columns that legitimately differ between two runs over the same input.
VOLATILE = frozenset(
    {
        "_ingested_at",
        "ingested_at",
        "run_id",
        "changed_at",
        "built_at",
        "published_at",
        "exported_at",
        "id_created",  # the run id that issued a customer id
        "suppressed_at",
        "erased_at",
    }
)

#: Files whose content is bookkeeping of *when* things ran, not data.
NOT_COMPARED = frozenset({"export_log.parquet", "erasure_log.parquet", "pairs.fingerprint"})


def make_landing(dest: Path, *, people: int = 20, seed: int = 11) -> Path:
    """A `cdp synth` landing folder with few files per source (fast runs), plus one
    corrupt file so that the whole-file quarantine path is exercised. Returns cdp.toml."""
    full = dest.parent / f".{dest.name}-full"
    generate(full, people=people, seed=seed)
    dest.mkdir(parents=True)
    shutil.copy(full / "cdp.toml", dest / "cdp.toml")
    for folder in ("leads", "shop", "payments"):
        shutil.copytree(full / "exports" / folder, dest / "exports" / folder)
    web, app = dest / "exports" / "web", dest / "exports" / "app"
    web.mkdir(parents=True)
    app.mkdir(parents=True)
    days = sorted((full / "exports" / "web").glob("*.jsonl.gz"))
    for i in range(3):
        lines = b"".join(gzip.decompress(p.read_bytes()) for p in days[i::3])
        (web / f"segment-logs-part{i}.jsonl.gz").write_bytes(gzip.compress(lines, mtime=0))
    events = sorted((full / "exports" / "app").glob("*.jsonl"))
    for i in range(2):
        (app / f"events_2024010{i + 1}.jsonl").write_bytes(
            b"".join(p.read_bytes() for p in events[i::2])
        )
    broken = gzip.compress(b'{"a": 1}\n', mtime=0)[:-9]  # same bytes on every call
    (web / "segment-logs-broken.jsonl.gz").write_bytes(broken)
    shutil.rmtree(full)
    return dest / "cdp.toml"


def copy_landing(template: Path, dest: Path) -> Path:
    """A private copy of a landing folder (without any run output); returns its cdp.toml."""
    shutil.copytree(template, dest, ignore=shutil.ignore_patterns("out"))
    return dest / "cdp.toml"


def cdp(
    *args: str,
    config: Path,
    fault: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """`python -m cdp <args> --config <config>` in a subprocess, optionally with a fault."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CDP_FAULT")}
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    full_env.update(env or {})
    if fault:
        full_env["CDP_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "cdp", *args, "--config", str(config)],
        cwd=config.parent,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def layout_of(config: Path) -> Layout:
    return Layout.of(load_settings(config))


def _stable(df: pl.DataFrame) -> pl.DataFrame:
    return df.select([c for c in df.columns if c not in VOLATILE])


def _db_tables(path: Path, prefix: str) -> dict[str, pl.DataFrame]:
    out: dict[str, pl.DataFrame] = {}
    with duckdb.connect(str(path), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type='BASE TABLE'"
            ).fetchall()
        ]
        for name in names:
            out[f"{prefix}:{name}"] = _stable(con.sql(f'SELECT * FROM "{name}"').pl())
    return out


def _lines(path: Path) -> pl.DataFrame:
    return pl.DataFrame({"line": sorted(path.read_text(encoding="utf-8").splitlines())})


def capture(config: Path) -> dict[str, pl.DataFrame]:
    """Everything a run leaves under data_dir, as comparable frames keyed by location.

    Raw and quarantine files are unioned per source folder (file names carry content
    hashes, so the union is the lake's content); the snapshot is the one `CURRENT`
    names. Export and state files are compared by name. Hidden temp files a killed run
    leaves behind (`.<name>.<random>.tmp`) are not part of the state: no reader opens
    them, and the next write to the same target does not reuse them.
    """
    layout = layout_of(config)
    out: dict[str, pl.DataFrame] = {}
    if layout.warehouse.is_file():
        out |= _db_tables(layout.warehouse, "warehouse")
    current = layout.published / "CURRENT"
    if current.is_file():
        out |= _db_tables(layout.published / current.read_text().strip(), "snapshot")
    for folder in sorted(p for p in (layout.lake / "raw").glob("*") if p.is_dir()):
        files = sorted(folder.glob("*.parquet"))
        out[f"raw:{folder.name}"] = _stable(pl.concat([pl.read_parquet(f) for f in files]))
        out[f"rawfiles:{folder.name}"] = pl.DataFrame({"file": [f.name for f in files]})
    for folder in sorted(p for p in (layout.lake / "quarantine").glob("*") if p.is_dir()):
        files = sorted(folder.glob("*.parquet"))
        if files:
            out[f"quarantine:{folder.name}"] = _stable(
                pl.concat([pl.read_parquet(f) for f in files])
            )
        kept = (
            sorted(p.name for p in (folder / "files").glob("[!.]*"))
            if (folder / "files").is_dir()
            else []
        )
        out[f"quarantine_files:{folder.name}"] = pl.DataFrame(
            {"file": kept}, schema={"file": pl.String}
        )
    for base, tag in ((layout.lake, "lake"), (layout.state, "state")):
        for f in sorted(base.glob("*.parquet")) + sorted((base / "resolved").glob("*.parquet")):
            if f.name not in NOT_COMPARED:
                out[f"{tag}:{f.relative_to(base)}"] = _stable(pl.read_parquet(f))
    if layout.exports.is_dir():
        for f in sorted(layout.exports.rglob("*")):
            if f.is_file() and not f.name.startswith(".") and f.name not in NOT_COMPARED:
                rel = f.relative_to(layout.exports)
                out[f"export:{rel}"] = (
                    _stable(pl.read_parquet(f)) if f.suffix == ".parquet" else _lines(f)
                )
    return out


def differences(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> list[str]:
    """What differs between two captures (empty when identical): missing or extra keys,
    column sets, and rows found in one but not the other (`EXCEPT ALL` both ways)."""
    problems = [f"only in first: {k}" for k in sorted(a.keys() - b.keys())]
    problems += [f"only in second: {k}" for k in sorted(b.keys() - a.keys())]
    with duckdb.connect(":memory:") as con:
        for key in sorted(a.keys() & b.keys()):
            x, y = a[key], b[key]
            if set(x.columns) != set(y.columns):
                problems.append(f"{key}: columns {sorted(x.columns)} != {sorted(y.columns)}")
                continue
            if x.width == 0:
                continue
            con.register("x", x)
            con.register("y", y.select(x.columns))
            n_extra = _count(con, "SELECT * FROM x EXCEPT ALL SELECT * FROM y")
            n_missing = _count(con, "SELECT * FROM y EXCEPT ALL SELECT * FROM x")
            if n_extra or n_missing or x.height != y.height:
                problems.append(
                    f"{key}: {x.height} vs {y.height} rows, {n_extra} only in first, "
                    f"{n_missing} only in second"
                )
            con.unregister("x")
            con.unregister("y")
    return problems


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0])


def partial_files(config: Path) -> list[Path]:
    """Final-path Parquet/DuckDB files under data_dir that do not open (must be none)."""
    layout = layout_of(config)
    bad = []
    for f in layout.data_dir.rglob("*.parquet"):
        if f.name.startswith("."):
            continue
        try:
            pl.read_parquet_schema(f)
        except Exception:
            bad.append(f)
    for f in layout.data_dir.rglob("*.duckdb"):
        if f.name.startswith("."):
            continue
        try:
            duckdb.connect(str(f), read_only=True).close()
        except duckdb.Error:
            bad.append(f)
    return bad


def temp_files(config: Path) -> list[Path]:
    """Hidden temp files of the atomic writer (`cdp.atomic.TEMP_NAME`) under data_dir."""
    return sorted(p for p in layout_of(config).data_dir.rglob("*") if TEMP_NAME.match(p.name))


def last_run_record(config: Path) -> dict:
    """The newest `runs/<run_id>.json` (run ids sort by time)."""
    records = sorted(layout_of(config).runs.glob("*.json"))
    assert records, "no run record"
    return json.loads(records[-1].read_text(encoding="utf-8"))
