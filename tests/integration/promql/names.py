"""The metric and label names a PromQL expression refers to, and the names a worker exposes.

Deliberately small rather than a PromQL parser: every series of this project is named `ncrs_...`
(exported by the worker) or `ncrs:...` (recorded by deploy/prometheus/rules), and the only other
series the queries use is Prometheus's own `up`. String literals are removed before names are
looked for, so a label value such as a topic name can never be taken for a metric.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_METRIC = re.compile(r"(?<![A-Za-z0-9_:])(ncrs[_:][A-Za-z0-9_:]*|up)(?![A-Za-z0-9_:(])")
_SELECTOR = re.compile(r"(?<![A-Za-z0-9_:])(ncrs[_:][A-Za-z0-9_:]*|up)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_PLAIN_ALTERNATIVES = re.compile(r"^[A-Za-z0-9_.-]+(?:\|[A-Za-z0-9_.-]+)*$")

TARGET_LABELS = frozenset({"instance", "job"})
"""Labels Prometheus attaches to every scraped series."""


@dataclass(frozen=True)
class Matcher:
    """One label matcher of a selector: `metric{label op "value"}`."""

    metric: str
    label: str
    op: str
    value: str

    def literal_values(self) -> list[str]:
        """The values named by an equality or a plain `a|b|c` regex matcher, else none."""
        if self.op in {"=", "!="}:
            return [self.value] if self.value else []
        if _PLAIN_ALTERNATIVES.match(self.value):
            return self.value.split("|")
        return []


def metric_names(expr: str) -> set[str]:
    """Series names the expression selects (`ncrs_*`, `ncrs:*` and `up`)."""
    return set(_METRIC.findall(_STRING.sub('""', expr)))


def matchers(expr: str) -> list[Matcher]:
    """Every label matcher inside a `name{...}` selector of the expression."""
    found = []
    for metric, body in _SELECTOR.findall(expr):
        for label, op, value in _MATCHER.findall(body):
            found.append(Matcher(metric, label, op, value))
    return found


def grouping_labels(expr: str) -> set[str]:
    """Labels named in `by`, `without`, `on`, `ignoring` and `group_*` clauses."""
    labels: set[str] = set()
    for body in _GROUPING.findall(_STRING.sub('""', expr)):
        labels.update(part.strip() for part in body.split(",") if part.strip())
    return labels


@dataclass(frozen=True)
class Exposition:
    """What one /metrics page exposes: sample names and the label names of each."""

    labels_of: dict[str, frozenset[str]]

    @classmethod
    def parse(cls, text: str) -> Exposition:
        """Parse Prometheus text format; each sample name (`_total`, `_bucket`...) is a key."""
        labels: dict[str, set[str]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels.setdefault(sample.name, set()).update(sample.labels)
        return cls({name: frozenset(names) for name, names in labels.items()})

    def has(self, name: str) -> bool:
        return name in self.labels_of

    def labels_for(self, names: Iterable[str]) -> set[str]:
        """Union of the label names of the given series (target labels included)."""
        out: set[str] = set(TARGET_LABELS)
        for name in names:
            out.update(self.labels_of.get(name, ()))
        return out
