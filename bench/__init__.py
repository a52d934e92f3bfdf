"""Benchmarks: `make bench` runs every `bench/*_bench.py`; each writes bench/results/<name>.json."""
