"""The fault-injection harness itself (`cdp.faults`), and the meta-test that every
writer step in the pipeline code sits inside a fault point (RELIABILITY "harness notes").

A writer step is: `os.replace` / `os.rename` / `shutil.move`, `<tmp>.replace(..)` /
`<tmp>.rename(..)` on a temp path, `shutil.copyfile` into place, `pq.write_table`,
`.write_parquet(` / `.sink_parquet(`, `json.dump(` into a file, and SQL that runs
`COPY ... TO` or `CHECKPOINT`. "Inside" means lexically within a
`with fault_point(...)` block.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from cdp import faults
from cdp.faults import POINTS, FaultInjected, FaultSpec, FaultSpecError, fault_point

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("cdp", "connectors", "pipelines", "dagster_project")
#: Not pipeline state: the synthetic-data generator writes a landing folder for tests and
#: demos, and `cdp.faults` is the harness.
EXEMPT_DIRS = ("cdp/synth/",)
EXEMPT_FILES = ("cdp/faults.py",)
_RENAMES = {("os", "replace"), ("os", "rename"), ("shutil", "move"), ("shutil", "copyfile")}
_SQL = re.compile(r"\bCOPY\b.*\bTO\b|\bCHECKPOINT\b", re.IGNORECASE | re.DOTALL)


_MEMORY_SINKS = {"BufferOutputStream", "BytesIO", "StringIO"}


def _memory_sinks(tree: ast.AST) -> set[str]:
    """Names bound to in-memory buffers (`sink = pa.BufferOutputStream()`): serialising into
    one is not a disk write; the bytes reach disk through `cdp.atomic.write_bytes`."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            f = node.value.func
            called = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if called in _MEMORY_SINKS:
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _is_writer(node: ast.Call, memory: frozenset[str] = frozenset()) -> str | None:
    f = node.func
    if isinstance(f, ast.Attribute):
        owner = f.value.id if isinstance(f.value, ast.Name) else None
        if (owner, f.attr) in _RENAMES:
            return f"{owner}.{f.attr}"
        if f.attr in {"replace", "rename"} and owner and "tmp" in owner.lower():
            return f"{owner}.{f.attr}"
        if (owner, f.attr) in {("pq", "write_table"), ("json", "dump")}:
            sink = node.args[1] if len(node.args) > 1 else None
            if isinstance(sink, ast.Name) and sink.id in memory:
                return None
            return f"{owner}.{f.attr}"
        if f.attr in {"write_parquet", "sink_parquet"}:
            return f".{f.attr}"
        if f.attr in {"execute", "sql"}:
            for arg in node.args[:1]:
                if (
                    isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and _SQL.search(arg.value)
                ):
                    return f"SQL {arg.value.split()[0]}"
    return None


