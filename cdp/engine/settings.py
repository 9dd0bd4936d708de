"""`[spark]`: where the Spark runner finds its cluster, and how finely it buckets work.

Example (every key optional; used when `[project] engine = "spark"`)::

    [spark]
    master = "local[2]"              # classic session: local[N], spark://host:7077, yarn, k8s://...
    remote = "sc://spark-connect:15002"   # Spark Connect instead of `master` (not both)
    buckets = 64                     # hash buckets for per-block and per-customer kernels
    sample_size = 200000             # records the match model is trained on (driver)
    components = "driver"            # connected components: "driver" (scipy) or "spark"
    [spark.conf]                     # any Spark setting, passed through as text
    "spark.sql.shuffle.partitions" = "200"
    "spark.executor.memory" = "8g"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cdp.config import Settings

_KEYS = frozenset({"master", "remote", "buckets", "sample_size", "components", "conf"})
#: Where connected components run. The identifier graph and the edges are built on the
#: driver (see docs/scaleout.md, "Not distributed yet"), so "driver" (scipy, seconds at
#: 1M records) is cheaper than shipping them to the large/small-star loop and back;
#: "spark" is for when the edges no longer fit there.
COMPONENTS: tuple[str, ...] = ("driver", "spark")
_REMOTE_SCHEMES = ("sc://",)


@dataclass(frozen=True, slots=True)
class SparkSettings:
    master: str = "local[*]"
    remote: str = ""
    buckets: int = 64
    sample_size: int = 200_000
    components: str = "driver"
    conf: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def spark_settings(settings: Settings) -> SparkSettings:
    """Parse `[spark]`; every problem is a ConfigError naming the key."""
    r = settings.section("spark")
    r.check_keys(_KEYS)
    d = SparkSettings()
    master = r.get("master", str, d.master).strip()
    remote = r.get("remote", str, d.remote).strip()
    if "master" in r.data and "remote" in r.data:
        raise r.error("remote", "set either master (classic session) or remote (Spark Connect)")
    if not master:
        raise r.error("master", "expected a Spark master such as 'local[2]' or 'yarn'")
    if remote and not remote.startswith(_REMOTE_SCHEMES):
        raise r.error("remote", "expected a Spark Connect URL such as 'sc://host:15002'")
    buckets = r.get("buckets", int, d.buckets)
    if buckets < 1:
        raise r.error("buckets", "expected a positive number of buckets")
    sample = r.get("sample_size", int, d.sample_size)
    if sample < 1000:
        raise r.error("sample_size", "expected at least 1000 records to train the model on")
    components = r.get("components", str, d.components)
    if components not in COMPONENTS:
        raise r.error("components", f"expected one of: {', '.join(COMPONENTS)}")
    conf = {}
    for key, value in r.table("conf").items():
        if not isinstance(value, str | int | float | bool):
            raise r.error(f"conf.{key}", "expected a text, number or boolean value")
        conf[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return SparkSettings(master, remote, buckets, sample, components, MappingProxyType(conf))
