"""`data/samples` is exactly what its documented command generates."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from cdp.config import BUNDLED_CONFIG, load_settings
from cdp.synth import generate

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def _documented_command() -> tuple[int, int]:
    text = (SAMPLES / "README.md").read_text(encoding="utf-8")
    m = re.search(r"cdp synth --people (\d+) --seed (\d+) --out data/samples", text)
    assert m, "README.md must state the exact command"
    return int(m.group(1)), int(m.group(2))


def _hashes(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and rel.parts[0] != "out" and rel.name != "README.md":
            out[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_samples_are_up_to_date_with_the_generator(tmp_path: Path) -> None:
    people, seed = _documented_command()
    fresh = generate(tmp_path / "samples", people=people, seed=seed)
    expected = _hashes(fresh.out_dir)
    committed = _hashes(SAMPLES)
    assert committed.keys() == expected.keys(), "regenerate data/samples (see its README.md)"
    stale = [k for k in expected if committed[k] != expected[k]]
    assert not stale, f"regenerate data/samples (see its README.md); differing: {stale[:5]}"


def test_samples_are_small_and_the_bundled_config() -> None:
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file() and "out" not in
                p.relative_to(SAMPLES).parts)  # fmt: skip
    assert total < 1_000_000
    assert BUNDLED_CONFIG == SAMPLES / "cdp.toml"
    settings = load_settings(BUNDLED_CONFIG)
    assert settings.project.data_dir == SAMPLES / "out"
