"""The domain never imports the orchestrator (STYLE §8.1)."""

from __future__ import annotations

import subprocess
import sys


def test_cdp_connectors_pipelines_do_not_import_dagster() -> None:
    code = (
        "import sys, importlib, pkgutil\n"
        "for pkg in ('cdp', 'connectors', 'pipelines'):\n"
        "    m = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(m.__path__, pkg + '.'):\n"
        "        if info.name.endswith('__main__'):\n"
        "            continue\n"
        "        importlib.import_module(info.name)\n"
        "bad = [m for m in sys.modules if m == 'dagster' or m.startswith('dagster.')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
