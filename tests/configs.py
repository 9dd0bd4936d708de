"""The smallest valid cdp.toml texts the tests build on, so each test module states only
what it adds (one place to change when the config contract grows)."""

from __future__ import annotations


def segment_config(path: str, *, extra: str = "") -> str:
    """A config with one Segment source `web` reading `path` (relative to the config), data in
    `out`, default country ES; `extra` is appended as more TOML (sources, tables)."""
    return f"""
[project]
data_dir = "out"
default_country = "ES"

[[sources]]
name = "web"
connector = "segment"
path = "{path}"
{extra}"""
