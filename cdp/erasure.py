"""Right to erasure (`cdp forget <email | phone | customer_id>`).

A person is found through the lake (identity records and the record → customer
map), and everything linked to them through the identity graph is removed from
every copy (RELIABILITY §0.4, §5, test 17):

* raw lake, quarantine, identity records, resolution outputs and state Parquet:
  affected files are rewritten (temp + `os.replace`), rows of the person's records
  dropped, plus any row holding one of their emails or phones;
* the warehouse is rebuilt into a fresh file (DELETE is not erasure), a new
  snapshot is published and every older snapshot deleted;
* export files are rewritten without them; the export log says which files (and so
  which CRMs or ad platforms) had received them, for the Art. 19 follow-up;
* a suppression entry per identifier (`state/suppression.parquet`: id_type and the
  SHA-256 of the normalised value, never plaintext) lets ingest drop the person on
  any replay of old exports (`filter_suppressed`);
* the match model's name frequencies (`state/match_model.json`, term-frequency
  tables) are recounted over the identity records that remain, so a rare surname
  does not outlive its owner there; verbatim copies of wholly quarantined files
  that mention the person are deleted (what could not be parsed cannot be
  rewritten). Kept on purpose: the export log and feed state (pseudonymous customer
  ids: which CRMs to notify, and the "deleted" rows of the next change feed), the
  erasure log and the suppression hashes.

Suppression keys are the forms normalisation stores (`cdp.normalize`: email
cleaned and lower-cased, phone E.164 in the source's default region), so a replay
matches whatever way the old file wrote the value.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from cdp import progress
from cdp.atomic import write_parquet as write_parquet_atomic
from cdp.atomic import write_text
from cdp.config import Settings
from cdp.errors import CdpError
from cdp.export.audience import normalised_phone
from cdp.export.files import read_export, write_export
from cdp.export.log import read_log
from cdp.faults import fault_point
from cdp.layout import Layout
from cdp.locks import run_lock
from cdp.normalize.email import email_value, normalize_emails
from cdp.normalize.phone import normalize_phones, phone_value
from cdp.profiles.build import build_from_lake
from cdp.profiles.lake import read_parquet, read_raw
from cdp.resolve.fuzzy.comparisons import COMPARISONS
from cdp.resolve.fuzzy.matcher import prepare
from cdp.resolve.fuzzy.model import load_model
from cdp.resolve.fuzzy.tf import TermFrequencies
from cdp.resolve.store import ResolvePaths
from cdp.schema import CUSTOMER_RECORD, IDENTITY_RECORD
from cdp.warehouse import prune_snapshots, publish_snapshot, sha256_hex

#: Identifier types that get a suppression entry (shared devices/cards are evidence
#: about several people, so they are not suppressed).
SUPPRESSED_TYPES: tuple[str, ...] = (
    "email",
    "phone",
    "user_id",
    "external_customer_id",
    "social_handle",
    "anonymous_id",
)
SUPPRESSION_SCHEMA: dict[str, pl.DataType] = {
    "id_type": pl.String(),
    "value_sha256": pl.String(),
    "suppressed_at": pl.Datetime("us", "UTC"),
}
_KEY_COLUMNS = ("record_key", "record_key_l", "record_key_r", "record_key_a", "record_key_b")
_PHONE_LIKE = re.compile(r"^\+?[0-9 ()./-]{6,}$")
_KEEP_STATE = {
    "suppression.parquet",
    "export_log.parquet",
    "export_feed.parquet",
    "erasure_log.parquet",
}


@dataclass
class ErasureResult:
    customer_ids: list[str]
    records: int
    files_rewritten: list[Path] = field(default_factory=list)
    files_deleted: list[Path] = field(default_factory=list)
    exports_received: list[str] = field(default_factory=list)
    suppressed: int = 0
    snapshot: Path | None = None


def suppression_path(layout: Layout) -> Path:
    return layout.state / "suppression.parquet"


# --- normalisation: exactly the forms the pipeline stores (cdp.normalize) -------------


def normalise_email(value: str) -> str:
    email, _ = email_value(value)
    if email is None:
        raise CdpError("the given email address is not valid")
    return email


def normalise_phone(value: str, region: str) -> str:
    """E.164 of one typed phone number; raises `CdpError` when it is not a phone."""
    phone = phone_value(value, region)
    if phone is None:
        raise CdpError("the given phone number could not be parsed")
    return phone


def classify(who: str, region: str) -> tuple[str, str]:
    """(id_type, normalised value) of what the operator typed: email, phone or customer_id."""
    text = who.strip()
    if "@" in text:
        return "email", normalise_email(text)
    if _PHONE_LIKE.match(text) and sum(ch.isdigit() for ch in text) >= 6:
        return "phone", normalise_phone(text, region)
    return "customer_id", text


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- suppression -----------------------------------------------------------------------


def read_suppression(layout: Layout) -> pl.DataFrame:
    path = suppression_path(layout)
    return pl.read_parquet(path) if path.is_file() else pl.DataFrame(schema=SUPPRESSION_SCHEMA)


def add_suppression(layout: Layout, entries: pl.DataFrame, at: datetime) -> int:
    """Append (id_type, value) entries as hashes; returns how many were new."""
    hashed = entries.select(
        "id_type",
        sha256_hex(entries["value"]).alias("value_sha256"),
        pl.lit(at).cast(SUPPRESSION_SCHEMA["suppressed_at"]).alias("suppressed_at"),
    )
    old = read_suppression(layout)
    new = hashed.join(old, on=["id_type", "value_sha256"], how="anti").unique(
        subset=["id_type", "value_sha256"]
    )
    if new.height:
        out = pl.concat([old, new], how="vertical_relaxed").sort("id_type", "value_sha256")
        write_parquet_atomic(out, suppression_path(layout))
    return new.height


def _regions(raw: pl.DataFrame, settings: Settings) -> pl.Series:
    """Default phone region per row, from its source (one lookup per source)."""
    regions: dict[str, str] = {}
    for source in raw["source"].unique().drop_nulls().to_list():
        try:
            regions[source] = settings.source_country(settings.source(source))
        except CdpError:
            regions[source] = settings.project.default_country
    return raw["source"].replace_strict(
        regions, default=settings.project.default_country, return_dtype=pl.String
    )


def filter_suppressed(raw: pl.DataFrame, settings: Settings) -> tuple[pl.DataFrame, int]:
    """Drop raw records (RAW_RECORD) that carry a suppressed identifier.

    Ingest calls this on every batch, so replaying old export files cannot bring an
    erased person back. Returns (kept rows, number dropped).
    """
    supp = read_suppression(Layout.of(settings))
    if supp.is_empty() or raw.is_empty():
        return raw, 0
    hit = pl.Series("hit", [False] * raw.height)
    for id_type in supp["id_type"].unique().to_list():
        if id_type not in raw.columns:
            continue
        values = raw[id_type].cast(pl.String)
        if id_type == "email":
            keys = normalize_emails(values)["email"]
        elif id_type == "phone":
            keys = normalize_phones(values, _regions(raw, settings))["phone"]
        else:
            keys = values.str.strip_chars()
        hashes = supp.filter(pl.col("id_type") == id_type)["value_sha256"]
        hit = hit | sha256_hex(keys).is_in(hashes.implode()).fill_null(False)
    return raw.filter(~hit), int(hit.sum())


# --- finding the person ----------------------------------------------------------------


@dataclass
class Subject:
    customer_ids: list[str]
    records: pl.DataFrame  # source, record_id, record_key
    identifiers: pl.DataFrame  # id_type, value (normalised) for suppression
    needles: list[str]  # emails/phones (normalised and raw spellings) to scrub anywhere
    exact: list[str]  # customer ids, identifier values and hashes matched whole


def find_subject(layout: Layout, id_type: str, value: str) -> Subject:
    """Everything linked to the person: their customers' records and identifiers."""
    identity = read_parquet(layout.identity_records, IDENTITY_RECORD)
    cr = read_parquet(layout.resolved / "customer_records.parquet", CUSTOMER_RECORD)
    if id_type == "customer_id":
        cids = [value] if value in set(cr["customer_id"].to_list()) else []
    else:
        hits = identity.filter(pl.col(id_type) == value).select("source", "record_id")
        cids = hits.join(cr, on=["source", "record_id"])["customer_id"].unique().to_list()
        raw = read_raw(layout)
        if raw.height:
            raw_key = (
                pl.col("email").str.strip_chars().str.to_lowercase()
                if id_type == "email"
                else pl.col("phone")
            )
            direct = raw.filter(raw_key == value).select("source", "record_id")
            cids += direct.join(cr, on=["source", "record_id"])["customer_id"].to_list()
    cids = sorted(set(cids))
    if not cids:
        raise CdpError(f"no customer matches the given {id_type.replace('_', ' ')}")
    records = cr.filter(pl.col("customer_id").is_in(cids)).select(
        "source", "record_id", "record_key"
    )
    mine = identity.join(records.select("source", "record_id"), on=["source", "record_id"])
    ids = pl.concat(
        [
            mine.select(pl.lit(t).alias("id_type"), pl.col(t).cast(pl.String).alias("value"))
            for t in SUPPRESSED_TYPES
        ]
        + [pl.DataFrame({"id_type": [id_type], "value": [value]})]
    ).filter(pl.col("value").is_not_null() & (pl.col("id_type") != "customer_id"))
    ids = ids.unique().sort("id_type", "value")
    spellings = [
        v for c in ("email_raw", "phone_raw") if c in mine.columns for v in mine[c].drop_nulls()
    ]
    contact = ids.filter(pl.col("id_type").is_in(["email", "phone"]))["value"].to_list()
    needles = sorted({s.strip() for s in contact + spellings if len(s.strip()) >= 6})
    phones = pl.Series(ids.filter(pl.col("id_type") == "phone")["value"])
    emails = pl.Series(ids.filter(pl.col("id_type") == "email")["value"])
    hashes = [
        *sha256_hex(emails).to_list(),
        *sha256_hex(phones.to_frame().select(normalised_phone(pl.col("value")))["value"]),
        *sha256_hex(phones).to_list(),
    ]
    others = ids.filter(~pl.col("id_type").is_in(["email", "phone"]))["value"].to_list()
    return Subject(cids, records, ids, needles, sorted(set(cids + others + hashes)))


