"""The differential oracle: run one program on two (engine, profile) sides
and report the first step where they disagree.

Both sides reduce to the canonical form of harness.vocab.trace, so agreeing is one
equality check.  Only on a mismatch is the readable report built: the
preceding steps as context, the divergent step as each side saw it, and a
short *signature* (step name, the field that differs, the pair) that
deduplicates findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.lang.program import RECORD_WIDTH, Program, Step
from harness.lang.syntax import OP_NAMES
from harness.oracle.run import canonical
from harness.vocab import trace
from harness.vocab.constants import Op
from harness.vocab.profiles import Profile, get_profile

CONTEXT_STEPS = 6

_EVENT_NAMES = {
    trace.E_COMPLETE: ("complete", ("thread", "call", "ret", "err")),
    trace.E_OVL: ("ovl", ("op", "status", "value", "note")),
    trace.E_ROUTINE_RAN: ("routine-ran", ("op", "thread", "", "")),
    trace.E_POSTED: ("posted", ("process", "fd", "value", "err")),
    trace.E_FIN: ("fin", ("socket", "", "", "")),
    trace.E_RESET: ("reset", ("socket", "", "", "")),
    trace.E_DESTROYED: ("destroyed", ("socket", "", "", "")),
}
_RESULT_FIELDS = ("a", "b", "c")


@dataclass(frozen=True)
class Side:
    """One side of a comparison: an engine under a profile."""

    engine: str
    profile: Profile

    @property
    def label(self) -> str:
        return f"{self.engine}/{self.profile.name}"

    @classmethod
    def parse(cls, engine: str, profile: str) -> Side:
        return cls(engine, get_profile(profile))


@dataclass(frozen=True)
class Divergence:
    """The first disagreement between two sides on one program."""

    program: Program
    a: Side
    b: Side
    #: index of the first divergent step, or None when only the snapshot differs
    step: int | None
    field: str
    a_text: tuple[str, ...]
    b_text: tuple[str, ...]

    @property
    def step_name(self) -> str:
        if self.step is None:
            return "snapshot"
        return OP_NAMES[self.program.steps[self.step].op]

    @property
    def signature(self) -> str:
        """Step name, differing field and the pair: the key that deduplicates findings."""
        return f"{self.step_name} {self.field} [{self.a.label}|{self.b.label}]"

    def render(self) -> str:
        from harness.lang.render import format_step

        lines = [f"divergence: {self.signature}"]
        where = self.program.filename
        if self.step is not None:
            first = max(0, self.step - CONTEXT_STEPS)
            for i in range(first, self.step):
                lines.append(f"    {format_step(self.program.steps[i])}")
            step = self.program.steps[self.step]
            lines.append(f">>> {format_step(step)}    ({where}:{step.line or self.step + 1})")
        else:
            lines.append(
                f"    (all {len(self.program.steps)} steps agree; the final snapshot differs)"
            )
        for side, text in ((self.a, self.a_text), (self.b, self.b_text)):
            lines.append(f"  {side.label}:")
            lines.extend(f"      {t}" for t in text)
        return "\n".join(lines)


def diff(program: Program, a: Side, b: Side, timeout: float | None = None) -> Divergence | None:
    """Run both sides; None when they agree on results, events and snapshot.
    An engine fault raises :class:`~harness.oracle.faults.EngineFault`;
    ``timeout`` runs each side in a child with that time limit."""
    ca = canonical(program, a.engine, a.profile, timeout)
    cb = canonical(program, b.engine, b.profile, timeout)
    if ca == cb:
        return None
    return locate(program, a, b, ca, cb)


def locate(
    program: Program, a: Side, b: Side, ca: tuple[int, ...], cb: tuple[int, ...]
) -> Divergence:
    """Build the report for two canonical traces known to differ."""
    ta, tb = trace.decode(ca), trace.decode(cb)
    for i, (sa, sb) in enumerate(zip(ta.steps, tb.steps, strict=True)):
        if sa != sb:
            return Divergence(
                program, a, b, i, _step_field(sa, sb), _show(program, ta, i), _show(program, tb, i)
            )
    field, va, vb = _snapshot_field(ta.snapshot, tb.snapshot)
    return Divergence(program, a, b, None, field, (va,), (vb,))


def signature_of(
    lowered: Sequence[int], a: Side, b: Side, ca: Sequence[int], cb: Sequence[int]
) -> str:
    """:attr:`Divergence.signature` of two traces known to differ, from the
    lowered program and the raw traces alone: no Program, no report.  The
    fuzz target computes it for every divergent input and builds the full
    report only for a signature it has not seen.  Both traces must be valid
    (``trace.validate``); tests check it equals ``locate(...).signature``."""
    pa = pb = 1
    h, w = trace.STEP_HEADER, trace.EVENT_WIDTH
    for i in range(ca[0]):
        ea, eb = pa + h + w * ca[pa + h - 1], pb + h + w * cb[pb + h - 1]
        if ca[pa:ea] != cb[pb:eb]:
            name = OP_NAMES[Op(lowered[1 + RECORD_WIDTH * i])]
            field = _step_field(_outcome(ca, pa), _outcome(cb, pb))
            return f"{name} {field} [{a.label}|{b.label}]"
        pa, pb = ea, eb
    field, _, _ = _snapshot_field(trace.decode(ca).snapshot, trace.decode(cb).snapshot)
    return f"snapshot {field} [{a.label}|{b.label}]"


def _outcome(values: Sequence[int], pos: int) -> trace.StepOutcome:
    h, w = trace.STEP_HEADER, trace.EVENT_WIDTH
    nev = values[pos + h - 1]
    events = tuple(tuple(values[pos + h + w * k : pos + h + w * (k + 1)]) for k in range(nev))
    result = tuple(values[pos + 1 : pos + h - 1])
    return trace.StepOutcome(values[pos], result, events)  # type: ignore[arg-type]


def _step_field(sa: trace.StepOutcome, sb: trace.StepOutcome) -> str:
    if sa.result != sb.result:
        if sa.result[0] != sb.result[0]:
            return "result.kind"
        i = next(k for k in range(1, 4) if sa.result[k] != sb.result[k])
        return f"result.{_RESULT_FIELDS[i - 1]}"
    if sa.events != sb.events:
        for ea, eb in zip(sa.events, sb.events, strict=False):
            if ea == eb:
                continue
            if ea[0] != eb[0]:
                return f"events.{_EVENT_NAMES[ea[0]][0]}~{_EVENT_NAMES[eb[0]][0]}"
            name, fields = _EVENT_NAMES[ea[0]]
            k = next(k for k in range(1, 5) if ea[k] != eb[k])
            return f"events.{name}.{fields[k - 1]}"
        longer = sa.events if len(sa.events) > len(sb.events) else sb.events
        extra = longer[min(len(sa.events), len(sb.events))]
        which = "a" if longer is sa.events else "b"
        return f"events.extra-{which}.{_EVENT_NAMES[extra[0]][0]}"
    return "bound"


def _show(program: Program, t: trace.Trace, i: int) -> tuple[str, ...]:
    from harness.lang.render import with_expectations

    step: Step = with_expectations(program, t).steps[i]
    assert step.expect is not None
    return (
        f"-> {step.expect.result}",
        *(f"! {e}" for e in step.expect.events),
        f"(bound {t.steps[i].bound})",
    )


def _snapshot_field(sa: trace.Snapshot, sb: trace.Snapshot) -> tuple[str, str, str]:
    if sa.clock != sb.clock or sa.network_up != sb.network_up:
        return (
            "snapshot.world",
            f"clock={sa.clock} up={sa.network_up}",
            f"clock={sb.clock} up={sb.network_up}",
        )
    for part in ("processes", "threads", "sockets", "peers", "ops"):
        la, lb = getattr(sa, part), getattr(sb, part)
        if la == lb:
            continue
        if len(la) != len(lb):
            return f"snapshot.{part}.count", str(len(la)), str(len(lb))
        for ra, rb in zip(la, lb, strict=True):
            if ra != rb:
                key = next(k for k in ra if ra[k] != rb[k])
                label = f"{part[:-1]} {ra.get('id', la.index(ra))}"
                return (
                    f"snapshot.{part}.{key}",
                    f"{label}: {key}={ra[key]}",
                    f"{label}: {key}={rb[key]}",
                )
    return "snapshot", "?", "?"
