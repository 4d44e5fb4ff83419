"""Plan vs actual per line and shift: OEE, its three factors, target vs actual, downtime by reason.

A pure fold over event-time facts: machine status changes (EquipmentStatusChanged) and cumulative
order progress (WorkOrderStatusChanged). Facts are sorted by event time first, so replaying the same
events in any order gives the same figures. "Now" (for the pro-rata target) is passed in.

Definitions (a line is down while any of its machines is DOWN, or with the `all` rule while every
machine seen on it is DOWN):
  planned   = shift time elapsed so far minus planned breaks
  run       = planned minus line-down time inside planned time
  availability = run / planned
  performance  = sum(ideal_cycle_s x units) / run    (unknown if any produced order lacks ideal_cycle_s)
  quality      = good / (good + scrap)               (quantity_done counts good units)
  OEE          = availability x performance x quality (unknown if any factor is)
  target       = planned / ideal cycle of the mix made so far x target share, the mix's cycle being
                 ideal time / units (good + scrap), unknown when performance is; before any unit,
                 the ideal cycle of the line's latest order. So one order's update never swaps the
                 whole shift onto its rate, and with a share of 1 actual / target is the OEE in units.
  actual       = good units made in the shift so far
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shopfloor.projections.calendar import Calendar, Interval, Shift, breaks_in, merge, overlap_ms, planned_ms

DOWN = "DOWN"
UNSPECIFIED = "unspecified"


@dataclass(frozen=True, slots=True)
class MachineChange:
    equipment_id: str
    at_ms: int
    status: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """An order's cumulative counts as of `at_ms` (fields the event left out already carried forward)."""

    work_order_id: str
    at_ms: int
    done: int
    scrap: int
    ideal_cycle_s: float | None = None


@dataclass(frozen=True, slots=True)
class Rules:
    behind_margin: float = 0.05  # behind when actual < target x (1 - margin)
    target_share: float = 1.0  # share of the ideal rate the plan expects (e.g. 0.85)
    down_rule: str = "any"  # the line is down while any machine is DOWN, or ("all") only while all are


@dataclass(frozen=True, slots=True)
class LineFigures:
    line_id: str
    shift: Shift
    state: str  # running | behind | stopped
    planned_s: float
    run_s: float
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    good: int
    scrap: int
    target: int | None
    actual: int

    @property
    def gap(self) -> int | None:
        return None if self.target is None else self.actual - self.target


def _by_machine(changes: Iterable[MachineChange]) -> dict[str, list[MachineChange]]:
    per: dict[str, list[MachineChange]] = {}
    for change in sorted(changes, key=lambda c: (c.at_ms, c.equipment_id, c.status)):
        per.setdefault(change.equipment_id, []).append(change)
    return per


def down_spans(
    changes: Iterable[MachineChange], start_ms: int, end_ms: int
) -> dict[str, list[tuple[int, int, str]]]:
    """Per machine: its DOWN spans clipped to [start_ms, end_ms), each with the reason it went down."""
    spans: dict[str, list[tuple[int, int, str]]] = {}
    for machine, history in _by_machine(changes).items():
        for i, change in enumerate(history):
            if change.status != DOWN:
                continue
            until = history[i + 1].at_ms if i + 1 < len(history) else end_ms
            s, e = max(change.at_ms, start_ms), min(until, end_ms)
            if e > s:
                spans.setdefault(machine, []).append((s, e, change.reason or UNSPECIFIED))
    return spans


def line_down(
    changes: Iterable[MachineChange], start_ms: int, end_ms: int, rule: str = "any"
) -> list[Interval]:
    """When the line is down: the union of its machines' DOWN spans ("any"), or their intersection
    over every machine seen on the line ("all": redundant machines keep the line running)."""
    changes = list(changes)
    spans = down_spans(changes, start_ms, end_ms)
    if rule != "all":
        return merge([(s, e) for per in spans.values() for s, e, _ in per])
    down: list[Interval] = [(start_ms, end_ms)] if end_ms > start_ms else []
    for machine in {c.equipment_id for c in changes}:
        own = merge([(s, e) for s, e, _ in spans.get(machine, [])])
        down = [(max(a, c), min(b, d)) for a, b in down for c, d in own if min(b, d) > max(a, c)]
    return down if changes else []