# --- scrubbing files -------------------------------------------------------------------


def _doomed(df: pl.DataFrame, s: Subject) -> pl.Expr:
    """Rows of `df` that belong to the subject."""
    cond = pl.lit(False)
    if {"source", "record_id"} <= set(df.columns):
        pairs = s.records.select(pl.concat_str("source", "record_id", separator="\x1f"))
        key = pl.concat_str(pl.col("source"), pl.col("record_id"), separator="\x1f")
        cond = cond | key.is_in(pairs.to_series().implode()).fill_null(False)
    keys = s.records["record_key"].implode()
    for c in _KEY_COLUMNS:
        if c in df.columns:
            cond = cond | pl.col(c).is_in(keys).fill_null(False)
    for c, t in df.schema.items():
        if t == pl.String:
            text = pl.col(c)
            cond = cond | text.is_in(s.exact).fill_null(False)
            if s.needles:
                cond = cond | text.str.contains_any(
                    s.needles, ascii_case_insensitive=True
                ).fill_null(False)
    return cond


def _scrub_parquet(path: Path, s: Subject) -> bool:
    df = pl.read_parquet(path)
    keep = df.filter(~_doomed(df, s))
    if keep.height == df.height:
        return False
    with fault_point("erasure.rewrite", key=path.name):
        write_parquet_atomic(keep, path)
    return True


