"""Harness for the fault-injection scenarios (tests/integration/test_faults_*.py, issue 8).

`workers` runs `ncrs-monitor worker` subprocesses (start, kill -9, SIGTERM, health polling, log
capture); `stream` builds and feeds a simulated event stream; `kafka` reads topics from the start
and folds them by key; `expected` derives what a replay of the same input decides; `broker` runs
a private Kafka broker that a test may stop. docs/reliability.md reports what these measure.
"""
