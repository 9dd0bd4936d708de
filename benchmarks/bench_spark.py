"""Embedded runner vs Spark local[2] on the engine pipeline (`cdp.engine.pipeline`).

    .venv/bin/python -m benchmarks.bench_spark --records 200000
    .venv/bin/python -m benchmarks.bench_spark --records 1000000 --driver-memory 8g

Generates a `cdp synth` landing folder of about `--records` identity records (≈7 per
person), ingests it, trains the match model once on a sample, then runs each engine in
its own process over the same raw lake and model. Per engine: wall seconds, CPU seconds
(user+sys of the process tree, sampled from /proc), peak RSS of the driver, the JVM and
the Python workers, the engine's own seconds per stage, and whether its customers,
scored pairs and golden records equal the embedded run's. Prints a table; the machine is
shared, so the load average is printed too. Ingest is not measured (it is the same code
on both paths).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl

_TICK = os.sysconf("SC_CLK_TCK")


def _prepare(work: Path, records: int, seed: int) -> None:
    """Landing folder, raw lake and model (skipped when `work` already has them)."""
    from cdp.config import load_settings
    from cdp.engine.pipeline import train_model
    from cdp.engine.stage import normalize_options
    from cdp.normalize import normalize_records
    from cdp.resolve.fuzzy.model import load_model, spec_hash
    from cdp.resolve.fuzzy.settings import fuzzy_settings
    from cdp.synth import generate
    from pipelines.ingest import ingest
    from pipelines.normalize import read_raw

    land = work / "land"
    if not (land / "cdp.toml").is_file():
        generate(land, people=max(records // 7, 100), seed=seed)
        ingest(load_settings(land / "cdp.toml"))
    settings = load_settings(land / "cdp.toml")
    fs = fuzzy_settings(settings)
    model = work / "model.json"
    wanted = spec_hash(fs.comparisons, fs.fixed_m, fs.tf_adjustment, fs.guard_weight)
    if model.is_file() and load_model(model).spec_hash == wanted:
        return  # a model of other comparisons would not fit the workers' code: retrained
    raw, _ = read_raw(settings)
    opts = normalize_options(settings)
    identity, _ = normalize_records(
        raw,
        default_country=opts.default_country,
        source_countries=opts.source_countries,
        date_formats=opts.date_formats,
    )
    sample = identity.sample(min(identity.height, 200_000), seed=seed).sort("record_key")
    train_model(sample, fs, model)


def _child(mode: str, work: Path, buckets: int, driver_memory: str, components: str) -> None:
    """One engine run; prints a JSON line with its counts and stage seconds."""
    from cdp.config import load_settings
    from cdp.engine.pipeline import EngineInputs, run_engine
    from cdp.engine.runner import EmbeddedRunner, Runner
    from cdp.engine.stage import normalize_options
    from cdp.layout import Layout
    from cdp.profiles.settings import profile_settings
    from cdp.resolve.fuzzy.settings import fuzzy_settings
    from cdp.resolve.overrides import Overrides
    from cdp.resolve.settings import resolve_settings

    settings = load_settings(work / "land" / "cdp.toml")
    layout = Layout.of(settings)
    raw = sorted(f for s in settings.sources for f in layout.raw(s.name).glob("*.parquet"))
    inputs = EngineInputs(
        normalize=normalize_options(settings),
        fuzzy=fuzzy_settings(settings),
        resolve=resolve_settings(settings),
        profiles=profile_settings(settings),
        model_json=(work / "model.json").read_text(encoding="utf-8"),
        overrides=Overrides.none(),
        run_id="bench",
        buckets=buckets,
        components=components,
    )  # fmt: skip
    runner: Runner
    t0 = time.perf_counter()
    if mode == "spark":
        from cdp.engine.spark import SparkRunner, build_session

        conf = {
            "spark.sql.shuffle.partitions": "4",
            "spark.driver.memory": driver_memory,
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
        }
        runner = SparkRunner(build_session(master="local[2]", conf=conf), buckets=buckets)
    else:
        runner = EmbeddedRunner()
    session = time.perf_counter() - t0
    run = run_engine(runner, raw, work / mode, inputs)
    res = run.resolution
    digest = hashlib.sha256(
        res.customer_records.sort("record_key").write_csv().encode("utf-8")
    ).hexdigest()[:12]
    stages = {f"s_{k}": v for k, v in run.seconds.items()}
    out = {"session_s": round(session, 1), **run.counts, **stages, "customers_sha": digest}
    runner.close()
    print("RESULT " + json.dumps(out), flush=True)


def _tree(root: int) -> dict[int, tuple[str, int, int]]:
    """pid → (comm, rss KiB, cpu ticks) for `root` and its descendants."""
    parent: dict[int, int] = {}
    info: dict[int, tuple[str, int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        rss = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS")), 0)
        info[pid] = (comm, rss, int(fields[11]) + int(fields[12]))
    keep = {root}
    grew = True
    while grew:
        more = {p for p, pp in parent.items() if pp in keep} - keep
        grew = bool(more)
        keep |= more
    return {p: info[p] for p in keep if p in info}


def _measure(args: list[str]) -> dict[str, object]:
    """Run a child; wall, CPU of the whole tree, peak RSS of driver / JVM / Python workers."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peaks = {"driver": 0, "jvm": 0, "workers": 0, "total": 0}
    cpu: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            tree = _tree(proc.pid)
            kinds = {"driver": 0, "jvm": 0, "workers": 0}
            for pid, (comm, rss, ticks) in tree.items():
                cpu[pid] = max(cpu.get(pid, 0), ticks)
                kind = "driver" if pid == proc.pid else "jvm" if comm == "java" else "workers"
                kinds[kind] += rss
            for k, v in kinds.items():
                peaks[k] = max(peaks[k], v)
            peaks["total"] = max(peaks["total"], sum(kinds.values()))
            done.wait(0.5)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    stdout, _ = proc.communicate()
    done.set()
    thread.join()
    wall = time.perf_counter() - t0
    line = next((x for x in stdout.splitlines() if x.startswith("RESULT ")), None)
    result = json.loads(line[7:]) if line else {"error": f"exit {proc.returncode}"}
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(sum(cpu.values()) / _TICK, 1),
        **{f"rss_{k}_mib": round(v / 1024) for k, v in peaks.items()},
        **result,
    }


