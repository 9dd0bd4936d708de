"""Probabilistic (fuzzy) record matching: blocking, comparisons, Fellegi-Sunter with EM.

The resolve stage calls `find_matches` with the identity records; `cdp explain`
calls `load_model` and `explain_pair`. Everything else is internal.
"""

from __future__ import annotations

from cdp.resolve.fuzzy.blocking import BLOCK_KEYS, BlockingRule
from cdp.resolve.fuzzy.comparisons import COMPARISONS
from cdp.resolve.fuzzy.explain import ComparisonEvidence, PairExplanation, explain_pair
from cdp.resolve.fuzzy.matcher import FuzzyResult, find_matches, model_outgrown
from cdp.resolve.fuzzy.model import MatchModel, ModelError, load_model
from cdp.resolve.fuzzy.settings import FuzzySettings, fuzzy_settings

__all__ = [
    "BLOCK_KEYS",
    "COMPARISONS",
    "BlockingRule",
    "ComparisonEvidence",
    "FuzzyResult",
    "FuzzySettings",
    "MatchModel",
    "ModelError",
    "PairExplanation",
    "explain_pair",
    "find_matches",
    "fuzzy_settings",
    "load_model",
    "model_outgrown",
]
