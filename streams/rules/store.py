"""The engine's cases in memory: recently stored ones as objects, older ones packed into bytes.

An open case held as Python objects (its facts dicts, its obligations, their strings and
timestamps) takes about 2.5 KB, and most cases sit idle for weeks waiting for a deadline or for
retention to drop them. `CaseStore` keeps the `hot_limit` most recently inserted cases as they
are and packs older ones into a few hundred bytes: marshal, then zlib primed with a dictionary
made of this store's own first packed cases (so the repeated fact names, codes and id shapes
cost almost nothing). A packed case is unpacked whenever it is asked for, and stored unpacked
again when the engine stores its next state. With the default limit, a force-sized replay never
packs anything; a national one holds millions of open obligations in a few GiB.

Packing is exact: an unpacked case equals the case packed, field by field, with the same types
(marshal keeps `True` apart from `1` and a tuple apart from a list) and the same dict order. A
case that could not be packed exactly (a timestamp outside UTC, a fact value marshal cannot
hold, a value of an unexpected type) simply stays unpacked. Packed bytes live only in this
process: they are never written anywhere, so their format may change with any release.
"""

from __future__ import annotations

import marshal
import zlib
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from schemas.codes import Cause, OffenceGroup, Queue, Severity, Stage
from streams.rules.model import (
    CaseKind,
    CaseState,
    Obligation,
    Outcome,
    Refs,
    make_case,
    make_obligation,
    shared_stages,
)

CaseKey = tuple[CaseKind, str]

DEFAULT_HOT_CASES = 100_000
"""Cases kept unpacked (about 250 MB): more than a force's cases alive within retention."""

ZDICT_SAMPLES = 16
"""Packed cases that make the compression dictionary (the first ones packed are kept raw)."""

_ZDICT_MAX = 32 * 1024  # deflate's window: a longer dictionary would not be used
_RAW = b"\x00"
_DEFLATED = b"\x01"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_KIND = {m.value: m for m in CaseKind}
_SEVERITY = {m.value: m for m in Severity}
_QUEUE = {m.value: m for m in Queue}
_GROUP = {m.value: m for m in OffenceGroup}
_STAGE = {m.value: m for m in Stage}
_CAUSE = {m.value: m for m in Cause}
_OUTCOME = {m.value: m for m in Outcome}


class _UnpackableError(Exception):
    """A value that marshal could not give back exactly as it is."""


def _code(value: Any, kind: type[StrEnum]) -> str:
    if type(value) is not kind:
        raise _UnpackableError
    return str(value.value)


def _optional_code(value: Any, kind: type[StrEnum]) -> str | None:
    return None if value is None else _code(value, kind)


def _micros(at: Any) -> int:
    """Microseconds since the epoch of a UTC timestamp (anything else cannot be packed)."""
    if type(at) is not datetime or at.tzinfo is not UTC or at.fold:
        raise _UnpackableError
    return (at - _EPOCH) // _MICROSECOND


def _optional_micros(at: Any) -> int | None:
    return None if at is None else _micros(at)


