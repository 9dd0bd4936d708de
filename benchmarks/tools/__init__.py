"""One module per benchmarked tool (`python -m benchmarks.tools.<tool>`), each reading
the same inputs and writing `predicted.parquet` (record_key, customer_id) and
`meta.json` (candidate pairs, notes); `measure` runs them with wall time and peak RSS."""
