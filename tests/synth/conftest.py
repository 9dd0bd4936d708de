"""One small generated landing folder shared by the synth tests (generation is the slow part)."""

from __future__ import annotations

import pytest

from cdp.synth import SynthSummary, generate

PEOPLE = 400
SEED = 11


@pytest.fixture(scope="session")
def landing(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return generate(tmp_path_factory.mktemp("synth") / "landing", people=PEOPLE, seed=SEED)
