"""RELIABILITY test 8, every writer: the run lock is taken by each entry point that writes
data_dir (`cdp run`, every stage command, `cdp export`/`report`, `cdp forget`, the Dagster
assets), re-entrant in the holding thread, busy for any other thread or process.

One holder process per module keeps the lock of a small config; every writer is then
tried in this process and must fail at once, with the one-line `RunBusy` error and exit
code 1, before writing anything.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from cdp.config import load_settings
from cdp.erasure import forget
from cdp.layout import Layout
from cdp.locks import RunBusy, held_by_me, run_lock
from dagster_project import build_definitions
from pipelines import ingest, normalize, profiles, publish, resolve
from pipelines.cli import READERS, WRITERS, build_parser, main
from pipelines.reports import StageReport
from tests.configs import segment_config
from tests.reliability._harness import REPO

CONFIG = segment_config("exports/web/*.jsonl")
BUSY = "another cdp run or stage is using this data folder"

HOLDER = """
import sys
from cdp.config import load_settings
from cdp.layout import Layout
from cdp.locks import run_lock
with run_lock(Layout.of(load_settings(sys.argv[1]))):
    print("held", flush=True)
    sys.stdin.readline()
"""


def _config(folder: Path) -> Path:
    (folder / "exports" / "web").mkdir(parents=True)
    (folder / "exports" / "web" / "a.jsonl").write_text("{}\n")
    (folder / "cdp.toml").write_text(CONFIG)
    return folder / "cdp.toml"


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A config whose run lock another process holds for the whole module."""
    config = _config(tmp_path_factory.mktemp("held"))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(config)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield config
    finally:
        holder.kill()
        holder.wait()


def _written(config: Path) -> list[str]:
    out = config.parent / "out"
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.name != "run.lock")


def test_every_command_is_a_writer_or_a_reader() -> None:
    """A new command must say whether it writes data_dir (and so takes the lock)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == WRITERS | READERS
    assert not WRITERS & READERS


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_writer_command_fails_fast_while_another_process_holds_the_lock(
    command: str, held: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["someone@example.com"] if command == "forget" else []
    assert main([command, *extra, "--config", str(held)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"cdp {command}: error: ")
    assert BUSY in err and "Traceback" not in err
    assert err.count("\n") == 1  # one line
    assert _written(held) == []  # refused before writing anything


def test_a_dry_run_forget_only_reads_and_does_not_need_the_lock(
    held: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It gets as far as looking the person up: nothing resolved here, so that error.
    assert main(["forget", "someone@example.com", "--dry-run", "--config", str(held)]) != 0
    err = capsys.readouterr().err
    assert err.startswith("cdp forget: error: ") and BUSY not in err


def test_forget_called_directly_is_refused_too(held: Path) -> None:
    with pytest.raises(RunBusy, match=BUSY):
        forget(load_settings(held), "someone@example.com")
    assert _written(held) == []


def _fake_stages(monkeypatch: pytest.MonkeyPatch, calls: list[tuple[str, bool]]) -> None:
    """Stages that only record (name, whether this thread holds the config's run lock)."""

    def fake(name: str):
        def run(settings, **kwargs) -> StageReport:
            calls.append((name, held_by_me(Layout.of(settings).data_dir / "run.lock")))
            return StageReport(stage=name, rows=0)

        return run

    for module, attr in (
        (ingest, "ingest"),
        (normalize, "normalize"),
        (resolve, "resolve"),
        (profiles, "build_profiles"),
        (publish, "publish"),
    ):
        monkeypatch.setattr(module, attr, fake(attr))


def _run_job(config: Path) -> dg.ExecuteInProcessResult:
    job = build_definitions(config).resolve_job_def("cdp_full_run")
    with dg.instance_for_test() as instance:
        return job.execute_in_process(instance=instance, raise_on_error=False)


def test_dagster_assets_fail_fast_and_run_no_stage(
    held: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, bool]] = []
    _fake_stages(monkeypatch, calls)
    result = _run_job(held)
    assert not result.success
    assert calls == []
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failures
    for event in failures:
        error = event.step_failure_data.error
        chain = []
        while error is not None:  # Dagster's step error wraps the user code's
            chain.append((error.cls_name, error.message))
            error = error.cause
        assert any(cls == "RunBusy" and BUSY in msg for cls, msg in chain), chain


def test_every_dagster_asset_runs_its_stage_under_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, bool]] = []
    _fake_stages(monkeypatch, calls)
    assert _run_job(_config(tmp_path)).success
    assert calls == [
        ("ingest", True),
        ("normalize", True),
        ("resolve", True),
        ("build_profiles", True),
        ("publish", True),
    ]
    assert not held_by_me(tmp_path / "out" / "run.lock")  # released after each


# -- re-entrancy: same thread nests, other threads are busy ------------------------------


def _try_in_thread(layout: Layout) -> BaseException | None:
    """Take and release the run lock in a new thread; the exception it raised, if any."""
    box: list[BaseException | None] = [None]

    def attempt() -> None:
        try:
            with run_lock(layout):
                pass
        except BaseException as exc:
            box[0] = exc

    t = threading.Thread(target=attempt)
    t.start()
    t.join()
    return box[0]


def test_the_run_lock_is_reentrant_in_its_thread_only(tmp_path: Path) -> None:
    layout = Layout.of(load_settings(_config(tmp_path)))
    lock = layout.data_dir / "run.lock"
    with run_lock(layout):
        with run_lock(layout), run_lock(layout):  # run_all inside `cdp run`, a stage inside
            assert held_by_me(lock)
            assert isinstance(_try_in_thread(layout), RunBusy)
        assert held_by_me(lock)  # the inner exits did not release it
        assert isinstance(_try_in_thread(layout), RunBusy)
    assert not held_by_me(lock)
    assert _try_in_thread(layout) is None  # released by the outermost exit


def test_an_error_inside_a_nested_hold_keeps_the_outer_one(tmp_path: Path) -> None:
    layout = Layout.of(load_settings(_config(tmp_path)))
    with run_lock(layout):
        with pytest.raises(ZeroDivisionError), run_lock(layout):
            1 / 0  # noqa: B018
        assert isinstance(_try_in_thread(layout), RunBusy)
    assert _try_in_thread(layout) is None
