"""Benchmarks of ncrs-monitor (issue 7): run them with `ncrs-monitor bench` (bench/README.md).

Benchmarks print figures and write JSON; they are not tests and assert nothing about time.
"""
