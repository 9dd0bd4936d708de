"""Fellegi-Sunter pieces: EM recovers m, u sampling, TF adjustment, save/load, spec hash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cdp.resolve.fuzzy.comparisons import COMPARISONS
from cdp.resolve.fuzzy.model import (
    ComparisonParams,
    MatchModel,
    ModelError,
    em,
    load_model,
    matches_removed,
    patterns,
    score,
    spec_hash,
)
from cdp.resolve.fuzzy.tf import TermFrequencies, tf_adjustment


def test_em_recovers_known_m_with_u_fixed() -> None:
    rng = np.random.default_rng(3)
    names = ("first_name", "birth_date", "phone")
    # levels: first_name 1..9, birth_date 1..6, phone 1..3 (0 = null)
    m_true = {
        "first_name": np.array([1, 0.80, 0.01, 0.01, 0.005, 0.10, 0.01, 0.04, 0.005, 0.02]),
        "birth_date": np.array([1, 0.85, 0.03, 0.05, 0.01, 0.02, 0.04]),
        "phone": np.array([1, 0.70, 0.05, 0.25]),
    }
    u = {
        "first_name": np.array(
            [1, 0.01, 0.0005, 0.0005, 0.0005, 0.004, 0.0005, 0.0145, 0.0005, 0.969]
        ),
        "birth_date": np.array([1, 0.0005, 0.0005, 0.004, 0.0005, 0.0200, 0.9745]),
        "phone": np.array([1, 0.0004, 0.0006, 0.999]),
    }
    n_match, n_non = 20_000, 60_000
    cols = {}
    for n in names:
        a = rng.choice(len(m_true[n]) - 1, size=n_match, p=m_true[n][1:]) + 1
        b = rng.choice(len(u[n]) - 1, size=n_non, p=u[n][1:]) + 1
        cols[n] = np.concatenate([a, b]).astype(np.int8)
    pats, counts = patterns(pl.DataFrame(cols))
    init = {n: np.concatenate([[1.0], np.full(len(u[n]) - 1, 1 / (len(u[n]) - 1))]) for n in names}
    for n in names:
        init[n][1] *= 3
        init[n][1:] /= init[n][1:].sum()
    m, prior, iters = em(pats, counts, names, init, u, free=frozenset(names), fixed_m={},
                         prior=0.5, max_iterations=200, tol=1e-7)  # fmt: skip
    assert prior == pytest.approx(n_match / (n_match + n_non), abs=0.01)
    for n in names:
        np.testing.assert_allclose(m[n][1:], m_true[n][1:], atol=0.02)
    assert iters > 1


def test_em_keeps_fixed_m() -> None:
    names = ("phone",)
    pats = np.array([[1], [3]])
    counts = np.array([100.0, 900.0])
    u = {"phone": np.array([1, 0.001, 0.001, 0.998])}
    init = {"phone": np.array([1, 0.5, 0.25, 0.25])}
    m, _, _ = em(pats, counts, names, init, u, free=frozenset(names), fixed_m={"phone.else": 0.2},
                 prior=0.3, max_iterations=50, tol=1e-9)  # fmt: skip
    assert m["phone"][3] == pytest.approx(0.2)
    assert m["phone"][1:].sum() == pytest.approx(1.0)


def test_tf_adjustment_weakens_common_names_and_strengthens_rare() -> None:
    recs = pl.DataFrame(
        {"last_name_key": ["garcia"] * 50 + ["zubizarreta"] + [f"x{i}" for i in range(49)]}
    )
    tf = TermFrequencies.of(recs, "last_name_key")
    assert tf.total == 100 and tf.counts == {"garcia": 50}
    freq = tf.frequency(pl.Series(["garcia", "zubizarreta", None]))
    assert freq[0] == pytest.approx(0.5) and freq[1] == pytest.approx(0.01) and np.isnan(freq[2])
    u_exact = 0.05
    adj = tf_adjustment(freq, u_exact)
    assert adj[0] < 0 < adj[1]
    assert adj[0] == pytest.approx(np.log2(0.05 / 0.5))
    assert adj[2] == 0.0


def _model() -> MatchModel:
    comps = [
        ComparisonParams("phone", ("null", "exact", "last7", "else"),
                         np.array([1, 0.7, 0.05, 0.25]), np.array([1, 0.001, 0.001, 0.998])),
    ]  # fmt: skip
    tf = {"phone": TermFrequencies("phone", 10, {"+34600": 3})}
    return MatchModel(
        comps, 1e-4, "abc", tf_adjustment=True, tf=tf, info={"em_iterations": 7}, guard_weight=-60.0
    )


def test_model_save_load_round_trip(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "state" / "model.json"
    model.save(path)
    again = load_model(path)
    assert again.to_json() == model.to_json()
    assert again.prior_weight == pytest.approx(np.log2(1e-4 / (1 - 1e-4)))
    rows = again.to_table()
    assert [r["level"] for r in rows] == ["exact", "last7", "else"]
    assert rows[0]["bayes_factor"] == pytest.approx(700.0)
    assert list(tmp_path.joinpath("state").iterdir()) == [path]  # no temp file left behind


def test_load_model_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"model\.json: no trained model"):
        load_model(tmp_path / "model.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ModelError, match=r"bad\.json: invalid model file"):
        load_model(bad)


def test_spec_hash_changes_with_the_spec() -> None:
    base = spec_hash(("first_name", "phone"), {}, True)
    assert base == spec_hash(("first_name", "phone"), {}, True)
    assert base != spec_hash(("first_name",), {}, True)
    assert base != spec_hash(("first_name", "phone"), {"phone.else": 0.1}, True)
    assert base != spec_hash(("first_name", "phone"), {}, False)


def test_recordlinkage_ecm_cross_check_agrees_on_clear_pairs() -> None:
    from cdp.resolve.fuzzy.ecm import ecm_features, ecm_probabilities

    rng = np.random.default_rng(5)
    n_match, n_non = 400, 1600
    other = COMPARISONS["first_name"].labels.index("else")
    dob_else = COMPARISONS["birth_date"].labels.index("else")
    levels = pl.DataFrame(
        {
            "first_name": np.concatenate(
                [np.full(n_match, 1), rng.choice([1, other], n_non, p=[0.02, 0.98])]
            ),
            "phone": np.concatenate([rng.choice([1, 3], n_match, p=[0.8, 0.2]), np.full(n_non, 3)]),
            "birth_date": np.concatenate([np.full(n_match, 1), rng.choice([0, dob_else], n_non)]),
        }
    ).cast(pl.Int8)
    feats = ecm_features(levels)
    assert feats.columns == ["first_name", "phone", "birth_date"]
    assert feats.row(0) == (1, 1, 1) and feats["birth_date"][n_match:].sum() == 0
    prob = ecm_probabilities(levels)
    assert prob.shape == (n_match + n_non,)
    assert (prob[:n_match] > 0.5).mean() > 0.95
    assert (prob[n_match:] < 0.5).mean() > 0.95


def test_a_corrupt_model_file_is_retrained_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conftest import frame

    from cdp.resolve.fuzzy import FuzzySettings, find_matches

    path = tmp_path / "model.json"
    path.write_text("{broken")
    recs = frame({"first_name_key": "ana", "phone": "+34600000001"}, {"first_name_key": "ana"})
    result = find_matches(recs, settings=FuzzySettings(u_sample_size=100), model_path=path)
    assert result.stats["trained"] is True
    assert "model.json: invalid model file" in capsys.readouterr().err
    assert load_model(path).names == FuzzySettings().comparisons


def test_a_model_is_outgrown_once_records_reach_the_growth_factor(trained, tmp_path) -> None:
    from cdp.resolve.fuzzy import load_model, model_outgrown

    path, _ = trained
    n = int(load_model(path).info["trained_records"])
    assert n > 0
    assert not model_outgrown(path, 2 * n - 1, 2.0)
    assert model_outgrown(path, 2 * n, 2.0)
    assert not model_outgrown(path, 10 * n, 0.0)  # 0: never
    assert not model_outgrown(tmp_path / "missing.json", 10 * n, 2.0)


def _swap_model() -> MatchModel:
    labels = COMPARISONS["first_name"].labels
    m = np.full(len(labels), 0.01)
    u = np.full(len(labels), 0.01)
    m[labels.index("exact")], u[labels.index("exact")] = 0.8, 0.01  # log2(80) = 6.32
    m[labels.index("swapped")], u[labels.index("swapped")] = 0.05, 1e-6  # 15.6 uncapped
    comps = [ComparisonParams("first_name", labels, m, u)]
    tf = {"first_name": TermFrequencies("first_name_key", 100, {"maria": 20})}
    return MatchModel(comps, 1e-3, "x", tf_adjustment=True, tf=tf)


def test_swapped_name_is_never_stronger_than_the_same_name_in_place() -> None:
    model = _swap_model()
    w = model.comparisons[0].weights()
    labels = COMPARISONS["first_name"].labels
    assert w[labels.index("swapped")] == pytest.approx(np.log2(80))
    assert w[labels.index("exact")] == pytest.approx(np.log2(80))


def test_swapped_name_gets_the_commoner_sides_term_frequency() -> None:
    # maria garcia / garcia maria: the left first name is the surname 'garcia' (rare as a
    # first name); the right one, 'maria', is common, and that is the frequency that counts
    model = _swap_model()
    labels = COMPARISONS["first_name"].labels
    levels = pl.DataFrame({"first_name": [labels.index("swapped")]}, schema={"first_name": pl.Int8})
    left = {"first_name": pl.Series(["garcia"])}
    right = {"first_name": pl.Series(["maria"])}
    _, per = score(levels, model, left, tf_values_r=right)
    expected = np.log2(80) + np.log2(0.01 / 0.2)  # tf('maria') = 20 / 100
    assert per["first_name"][0] == pytest.approx(expected)
    _, one_side = score(levels, model, left)  # left only: rare 'garcia' would strengthen it
    assert one_side["first_name"][0] > per["first_name"][0]


def test_birth_date_u_has_the_random_pairs_matches_taken_out() -> None:
    # levels: null, exact, day_month_swapped, one_digit, transposed, within_year, else
    u_obs = np.array([1.0, 6e-4, 1e-5, 1e-3, 1e-5, 0.02, 0.97838])
    m = np.array([1.0, 0.9, 0.001, 0.01, 0.001, 0.01, 0.078])
    address = np.array([1.0, 1e-4, 2e-4, 1e-3, 1e-3, 0.9977])
    out = matches_removed({"birth_date": u_obs, "address": address}, {"birth_date": m}, 5e-4)
    # exact: (6e-4 - 5e-4 * 0.9) / (1 - 5e-4) = 1.5008e-4 before renormalising
    raw = np.maximum((u_obs - 5e-4 * m) / (1 - 5e-4), u_obs / 16)
    expected = raw[1:] / raw[1:].sum()
    np.testing.assert_allclose(out["birth_date"][1:], expected)
    assert out["birth_date"][1] == pytest.approx(1.5008e-4, rel=1e-3)
    assert out["address"] is address  # households share it: left as observed
    # the matches explain more than the observed agreement: floored at 1/16 of it
    floored = matches_removed({"birth_date": u_obs}, {"birth_date": m}, 1e-3)
    assert floored["birth_date"][1] == pytest.approx(6e-4 / 16, rel=1e-3)
