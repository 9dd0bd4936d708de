"""Resources: where the config lives (everything else, warehouse and lake, follows from it),
and the engine the identity stages run on."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import dagster as dg

from cdp.config import ENGINES, Settings, find_config, load_settings
from cdp.engine.runner import Runner
from cdp.errors import CdpError
from pipelines import normalize, resolve
from pipelines.reports import StageReport
from pipelines.run import new_run_id

if TYPE_CHECKING:
    from cdp.engine.stage import IdentityRun


class CdpConfig(dg.ConfigurableResource):  # type: ignore[misc]
    """The cdp.toml that drives every asset.

    `config_path` empty means the CLI's discovery (`$CDP_CONFIG`, ./cdp.toml, the
    bundled samples), evaluated at run time, never at import time. To pin it from
    the environment: `CdpConfig(config_path=dg.EnvVar("CDP_CONFIG"))`.
    """

    config_path: str = ""

    def settings(self, *, check_files: bool = False) -> Settings:
        return load_settings(find_config(self.config_path or None), check_files=check_files)


class CdpEngine(dg.ConfigurableResource):  # type: ignore[misc]
    """The engine the identity stages run on: `[project] engine` of the config, unless
    `engine` overrides it ("embedded" or "spark"; `[spark]` names the master or the Spark
    Connect URL). "embedded" runs the `pipelines` stages themselves; "spark" runs the same
    kernels through `cdp.engine.stage` and writes the same lake files and state, so the
    assets' checks read the same tables. A Databricks or EMR job launched through Dagster
    Pipes builds the same runner there.
    """

    engine: str = ""

    def name(self, settings: Settings) -> str:
        """The engine that runs for `settings` (the override, else the config's)."""
        if self.engine and self.engine not in ENGINES:
            known = ", ".join(ENGINES)
            raise CdpError(f"CdpEngine.engine: unknown engine {self.engine!r} (one of: {known})")
        return self.engine or settings.project.engine

    def runner(self, settings: Settings) -> Runner:
        """A runner for `settings` (a Spark session is started for "spark"); the caller
        closes it (a session it did not start, a test's or a notebook's, is kept)."""
        from cdp.engine.stage import runner_for

        engine = self.name(settings)
        return runner_for(replace(settings, project=replace(settings.project, engine=engine)))

    def normalize(self, settings: Settings) -> StageReport:
        """The normalise stage on this engine: raw lake → `lake/identity_records.parquet`."""
        if self.name(settings) == "embedded":
            return normalize.normalize(settings)
        from cdp.engine.stage import normalize_identity

        runner = self.runner(settings)
        try:
            done = normalize_identity(settings, runner=runner)
        finally:
            runner.close()
        records = int(done.metrics["records"])
        return StageReport(
            "normalize", records, sum(done.seconds.values()), metrics=_engine_metrics(done)
        )

    def resolve(self, settings: Settings) -> StageReport:
        """The resolve stage on this engine: identity records → customers with stable ids."""
        if self.name(settings) == "embedded":
            return resolve.resolve(settings)
        from cdp.engine.stage import resolve_identity

        runner = self.runner(settings)
        try:
            done, res = resolve_identity(settings, run_id=new_run_id(), runner=runner)
        finally:
            runner.close()
        metrics = {**res.metrics, "mode": "full", **_engine_metrics(done)}
        rows, seconds = res.customer_records.height, sum(done.seconds.values())
        return StageReport("resolve", rows, seconds, metrics=metrics)


def _engine_metrics(done: IdentityRun) -> dict[str, object]:
    seconds = {f"seconds_{k}": v for k, v in done.seconds.items()}
    return {**done.metrics, "engine": done.engine, **seconds}