def _scrub_export(path: Path, s: Subject) -> bool:
    df = read_export(path)
    if df.is_empty():
        return False
    keep = df.filter(~_doomed(df, s))
    if keep.height == df.height:
        return False
    write_export(keep, path, path.suffix.lstrip(".").lower())
    return True


def _lake_files(layout: Layout) -> list[Path]:
    files = sorted(layout.lake.rglob("*.parquet")) if layout.lake.is_dir() else []
    if layout.state.is_dir():
        files += sorted(p for p in layout.state.rglob("*.parquet") if p.name not in _KEEP_STATE)
    return [p for p in files if not p.name.startswith(".")]


def _mentions(path: Path, needles: list[bytes]) -> bool:
    """Whether the file's bytes (gunzipped when gzip) hold a needle, in any case."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":  # a broken archive is scanned as it is
        with contextlib.suppress(OSError, EOFError, zlib.error):
            data = gzip.decompress(data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        data = data.decode("utf-16", errors="ignore").encode("utf-8")
    data = data.lower()
    return any(n in data for n in needles)


def _quarantined_copies(layout: Layout, s: Subject) -> list[Path]:
    """Copies of wholly quarantined files (`quarantine/<source>/files/`) that mention the
    person: deleted, since a file that could not be parsed cannot be rewritten."""
    root = layout.lake / "quarantine"
    if not root.is_dir() or not s.needles:
        return []
    needles = [n.lower().encode("utf-8") for n in s.needles]
    doomed = [p for p in sorted(root.glob("*/files/*")) if p.is_file() and _mentions(p, needles)]
    for p in doomed:
        p.unlink()
    return doomed


def refresh_name_frequencies(layout: Layout) -> Path | None:
    """Recount the match model's term-frequency tables over the identity records left.

    `state/match_model.json` keeps, per name comparison, how many records hold each
    value seen twice or more; those counts came from every record at training time, so
    after an erasure they are recounted from what remains (trained m/u weights and the
    spec hash stay, so nothing is retrained; the pair cache notices the changed model).
    Returns the model path when it was rewritten.
    """
    path = ResolvePaths.of(layout).model
    if not path.is_file():
        return None
    model = load_model(path)
    if not model.tf:
        return None
    recs = prepare(read_parquet(layout.identity_records, IDENTITY_RECORD))
    columns = {name: COMPARISONS[name].tf_column for name in model.tf}
    model.tf = {
        name: TermFrequencies.of(recs, column)
        for name, column in columns.items()
        if column is not None
    }
    model.save(path)
    return path


def _text_reports(layout: Layout, s: Subject) -> list[Path]:
    """Report files (HTML/JSON/text) that mention the person: deleted, to be re-run."""
    out: list[Path] = []
    if not layout.reports.is_dir() or not s.needles:
        return out
    low = [n.lower() for n in s.needles]
    for p in sorted(layout.reports.rglob("*")):
        if p.is_file() and p.suffix.lower() in {".html", ".json", ".txt", ".md", ".csv"}:
            text = p.read_text(errors="ignore").lower()
            if any(n in text for n in low):
                p.unlink()
                out.append(p)
    return out


def forget(settings: Settings, who: str, *, now: datetime | None = None) -> ErasureResult:
    """Erase the person `who` names everywhere cdp keeps data, and suppress them.

    An erasure interrupted by a crash is completed first (from its journal): the lake is
    scrubbed before the resolved outputs, so the person can no longer be found by `who`
    once the first files are rewritten. When the interrupted one was this person's, its
    result is returned. Runs under the run lock (`RunBusy` while a run or stage writes).
    """
    now = now or datetime.now(UTC)
    layout = Layout.of(settings)
    id_type, value = classify(who, settings.project.default_country)
    with run_lock(layout):  # it rewrites the lake, state and exports a run also writes
        return _forget_locked(settings, layout, id_type, value, now)


def _forget_locked(
    settings: Settings, layout: Layout, id_type: str, value: str, now: datetime
) -> ErasureResult:
    pending = _read_journal(layout)
    if pending is not None:
        progress.warn("completing an interrupted erasure first")
        done = _erase(settings, layout, pending, now)
        try:
            s = find_subject(layout, id_type, value)
        except CdpError:
            return done
    else:
        s = find_subject(layout, id_type, value)
    return _erase(settings, layout, s, now)


def _journal_path(layout: Layout) -> Path:
    return layout.state / "erasure_pending.json"


def _write_journal(layout: Layout, s: Subject) -> None:
    """What to erase, saved before the first rewrite and deleted after the last. It holds
    the person's identifiers only while their erasure is under way."""
    body = {
        "customer_ids": s.customer_ids,
        "records": s.records.to_dicts(),
        "identifiers": s.identifiers.to_dicts(),
        "needles": s.needles,
        "exact": s.exact,
    }
    write_text(json.dumps(body, ensure_ascii=False), _journal_path(layout))