def _guarded(tree: ast.AST) -> set[int]:
    """ids of every node lexically inside a `with fault_point(...)` block."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and any(
            isinstance(i.context_expr, ast.Call)
            and getattr(i.context_expr.func, "id", getattr(i.context_expr.func, "attr", ""))
            == "fault_point"
            for i in node.items
        ):
            for stmt in node.body:
                inside |= {id(n) for n in ast.walk(stmt)}
    return inside


def unguarded_writers() -> dict[str, list[str]]:
    """{file: ["line N: step", ...]} for writer steps outside any fault point."""
    out: dict[str, list[str]] = {}
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel.startswith(EXEMPT_DIRS) or rel in EXEMPT_FILES:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            guarded = _guarded(tree)
            memory = frozenset(_memory_sinks(tree))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and id(node) not in guarded:
                    step = _is_writer(node, memory)
                    if step:
                        out.setdefault(rel, []).append(f"line {node.lineno}: {step}")
    return out


def test_the_scanner_finds_an_unguarded_writer(tmp_path: Path) -> None:
    code = (
        "import os\nfrom cdp.faults import fault_point\n"
        "def ok(tmp, p):\n    with fault_point('atomic.rename'):\n        os.replace(tmp, p)\n"
        "def bad(tmp, p):\n    os.replace(tmp, p)\n    con.execute('CHECKPOINT')\n"
        "def mem(t, p):\n    sink = pa.BufferOutputStream()\n    pq.write_table(t, sink)\n"
        "    pq.write_table(t, p)\n"
    )
    tree = ast.parse(code)
    guarded = _guarded(tree)
    memory = frozenset(_memory_sinks(tree))
    found = [
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and id(n) not in guarded and _is_writer(n, memory)
    ]
    assert sorted(found) == [7, 8, 12]


def test_every_writer_step_is_inside_a_fault_point() -> None:
    assert unguarded_writers() == {}, (
        "writer steps without a fault point (wrap them in cdp.faults.fault_point)"
    )


def test_every_point_name_used_in_code_is_registered_and_every_registered_one_used() -> None:
    used: set[str] = set()
    for top in SCANNED:
        for path in (REPO / top).rglob("*.py"):
            used |= set(re.findall(r'fault_point\(\s*"([a-z_.]+)"', path.read_text()))
    assert used == set(POINTS)


# --- the harness ------------------------------------------------------------------------


@pytest.fixture
def armed(monkeypatch: pytest.MonkeyPatch):
    def arm(spec: str) -> None:
        monkeypatch.setenv("CDP_FAULT", spec)
        monkeypatch.setenv("CDP_FAULT_MODE", "raise")
        faults.reset_hits()

    yield arm
    faults.reset_hits()


def test_unset_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDP_FAULT", raising=False)
    ran = []
    with fault_point("atomic.rename"):
        ran.append(1)
    assert ran == [1]


def test_before_stops_the_step_and_after_lets_it_finish(armed) -> None:
    ran: list[str] = []
    armed("atomic.rename:before")
    with pytest.raises(FaultInjected, match=r"atomic\.rename:before"), fault_point("atomic.rename"):
        ran.append("before-case")
    armed("atomic.rename:after")
    with pytest.raises(FaultInjected, match=r"atomic\.rename:after"), fault_point("atomic.rename"):
        ran.append("after-case")
    assert ran == ["after-case"]


def test_key_and_nth_select_one_hit(armed) -> None:
    armed("atomic.write@b.parquet#2")
    hits = []
    for name in ["a.parquet", "b.parquet", "a.parquet", "b.parquet", "b.parquet"]:
        try:
            with fault_point("atomic.write", key=name):
                hits.append(name)
        except FaultInjected:
            hits.append(f"crash:{name}")
    assert hits == ["a.parquet", "b.parquet", "a.parquet", "crash:b.parquet", "b.parquet"]


def test_other_points_are_untouched(armed) -> None:
    armed("warehouse.swap")
    with fault_point("atomic.rename"):
        pass


def test_fault_injected_is_not_an_ordinary_exception(armed) -> None:
    """`except Exception` handlers (quarantine, CLI) must not swallow a simulated crash."""
    armed("atomic.write")
    with pytest.raises(FaultInjected):
        try:
            with fault_point("atomic.write"):
                pass
        except Exception:  # pragma: no cover - would be the bug
            pytest.fail("FaultInjected was caught as an Exception")


@pytest.mark.parametrize(
    "spec", ["nope.point", "atomic.rename:during", "atomic.rename#0", "", "ATOMIC.RENAME"]
)
def test_bad_specs_fail_loudly(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        FaultSpec.parse(spec)


def test_unregistered_point_in_code_fails() -> None:
    with pytest.raises(FaultSpecError), fault_point("made.up"):
        pass


def test_spec_round_trip() -> None:
    assert str(FaultSpec.parse("atomic.rename")) == "atomic.rename:before"
    assert str(FaultSpec.parse("atomic.rename:after@x.parquet#3")) == (
        "atomic.rename:after@x.parquet#3"
    )
