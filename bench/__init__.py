"""Benchmarks: `python -m bench` (or `make bench`) runs them and prints one table.

Not part of the test suite. Each module exposes ``run(quick: bool) -> list[Result]`` and measures
its figure against a baseline in the same run, on the same machine.
"""
