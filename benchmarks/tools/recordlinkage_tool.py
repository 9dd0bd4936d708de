"""recordlinkage 0.16: Block indexing (the shared rules, one Block per rule, unioned),
binary comparisons (Jaro-Winkler ≥ 0.85 on names and street, exact on the rest) and
the unsupervised ECM classifier, then connected components of the matched pairs."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import polars as pl

from benchmarks.tools.common import (
    IDENTIFIERS,
    filled,
    load_identity,
    parse_args,
    usable_rules,
    write_outputs,
)


def candidate_pairs(df: pd.DataFrame, rules: list[tuple[str, ...]]) -> pd.MultiIndex:
    """Union of recordlinkage `Block` indexes, each on the records that have the rule's keys
    (pandas joins would otherwise put every null into one giant block)."""
    import recordlinkage as rl

    index: pd.MultiIndex | None = None
    for rule in rules:
        sub = df.dropna(subset=list(rule))
        pairs = rl.index.Block(list(rule)).index(sub)
        index = pairs if index is None else index.union(pairs)
    if index is None:
        return pd.MultiIndex.from_arrays([[], []])
    return index


def features(df: pd.DataFrame, pairs: pd.MultiIndex, cols: set[str]) -> pd.DataFrame:
    import recordlinkage as rl

    c = rl.Compare()
    for col in ("first_name", "surname", "street"):
        if col in cols:
            c.string(col, col, method="jarowinkler", threshold=0.85, label=col)
    for col in ("dob", "email", "phone", "postcode", "city", "street_number", *IDENTIFIERS):
        if col in cols:
            c.exact(col, col, label=col)
    return c.compute(pairs, df)


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels)


def main() -> None:
    import recordlinkage as rl

    args = parse_args(__doc__ or "recordlinkage")
    timings: dict[str, float] = {}
    t = time.perf_counter()
    ident = load_identity(args.identity)
    cols = filled(ident) - {"unique_id"}
    df = ident.with_columns(pl.col("dob").cast(pl.String)).to_pandas().set_index("unique_id")
    df.index.name = "rid"
    rules = usable_rules(cols)
    timings["load"] = time.perf_counter() - t

    t = time.perf_counter()
    pairs = candidate_pairs(df, rules)
    timings["index"] = time.perf_counter() - t
    t = time.perf_counter()
    vectors = features(df, pairs, cols)
    timings["compare"] = time.perf_counter() - t
    t = time.perf_counter()
    if len(vectors):
        matches = rl.ECMClassifier(binarize=None).fit_predict(vectors)
    else:
        matches = pd.MultiIndex.from_arrays([[], []])
    timings["classify"] = time.perf_counter() - t

    t = time.perf_counter()
    position = pd.Index(df.index)
    left = position.get_indexer(matches.get_level_values(0))
    right = position.get_indexer(matches.get_level_values(1))
    labels = components(len(position), left, right)
    timings["cluster"] = time.perf_counter() - t
    predicted = pl.DataFrame(
        {"record_key": position.to_numpy().astype(str), "customer_id": labels.astype(str)}
    )
    write_outputs(
        args.out,
        predicted,
        {
            "tool": "recordlinkage",
            "candidate_pairs": len(pairs),
            "records": len(df),
            "matches": len(matches),
            "timings": timings,
            "comparisons": sorted(cols),
            "blocking_rules": [" & ".join(r) for r in rules],
        },
    )


if __name__ == "__main__":
    main()
