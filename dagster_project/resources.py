"""Resources: where the config lives (everything else, warehouse and lake, follows from it),
and the engine the identity stages run on."""

from __future__ import annotations

import dagster as dg

from cdp.config import ENGINES, Settings, find_config, load_settings
from cdp.engine.runner import Runner
from cdp.errors import CdpError


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
    """The runner the identity stages run on (`cdp.engine`): `[project] engine` of the
    config, unless `engine` overrides it ("embedded" or "spark"). For Spark, `[spark]`
    names the master or Spark Connect URL; the caller closes the runner when done.
    A Databricks or EMR job launched through Dagster Pipes builds the same runner there.
    """

    engine: str = ""

    def runner(self, settings: Settings) -> Runner:
        from dataclasses import replace

        from cdp.engine.stage import runner_for

        if self.engine and self.engine not in ENGINES:
            known = ", ".join(ENGINES)
            raise CdpError(f"CdpEngine.engine: unknown engine {self.engine!r} (one of: {known})")
        if self.engine:
            settings = replace(settings, project=replace(settings.project, engine=self.engine))
        return runner_for(settings)
