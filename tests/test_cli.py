"""The `cdp` command line: exit codes and one-line errors."""

from __future__ import annotations

import subprocess
import sys

from pipelines.cli import main


def test_config_error_exits_2_with_one_line(write_config, capsys) -> None:
    cfg = write_config('[project]\ndata_dir = "out"\ndefault_country = "ES"\n')
    assert main(["ingest", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "sources" in err and str(cfg) in err


def test_no_command_prints_help_and_fails(capsys) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_python_dash_m_cdp_works() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cdp", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("cdp ")


def test_help_lists_every_stage() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cdp", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for cmd in ("run", "ingest", "normalize", "resolve", "show", "sql", "export", "synth"):
        assert cmd in out
