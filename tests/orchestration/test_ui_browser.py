"""The Dagster UI, seen by a real browser: the asset graph lists cdp's assets.

Headless Chromium comes from Debian's packages; the fixture installs it when it
is missing and the test runs as root with apt-get (as in CI), and skips with the
reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("Chromium is not installed and cannot be installed here (needs root + apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(
            ["apt-get", "update", "-qq"], env=env, check=True, timeout=300, capture_output=True
        )
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            env=env,
            check=True,
            timeout=600,
            capture_output=True,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"Chromium could not be installed from Debian's packages: {exc}")
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get ran but no chromium binary is on PATH")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def webserver(write_config, tmp_path: Path) -> Iterator[str]:
    config = write_config(
        '[project]\ndata_dir = "out"\ndefault_country = "ES"\n'
        '[[sources]]\nname = "web"\nconnector = "segment"\npath = "exports/web/*.jsonl"\n',
        {"exports/web/a.jsonl": "{}\n"},
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = _free_port()
    env = {**os.environ, "CDP_CONFIG": str(config), "DAGSTER_HOME": str(home)}
    exe = Path(sys.executable).with_name("dagster-webserver")
    proc = subprocess.Popen(
        [str(exe), "-m", "dagster_project", "-h", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
                pytest.fail(f"dagster-webserver exited early:\n{err}")
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=2):
                    break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("dagster-webserver did not answer within 120 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_asset_graph_lists_the_assets(webserver: str, tmp_path: Path) -> None:
    chromium = _chromium()
    profile = tmp_path / "chromium-profile"
    dom = ""
    for _attempt in range(3):  # the UI loads its asset list asynchronously
        out = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=30000",
                "--dump-dom",
                f"{webserver}/assets",
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
        dom = out.stdout
        if "identity_records" in dom:
            break
    for name in ("identity_records", "customer_clusters", "analyst_snapshot"):
        assert name in dom, f"{name} not shown on the assets page"
