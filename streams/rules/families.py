"""Every rule family the monitor runs, in one tuple, and every rule id it can report on.

The live workers, the replay mode and the benchmark all take `ALL_FAMILIES`, so a family added
here is enforced everywhere at once. `RULE_IDS` lists each rule id once (plus the source
data-completeness pseudo-rule) so metrics can initialise their label values at start-up and a
series exists before the first breach.
"""

from __future__ import annotations

from streams.rules import cancellation, data_quality, n100, recording, safeguarding, victim_care
from streams.rules.engine import DATA_COMPLETENESS
from streams.rules.family import RuleFamily

ALL_FAMILIES: tuple[RuleFamily, ...] = (
    recording.FAMILY,
    n100.FAMILY,
    cancellation.FAMILY,
    victim_care.FAMILY,
    safeguarding.FAMILY,
    data_quality.FAMILY,
)

RULE_IDS: tuple[str, ...] = (
    *dict.fromkeys(rule for family in ALL_FAMILIES for rule in family.rule_ids),
    DATA_COMPLETENESS,
)
