"""Benchmarks for tracer (pytest-benchmark); run with `make bench`."""
