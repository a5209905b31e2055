"""``python -m bench.matrix``: palm's Matrix sends/s against raw matrix-nio, same account."""
