"""Helpers for checking the dashboards' PromQL against a real Prometheus scraping a real worker.

`prometheus` runs the Debian `prometheus` server on a temporary config and storage directory,
`stack` runs the `ncrs-monitor` commands (simulate, topics create, worker) and feeds the worker,
`names` finds the metric and label names a PromQL expression refers to.
"""
