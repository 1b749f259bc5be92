"""From a raw finding to a readable, minimized, attributed reproducer.

A reproducer is a ``.wsa`` program with expectations (from the reference side
when there is one, else side a), a header comment giving the signature, the
sides, the first divergent step and, for two profiles, the attribution: the
switch or switches whose flip alone removes the divergence.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path

from harness.lang.program import Program
from harness.lang.render import format_program, format_step, with_expectations
from harness.oracle.diff import Divergence, Side, diff
from harness.oracle.faults import DEFAULT_TIMEOUT, Fault, fault_of
from harness.oracle.known import KNOWN_PROFILE_DIFFERENCES, describe
from harness.oracle.run import explain, run
from harness.oracle.shrink import minimize
from harness.vocab.errors import HarnessError
from harness.vocab.fsutil import write_atomic
from harness.vocab.profiles import SWITCHES, Profile


@dataclass(frozen=True)
class Reproducer:
    program: Program
    divergence: Divergence | None
    attribution: tuple[str, ...] | None
    text: str
    signature: str = ""
    #: the root-cause key that groups findings (:func:`root_cause`)
    cause: str = ""
    fault: Fault | None = None

    @property
    def expected(self) -> bool:
        """A difference between profiles that known switches explain."""
        return bool(self.attribution) and all(
            s in KNOWN_PROFILE_DIFFERENCES
            for item in self.attribution or ()
            for s in item.split("+")
        )


def keeps_signature(a: Side, b: Side, signature: str) -> object:
    def keeps(program: Program) -> bool:
        d = diff(program, a, b)
        return d is not None and d.signature == signature

    return keeps


def _flip(profile: Profile, other: Profile, switches: tuple[str, ...]) -> Profile:
    values = {s: getattr(other, s) for s in switches}
    return dataclasses.replace(profile, name=f"{profile.name}+{'+'.join(switches)}", **values)


def attribute(program: Program, a: Side, b: Side) -> tuple[str, ...]:
    """The switches whose flip (on side a, toward side b) alone removes the
    divergence; pairs are tried when no single switch does.  Empty: none."""
    differing = [s for s in SWITCHES if getattr(a.profile, s) != getattr(b.profile, s)]
    for size in (1, 2):
        found = [
            "+".join(combo)
            for combo in itertools.combinations(differing, size)
            if diff(program, Side(a.engine, _flip(a.profile, b.profile, combo)), b) is None
        ]
        if found:
            return tuple(found)
    return ()


def build(program: Program, a: Side, b: Side, signature: str, raw_name: str | None) -> Reproducer:
    """Minimize ``program`` keeping ``signature``, attribute it, render it."""
    small = minimize(program, keeps_signature(a, b, signature))  # type: ignore[arg-type]
    d = diff(small, a, b)
    assert d is not None
    attribution = (
        attribute(small, a, b) if a.engine == b.engine and a.profile != b.profile else None
    )
    expect_side = a if a.engine == "reference" or b.engine != "reference" else b
    filled = with_expectations(small, run(small, expect_side.engine, expect_side.profile))
    filled = dataclasses.replace(
        filled,
        profile=expect_side.profile,
        has_profile=True,
        header_comments=_header(d, attribution, raw_name, expect_side),
    )
    return Reproducer(
        filled,
        d,
        attribution,
        format_program(filled),
        d.signature,
        root_cause(small, d, attribution),
    )


def root_cause(program: Program, d: Divergence, attribution: tuple[str, ...] | None) -> str:
    """The key that groups findings by cause, not by symptom.

    Between two profiles of one engine: the switch (or switch set) whose flip
    removes the divergence.  Between engines: the first divergent step's call
    and the rule ids the reference model applied at that step."""
    if attribution is not None:
        if attribution:
            return f"switch {', '.join(attribution)}"
        return f"unattributed {d.signature}"
    if d.step is None:
        return f"engines {d.signature}"
    ref = d.a if d.a.engine == "reference" else d.b
    explained = explain(program, ref.profile)[d.step]
    rules = sorted({*explained.result_rules, *(r for _, r in explained.events)})
    return f"engines {d.step_name} [{' '.join(rules)}]"


def build_fault(
    program: Program,
    side: Side,
    fault: Fault,
    other: Side | None,
    raw_name: str | None,
    isolate: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> Reproducer:
    """Minimize ``program`` keeping ``fault`` (the same kind in the same
    engine), render it with expectations from ``other`` when that side runs it
    cleanly, and a header naming the fault."""

    def keeps(candidate: Program) -> bool:
        got = fault_of(candidate, side.engine, side.profile, isolate=isolate, timeout=timeout)
        return fault.same(got)

    if not keeps(program):
        raise HarnessError(f"{program.filename}: {fault.signature} does not reproduce")
    small = minimize(program, keeps)
    found = fault_of(small, side.engine, side.profile, isolate=isolate, timeout=timeout) or fault
    filled = small
    if other is not None and other.engine != side.engine:
        if fault_of(small, other.engine, other.profile, isolate=isolate, timeout=timeout) is None:
            filled = with_expectations(small, run(small, other.engine, other.profile))
    header = [
        "wsa-harness reproducer (minimized)",
        f"signature: {found.signature}",
        f"cause: {found.cause}",
        f"engine: {side.label}"
        + (f"; expectations from {other.label}" if filled is not small and other else ""),
        found.render(),
    ]
    if raw_name:
        header.append(f"raw input: {raw_name}")
    filled = dataclasses.replace(
        filled, profile=side.profile, has_profile=True, header_comments=tuple(header)
    )
    return Reproducer(
        filled, None, None, format_program(filled), found.signature, found.cause, found
    )


def _header(
    d: Divergence, attribution: tuple[str, ...] | None, raw_name: str | None, expect: Side
) -> tuple[str, ...]:
    lines = [
        "wsa-harness reproducer (minimized)",
        f"signature: {d.signature}",
        f"sides: {d.a.label} vs {d.b.label}; expectations from {expect.label}",
    ]
    if d.step is not None:
        step = d.program.steps[d.step]
        lines.append(f"first divergent step: {d.step + 1}: {format_step(step)}")
    else:
        lines.append("first divergence: the final snapshot")
    lines.append(f"  {d.a.label}: {' '.join(d.a_text[:-1]) or d.a_text[0]}")
    lines.append(f"  {d.b.label}: {' '.join(d.b_text[:-1]) or d.b_text[0]}")
    if attribution is not None:
        lines.append(f"attribution: {describe(attribution) or 'no single switch or pair'}")
    if raw_name:
        lines.append(f"raw input: {raw_name}")
    return tuple(lines)


def write(reproducer: Reproducer, path: Path) -> None:
    write_atomic(path, reproducer.text)
