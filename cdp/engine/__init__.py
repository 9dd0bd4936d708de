"""Scale-out: the identity path as Arrow kernels behind a runner (embedded or Spark).

`cdp.engine.kernels` holds the kernels, `cdp.engine.runner` the protocol and the
embedded runner, `cdp.engine.spark` the Spark runner (pyspark is optional), and
`cdp.engine.pipeline` the one pipeline both run.
"""

from __future__ import annotations

from cdp.engine.runner import EmbeddedRunner, Runner

__all__ = ["EmbeddedRunner", "Runner"]
