"""Stage orchestration without Dagster: each stage is one function over a `Settings`.

The CLI (`pipelines.cli`) and the Dagster assets (`dagster_project`) both call these
functions, so a stage behaves the same whichever runs it. Stages hand data to each
other through the lake and the warehouse (see `cdp.layout`), never in memory, so
each can run on its own.
"""
