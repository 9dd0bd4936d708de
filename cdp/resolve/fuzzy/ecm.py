"""Optional cross-check: recordlinkage's ECM classifier over the same comparison levels.

recordlinkage's `ECMClassifier` is Fellegi-Sunter with EM over binary agreement
features and no term frequencies, blocking-rule sessions or fixed u. Running it on our
levels (one binary feature per non-null, non-`else` level) shows what those design
choices buy. pandas stays at this boundary; the import is lazy.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp.resolve.fuzzy.comparisons import COMPARISONS


def ecm_features(levels: pl.DataFrame) -> pl.DataFrame:
    """One 0/1 column `<comparison>=<level>` per informative level (not null, not else)."""
    cols = {}
    for name in levels.columns:
        labels = COMPARISONS[name].labels
        for i, label in enumerate(labels[1:-1], start=1):
            cols[f"{name}={label}"] = (levels[name] == i).cast(pl.Int8)
    return pl.DataFrame(cols)


def ecm_probabilities(levels: pl.DataFrame, *, max_iter: int = 100) -> np.ndarray:
    """Match probability per pair from recordlinkage's ECM trained on these pairs."""
    import pandas as pd
    from recordlinkage import ECMClassifier

    feats = ecm_features(levels)
    keep = [c for c in feats.columns if feats[c].sum() > 0]  # constant columns break ECM
    frame = feats.select(keep).to_pandas()
    frame.index = pd.MultiIndex.from_arrays([np.arange(len(frame)), np.arange(len(frame))])
    clf = ECMClassifier(binarize=None, max_iter=max_iter)
    clf.fit(frame)
    return np.asarray(clf.prob(frame).to_numpy(), dtype=np.float64)