def downtime_by_reason(
    changes: Iterable[MachineChange],
    start_ms: int,
    end_ms: int,
    breaks: list[Interval] = (),  # type: ignore[assignment]
) -> dict[tuple[str, str], int]:
    """(machine, reason) -> DOWN ms inside [start_ms, end_ms), not counting planned breaks."""
    totals: dict[tuple[str, str], int] = {}
    for machine, spans in down_spans(changes, start_ms, end_ms).items():
        for s, e, reason in spans:
            ms = (e - s) - overlap_ms(list(breaks), s, e)
            if ms > 0:
                totals[(machine, reason)] = totals.get((machine, reason), 0) + ms
    return totals


def _units(
    progress: Iterable[Progress], start_ms: int, now_ms: int
) -> tuple[int, int, float | None, bool, float | None]:
    """Good and scrap units made in [start_ms, now_ms], ideal seconds for them (None if unknown),
    whether any units were made, and the ideal cycle of the latest order seen."""
    per: dict[str, list[Progress]] = {}
    for p in sorted(progress, key=lambda p: (p.at_ms, p.work_order_id, p.done, p.scrap)):
        if p.at_ms <= now_ms:
            per.setdefault(p.work_order_id, []).append(p)
    good = scrap = 0
    ideal_s: float | None = 0.0
    latest: tuple[int, float] | None = None
    for history in per.values():
        before = [p for p in history if p.at_ms < start_ms]
        base_done, base_scrap = (before[-1].done, before[-1].scrap) if before else (0, 0)
        last = history[-1]
        made_good = max(0, last.done - base_done) if last.at_ms >= start_ms else 0
        made_scrap = max(0, last.scrap - base_scrap) if last.at_ms >= start_ms else 0
        good, scrap = good + made_good, scrap + made_scrap
        cycle = next((p.ideal_cycle_s for p in reversed(history) if p.ideal_cycle_s), None)
        if made_good + made_scrap:
            ideal_s = None if cycle is None or ideal_s is None else ideal_s + cycle * (made_good + made_scrap)
        if cycle and (latest is None or last.at_ms >= latest[0]):
            latest = (last.at_ms, cycle)
    return good, scrap, ideal_s, bool(good + scrap), None if latest is None else latest[1]


def figures(
    line_id: str,
    calendar: Calendar,
    shift: Shift,
    now_ms: int,
    changes: Iterable[MachineChange],
    progress: Iterable[Progress],
    rules: Rules = Rules(),
) -> LineFigures:
    """The line's figures for `shift` as of `now_ms`. `changes` and `progress` may include facts from
    before the shift (they give each machine's state and each order's counts at its start)."""
    changes, progress = list(changes), list(progress)
    end = max(shift.start_ms, min(now_ms, shift.end_ms))
    breaks = breaks_in(calendar, shift.start_ms, end)
    planned = planned_ms(calendar, shift, end)
    down = line_down([c for c in changes if c.at_ms <= now_ms], shift.start_ms, end, rules.down_rule)
    down_planned = sum(overlap_ms(breaks_complement(breaks, s, e), s, e) for s, e in down)
    run = max(0, planned - down_planned)
    good, scrap, ideal_s, made, cycle = _units(progress, shift.start_ms, end)
    availability = run / planned if planned else None
    if ideal_s is None or not run or (not made and cycle is None):
        performance = None  # no rate to compare with: unknown, never a flattering 100 %
    else:
        performance = ideal_s * 1000 / run if made else 0.0
    quality = good / (good + scrap) if made else None
    factors = (availability, performance, quality)
    oee = None if any(f is None for f in factors) else availability * performance * quality  # type: ignore[operator]
    if made:  # units at the ideal rate of the mix made: (good + scrap) / ideal time; unknown with it
        target = None if not ideal_s else int(planned / 1000 * (good + scrap) / ideal_s * rules.target_share)
    else:
        target = None if not cycle else int(planned / 1000 / cycle * rules.target_share)
    seen = [c for c in changes if c.at_ms <= now_ms]
    stopped = any(s <= now_ms < e for s, e in line_down(seen, now_ms, now_ms + 1, rules.down_rule))
    if stopped:
        state = "stopped"
    elif target is not None and good < target * (1 - rules.behind_margin):
        state = "behind"
    else:
        state = "running"
    return LineFigures(
        line_id,
        shift,
        state,
        planned / 1000,
        run / 1000,
        availability,
        performance,
        quality,
        oee,
        good,
        scrap,
        target,
        good,
    )


def breaks_complement(breaks: list[Interval], start_ms: int, end_ms: int) -> list[Interval]:
    """[start_ms, end_ms) minus the breaks: the planned production time inside it."""
    out, at = [], start_ms
    for s, e in breaks:
        if e <= at or s >= end_ms:
            continue
        if s > at:
            out.append((at, min(s, end_ms)))
        at = max(at, e)
    if at < end_ms:
        out.append((at, end_ms))
    return out
