"""The headless segmentation engine: no LLM, no UI imports.

Load a table, infer column roles, report quality, prepare features, sweep algorithms and k,
choose, fit, and validate, profile and explain the segments. ``run_segmentation`` does it all.
"""
