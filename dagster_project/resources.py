"""Resources: where the config lives. Everything else (warehouse, lake) follows from it."""

from __future__ import annotations

import dagster as dg

from cdp.config import Settings, find_config, load_settings


class CdpConfig(dg.ConfigurableResource):  # type: ignore[misc]
    """The cdp.toml that drives every asset.

    `config_path` empty means the CLI's discovery (`$CDP_CONFIG`, ./cdp.toml, the
    bundled samples), evaluated at run time, never at import time. To pin it from
    the environment: `CdpConfig(config_path=dg.EnvVar("CDP_CONFIG"))`.
    """

    config_path: str = ""

    def settings(self, *, check_files: bool = False) -> Settings:
        return load_settings(find_config(self.config_path or None), check_files=check_files)
