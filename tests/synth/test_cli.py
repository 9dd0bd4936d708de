"""`cdp synth` writes the landing folder and prints a summary table on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import main


def test_cdp_synth_writes_folder_and_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "landing"
    assert main(["synth", "--people", "25", "--seed", "3", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "source" in err and "records" in err
    for name in ("web", "app", "leads", "shop", "payments"):
        assert f"\n{name} " in err
    assert (out / "cdp.toml").is_file() and (out / "truth.csv").is_file()


@pytest.mark.parametrize("args", [["--people", "0"], ["--seed", "-1"]])
def test_cdp_synth_rejects_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert main(["synth", *args, "--out", str(tmp_path / "x")]) == 1
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
