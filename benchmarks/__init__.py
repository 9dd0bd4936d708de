"""Reproducible accuracy and speed benchmark: cdp against Splink and recordlinkage.

`python -m benchmarks --help` (or `make bench`). Each tool runs in its own
subprocess on the same data, so wall time and peak RSS are per tool; accuracy
comes from `cdp.evaluate` for every tool alike. Results go to `benchmarks/RESULTS.md`.
"""