def _height(path: Path) -> int:
    return sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in path.glob("*.parquet"))


def _same(work: Path, name: str) -> bool:
    from cdp.engine.spark import read_dataset

    a, b = read_dataset(work / "embedded" / name), read_dataset(work / "spark" / name)
    return a.sort(a.columns, nulls_last=True).equals(b.sort(b.columns, nulls_last=True))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--modes", default="embedded,spark")
    p.add_argument("--work", type=Path, default=None)
    p.add_argument("--buckets", type=int, default=16)
    p.add_argument("--driver-memory", default="4g")
    p.add_argument("--components", default="driver", choices=("driver", "spark"))
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--child", default="")
    a = p.parse_args()
    work = a.work or Path("data/out/bench_spark") / f"r{a.records}"
    if a.child:
        _child(a.child, work, a.buckets, a.driver_memory, a.components)
        return
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    t0 = time.perf_counter()
    _prepare(work, a.records, a.seed)
    print(f"prepared {work} in {time.perf_counter() - t0:.0f}s; load {os.getloadavg()}")
    rows = []
    for mode in a.modes.split(","):
        opts = ["--work", str(work), "--buckets", str(a.buckets)]
        opts += ["--driver-memory", a.driver_memory, "--components", a.components]
        cmd = [sys.executable, "-m", "benchmarks.bench_spark", "--child", mode, *opts]
        row = {"engine": mode, "load_1m": round(os.getloadavg()[0], 1), **_measure(cmd)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    for name in ("candidate_pairs", "scored_pairs"):
        print(f"{name}: {_height(work / a.modes.split(',')[0] / name):,}")
    if {"embedded", "spark"} <= {r["engine"] for r in rows}:
        for name in ("candidate_pairs", "scored_pairs", "golden", "provenance"):
            print(f"identical {name}: {_same(work, name)}")
        shas = {str(r.get("customers_sha")) for r in rows}
        print(f"identical customer ids: {len(shas) == 1}")
    with pl.Config(tbl_cols=-1, tbl_width_chars=250, tbl_rows=-1):
        print(pl.DataFrame(rows, strict=False).transpose(include_header=True))


if __name__ == "__main__":
    main()
