"""Optional cross-check: recordlinkage's ECM classifier over the same comparison levels.

recordlinkage's `ECMClassifier` is Fellegi-Sunter with EM over binary agreement
features and no term frequencies, blocking-rule sessions or fixed u. Running it on our
levels (one agree/disagree feature per comparison) shows what those design choices buy.
pandas stays at this boundary; the import is lazy.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp.resolve.fuzzy.comparisons import COMPARISONS


def ecm_features(levels: pl.DataFrame) -> pl.DataFrame:
    """One 0/1 agreement column per comparison (any level but null and else), the usual
    recordlinkage encoding: ECM assumes independent features, which one-hot levels of a
    single field are not (it then latches onto a rare exclusive level as the match class)."""
    return pl.DataFrame(
        {
            name: ((levels[name] != 0) & (levels[name] != len(COMPARISONS[name].labels) - 1)).cast(
                pl.Int8
            )
            for name in levels.columns
        }
    )


def ecm_probabilities(levels: pl.DataFrame, *, max_iter: int = 100) -> np.ndarray:
    """Match probability per pair from recordlinkage's ECM trained on these pairs."""
    import pandas as pd
    from recordlinkage import ECMClassifier

    feats = ecm_features(levels)
    # ECM has no smoothing: a feature that is (nearly) constant within a class gets a zero
    # probability and every posterior turns NaN, so rare and constant features are dropped.
    n = max(feats.height, 1)
    keep = [c for c in feats.columns if 0.005 * n <= feats[c].sum() < n]
    frame = feats.select(keep).to_pandas()
    frame.index = pd.MultiIndex.from_arrays([np.arange(len(frame)), np.arange(len(frame))])
    clf = ECMClassifier(binarize=None, max_iter=max_iter)
    clf.fit(frame)
    return np.asarray(clf.prob(frame).to_numpy(), dtype=np.float64)