def _instant(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _pack_obligation(ob: Obligation) -> tuple[Any, ...]:
    if type(ob) is not Obligation or type(ob.refs) is not Refs:
        raise _UnpackableError
    refs = ob.refs
    return (
        ob.obligation_id,
        ob.rule_id,
        ob.ruleset_id,
        ob.subject,
        (refs.incident_ref, refs.disclosure_id, refs.crime_ref, refs.n100_ref),
        _code(ob.severity, Severity),
        _code(ob.queue, Queue),
        tuple(_code(q, Queue) for q in ob.also_notify),
        _optional_code(ob.offence_group, OffenceGroup),
        ob.area,
        ob.reason_code,
        ob.source,
        _micros(ob.clock_start),
        _micros(ob.deadline),
        ob.deadline_basis,
        ob.calendar,
        tuple(_code(s, Stage) for s in ob.stages),
        tuple(_micros(at) for at in ob.stage_at),
        ob.trigger_event_ids,
        _optional_code(ob.cause, Cause),
        ob.considered_event_ids,
        tuple(_code(s, Stage) for s in ob.emitted),
        ob.undecided,
        _optional_code(ob.outcome, Outcome),
        _optional_micros(ob.closed_at),
    )


def _unpack_obligation(p: tuple[Any, ...]) -> Obligation:
    (
        obligation_id,
        rule_id,
        ruleset_id,
        subject,
        refs,
        severity,
        queue,
        also_notify,
        offence_group,
        area,
        reason_code,
        source,
        clock_start,
        deadline,
        deadline_basis,
        calendar,
        stages,
        stage_at,
        trigger_event_ids,
        cause,
        considered_event_ids,
        emitted,
        undecided,
        outcome,
        closed_at,
    ) = p
    return make_obligation(
        obligation_id,
        rule_id,
        ruleset_id,
        subject,
        Refs(*refs),
        _SEVERITY[severity],
        _QUEUE[queue],
        tuple(_QUEUE[q] for q in also_notify),
        None if offence_group is None else _GROUP[offence_group],
        area,
        reason_code,
        source,
        _instant(clock_start),
        _instant(deadline),
        deadline_basis,
        calendar,
        shared_stages(tuple(_STAGE[s] for s in stages)),
        tuple(_instant(at) for at in stage_at),
        trigger_event_ids,
        None if cause is None else _CAUSE[cause],
        considered_event_ids,
        shared_stages(tuple(_STAGE[s] for s in emitted)),
        undecided,
        None if outcome is None else _OUTCOME[outcome],
        None if closed_at is None else _instant(closed_at),
    )


def pack_case(case: CaseState) -> bytes | None:
    """The case as marshal bytes, or None if it cannot be packed exactly."""
    if type(case) is not CaseState or type(case.kind) is not CaseKind:
        return None
    try:
        obligations = tuple(_pack_obligation(ob) for ob in case.obligations.values())
        facts: Any = case.facts  # marshal itself refuses anything but a plain dict here
        return marshal.dumps(
            (case.kind.value, case.key, facts, obligations, case.seen, case.purged)
        )
    except (_UnpackableError, ValueError):  # marshal refuses anything but exact built-in types
        return None


def unpack_case(data: bytes) -> CaseState:
    """Inverse of `pack_case`."""
    # Only this process's own `pack_case` output is ever unpacked (never external input).
    kind, key, facts, obligations, seen, purged = marshal.loads(data)  # noqa: S302
    unpacked = (_unpack_obligation(p) for p in obligations)
    return make_case(
        _KIND[kind], key, facts, {ob.obligation_id: ob for ob in unpacked}, seen, purged
    )


class CaseStore(MutableMapping[CaseKey, CaseState]):
    """Cases by (kind, key): the `hot_limit` latest inserted as objects, the others packed.

    Storing a case that was packed makes it the latest inserted again, so a case still being
    worked on is only packed again once `hot_limit` newer cases have been stored. A case that
    cannot be packed exactly is set aside unpacked. With `hot_limit` None nothing is ever packed
    (the store is then a plain dict with extra steps). Iteration lists the packed cases first,
    then those set aside, then the others in insertion order, so two engines fed the same calls
    list their cases in the same order.
    """

    def __init__(self, hot_limit: int | None = DEFAULT_HOT_CASES) -> None:
        self.hot_limit = hot_limit
        self._hot: dict[CaseKey, CaseState] = {}
        self._cold: dict[CaseKey, bytes] = {}
        self._unpackable: dict[CaseKey, CaseState] = {}
        self._samples: list[bytes] = []
        self._zdict: bytes | None = None
        self._compressor: Any = None

    # --- packing ------------------------------------------------------------------------------

    def _compress(self, raw: bytes) -> bytes:
        if self._zdict is None:
            self._samples.append(raw)
            if len(self._samples) >= ZDICT_SAMPLES:
                self._zdict = b"".join(self._samples)[-_ZDICT_MAX:]
                self._compressor = zlib.compressobj(
                    1, zlib.DEFLATED, -15, zlib.DEF_MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY, self._zdict
                )
            return _RAW + raw
        compressor = self._compressor.copy()  # primed with the dictionary already
        deflated: bytes = compressor.compress(raw) + compressor.flush()
        return _DEFLATED + deflated

    def _decompress(self, packed: bytes) -> bytes:
        if packed[:1] == _RAW:
            return packed[1:]
        assert self._zdict is not None  # only compressed once the dictionary exists
        decompressor = zlib.decompressobj(-15, zdict=self._zdict)
        return decompressor.decompress(packed[1:]) + decompressor.flush()

    def _evict(self) -> None:
        """Pack the earliest inserted case; one that cannot be packed is kept aside as it is."""
        hot = self._hot
        key = next(iter(hot))
        case = hot.pop(key)
        raw = pack_case(case)
        if raw is None:
            self._unpackable[key] = case
        else:
            self._cold[key] = self._compress(raw)

    @property
    def packed(self) -> int:
        """How many cases are held packed."""
        return len(self._cold)

    # --- the mapping --------------------------------------------------------------------------

    def __getitem__(self, key: CaseKey) -> CaseState:
        case = self.get(key)
        if case is None:
            raise KeyError(key)
        return case  # type: ignore[no-any-return]  # `get` returns a CaseState or the default

    def get(self, key: CaseKey, default: Any = None) -> Any:
        """The case, unpacked if it was packed (it stays packed until it is stored again)."""
        case = self._hot.get(key)
        if case is not None:
            return case
        packed = self._cold.get(key)
        if packed is not None:
            return unpack_case(self._decompress(packed))
        return self._unpackable.get(key, default)

    def __setitem__(self, key: CaseKey, case: CaseState) -> None:
        # A case stored again after it was packed (or set aside) becomes the latest inserted; one
        # still unpacked keeps its place, as in a dict.
        if self._cold.pop(key, None) is None:
            self._unpackable.pop(key, None)
        hot = self._hot
        hot[key] = case
        limit = self.hot_limit
        if limit is not None:
            while len(hot) > limit:
                self._evict()

    def __delitem__(self, key: CaseKey) -> None:
        if self._hot.pop(key, None) is None and self._cold.pop(key, None) is None:
            del self._unpackable[key]

    def __contains__(self, key: object) -> bool:
        return key in self._hot or key in self._cold or key in self._unpackable

    def __iter__(self) -> Iterator[CaseKey]:
        yield from list(self._cold)
        yield from list(self._unpackable)
        yield from list(self._hot)

    def __len__(self) -> int:
        return len(self._hot) + len(self._cold) + len(self._unpackable)
