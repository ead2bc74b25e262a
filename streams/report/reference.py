"""The seed's published Cheshire figures, drawn beside the monitor's as reference marks.

HMIC, Crime Data Integrity inspection of Cheshire Constabulary (2017), as listed in the rules file
§6. Each is a point estimate with, where HMIC published one, the 95% half-width.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reference:
    """One published figure: a proportion, its 95% half-width if published, and its source."""

    value: float
    half_width: float | None
    label: str

    @property
    def short(self) -> str:
        """The figure as a table cell: '83.6% ±1.79'."""
        text = f"{100 * self.value:.1f}%"
        return f"{text} ±{100 * self.half_width:.2f}" if self.half_width else text


SOURCE = "HMIC Cheshire 2017"

RECORDING: dict[str, Reference] = {
    "OVERALL": Reference(0.836, 0.0179, f"{SOURCE}: 83.6% ±1.79"),
    "VIOLENCE": Reference(0.809, 0.0300, f"{SOURCE}: 80.9% ±3.00"),
    "SEXUAL": Reference(0.848, 0.0310, f"{SOURCE}: 84.8% ±3.10 (incl. rape)"),
}
"""Recording rates overall and by group ('SEXUAL' is sexual offences including rape).

Rape alone (109 of 138 recorded as rape) is not marked: the stream's proxy counts a rape report
answered by an N100 or a crime of another offence as answered, so the two are not comparable."""

IMPROVED_RECORDING = Reference(0.964, None, "HMICFRS Cheshire 2018 re-inspection: 96.4%")

TIMELINESS: dict[str, Reference] = {
    "RAPE": Reference(81 / 103, None, f"{SOURCE}: 81 of 103 within 24 h"),
    "VIOLENCE": Reference(406 / 512, None, f"{SOURCE}: 406 of 512 within 24 h"),
    "OTHER_SEXUAL": Reference(122 / 199, None, f"{SOURCE}: 122 of 199 within 24 h"),
}

N100_APPLIED = Reference(9 / 29, None, f"{SOURCE}: N100 applied on 9 of 29 occasions")
N100_WRONG = Reference(4 / 18, None, f"{SOURCE}: 4 of 18 N100s should have been rape crimes")

CANCELLATION_CORRECT: dict[str, Reference] = {
    "RAPE": Reference(17 / 20, None, f"{SOURCE}: 17 of 20 correct"),
    "OTHER_SEXUAL": Reference(17 / 20, None, f"{SOURCE}: 17 of 20 correct"),
    "VIOLENCE": Reference(13 / 20, None, f"{SOURCE}: 13 of 20 correct"),
    "ROBBERY": Reference(10 / 12, None, f"{SOURCE}: 10 of 12 correct"),
}