def _read_journal(layout: Layout) -> Subject | None:
    path = _journal_path(layout)
    if not path.is_file():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return Subject(
            customer_ids=list(body["customer_ids"]),
            records=pl.DataFrame(
                body["records"],
                schema={"source": pl.String, "record_id": pl.String, "record_key": pl.String},
            ),
            identifiers=pl.DataFrame(
                body["identifiers"], schema={"id_type": pl.String, "value": pl.String}
            ),
            needles=list(body["needles"]),
            exact=list(body["exact"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise CdpError(f"{path}: unreadable erasure journal ({type(exc).__name__})") from None


def _erase(settings: Settings, layout: Layout, s: Subject, now: datetime) -> ErasureResult:
    _write_journal(layout, s)
    result = ErasureResult(customer_ids=s.customer_ids, records=s.records.height)
    result.suppressed = add_suppression(layout, s.identifiers, now)
    result.files_rewritten += [p for p in _lake_files(layout) if _scrub_parquet(p, s)]
    log = read_log(layout)
    received = log.filter(pl.col("customer_id").is_in(s.customer_ids))["file"].unique().sort()
    result.exports_received = received.to_list()
    if layout.exports.is_dir():
        for p in sorted(layout.exports.rglob("*")):
            export = p.suffix.lower() in {".csv", ".jsonl", ".parquet"}
            if export and not p.name.startswith(".") and _scrub_export(p, s):
                result.files_rewritten.append(p)
    result.files_deleted += _quarantined_copies(layout, s)
    model = refresh_name_frequencies(layout)  # after the lake rewrite: counts what is left
    if model is not None:
        result.files_rewritten.append(model)
    result.files_deleted += _text_reports(layout, s)
    if layout.warehouse.is_file():  # rebuilt into a fresh file: DELETE is not erasure
        build_from_lake(settings)
        result.files_rewritten.append(layout.warehouse)
        if layout.published.is_dir():
            old = sorted(layout.published.glob("cdp-*.duckdb"))
            result.snapshot = publish_snapshot(layout, keep=1)
            prune_snapshots(layout, keep=0)  # every snapshot but the fresh one
            result.files_deleted += [p for p in old if not p.exists()]
    _log_erasure(layout, result, now)
    _journal_path(layout).unlink()
    return result


def _log_erasure(layout: Layout, result: ErasureResult, at: datetime) -> None:
    """Append to `state/erasure_log.parquet`: when, which customer ids, what was touched
    (pseudonymous ids and file names only), for the controller's records."""
    path = layout.state / "erasure_log.parquet"
    row = pl.DataFrame(
        {
            "erased_at": [at],
            "customer_ids": [result.customer_ids],
            "records": [result.records],
            "files_rewritten": [len(result.files_rewritten)],
            "exports_received": [result.exports_received],
        }
    )
    old = pl.read_parquet(path) if path.is_file() else None
    write_parquet_atomic(
        row if old is None else pl.concat([old, row], how="vertical_relaxed"), path
    )
