"""Benchmarks: one command each, peers in separate processes, ratios to a same-run baseline."""
