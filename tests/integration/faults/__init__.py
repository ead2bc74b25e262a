"""Harness for the fault-injection scenarios (tests/integration/test_faults_*.py, issue 8).

`stream` builds and feeds a simulated event stream; `kafka` reads topics from the start and
folds them by key; `expected` derives what a replay of the same input decides; `scenario` judges
a run against it and reports the figures; `settle` waits until a fleet has decided everything;
`broker` runs a private Kafka broker that a test may stop. The workers themselves (start,
kill -9, SIGTERM, health polling, log capture) come from the one worker kit,
tests/integration/kit.py. docs/reliability.md reports what these measure.
"""
