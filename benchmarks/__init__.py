"""The fx2mlx benchmark harness (not part of the package): ``python -m benchmarks.run``."""
