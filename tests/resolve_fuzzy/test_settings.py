"""`[resolve.fuzzy]` parsing: defaults, typed values, clear errors naming the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cdp.config import load_settings
from cdp.errors import ConfigError
from cdp.resolve.fuzzy import BlockingRule, FuzzySettings, fuzzy_settings
from tests.configs import segment_config

BASE = segment_config("web/*.jsonl")


def _settings(write_config: Callable[[str], Path], extra: str) -> FuzzySettings:
    return fuzzy_settings(load_settings(write_config(BASE + extra), check_files=False))


def test_defaults_without_a_table(write_config: Callable[[str], Path]) -> None:
    s = _settings(write_config, "")
    assert s == FuzzySettings()
    assert s.threshold == 0.99 and s.guard_weight == -60.0
    assert [r.name for r in s.blocking][:2] == ["email", "phone"]


def test_values_are_read(write_config: Callable[[str], Path]) -> None:
    s = _settings(
        write_config,
        """
[resolve.fuzzy]
threshold = 0.95
comparisons = ["first_name", "last_name", "birth_date"]
blocking = [
  { name = "dob", on = ["birth_date"] },
  { name = "sound", on = ["surname_sound", "birth_year"], max_block_size = 30 },
]
max_block_size = 50
u_sample_size = 1000
tf_adjustment = false
seed = 7
guard_weight = 0
labels = "labels.csv"
[resolve.fuzzy.fixed_m]
"birth_date.else" = 0.01
""",
    )
    assert s.threshold == 0.95
    assert s.comparisons == ("first_name", "last_name", "birth_date")
    assert s.blocking == (
        BlockingRule("dob", ("birth_date",)),
        BlockingRule("sound", ("surname_sound", "birth_year"), 30),
    )
    assert (s.max_block_size, s.u_sample_size, s.tf_adjustment, s.seed) == (50, 1000, False, 7)
    assert s.guard_weight == 0.0
    assert dict(s.fixed_m) == {"birth_date.else": 0.01}
    assert s.labels_path is not None and s.labels_path.name == "labels.csv"
    assert s.labels_path.parent.is_absolute()


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("threshold = 1.5", "resolve.fuzzy.threshold"),
        ('threshold = "high"', "resolve.fuzzy.threshold"),
        ("tresholdd = 0.9", "resolve.fuzzy.tresholdd"),
        ('comparisons = ["shoe_size"]', "resolve.fuzzy.comparisons"),
        ('blocking = [{ name = "x", on = ["nope"] }]', "resolve.fuzzy.blocking[0].on"),
        ('blocking = [{ name = "x" }]', "resolve.fuzzy.blocking[0]"),
        (
            'blocking = [{ name = "x", on = ["phone"], max_block_size = 0 }]',
            "resolve.fuzzy.blocking[0].max_block_size",
        ),
        ("blocking = []", "resolve.fuzzy.blocking"),
        ("max_block_size = 0", "resolve.fuzzy.max_block_size"),
        ("guard_weight = 5.0", "resolve.fuzzy.guard_weight"),
        ("retrain_growth = 0.5", "resolve.fuzzy.retrain_growth"),
        ('[resolve.fuzzy.fixed_m]\n"phone.maybe" = 0.1', "resolve.fuzzy.fixed_m.phone.maybe"),
        ('[resolve.fuzzy.fixed_m]\n"phone.else" = 2', "resolve.fuzzy.fixed_m.phone.else"),
    ],
)
def test_errors_name_the_key(write_config: Callable[[str], Path], extra: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        _settings(write_config, "[resolve.fuzzy]\n" + extra + "\n")
    assert info.value.key == key
