"""Benchmarks of the query path, throughput, build and start-up, and scale: `python -m bench.run`."""
