"""Real engines (Linux, Wine) as sides of ``fuzz``, ``diff`` and ``minimize``.

A real side pairs a real engine with the reference model under one profile:
``--engines linux,reference`` compares the Linux kernel with the model under
the ``linux`` profile (the engine's own, unless ``--profiles`` names another).
The comparison is the conformance oracle's (:mod:`harness.conformance.compare`):
each step on what the engine declares it can observe, as far as the engine and
the model's cut allow.

- **Generation**: inputs decode under the engine's grammar
  (:mod:`harness.conformance.grammar`), so each program has only steps the
  engine can run; :class:`RealTarget` counts how many reach it.
- **A finding** is a step where the engine and the model differ (or an
  engine or model error).  Its signature is the step, the field that differs
  and both sides' texts with counts and names generalized, so that one
  behaviour is one finding.
- **Attribution**, on the minimized program, in this order:
  *known*: an entry of the engine's known-differences file matches it;
  *explained*: flipping one switch (or two) of the model's profile to the value
  another named profile gives it makes the comparison agree;
  *new*: neither.  Known findings are expected; explained ones are expected
  unless the model runs under the engine's own profile (then the profile is
  wrong for that case); new ones never are.
- **Minimization** reruns the real program for every candidate
  (:func:`minimize_real`): a reproducer is one the real engine still shows.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.conformance import EXTERNAL_ENGINES, open_engine
from harness.conformance.compare import (
    AGREE,
    DIFFER,
    ERROR,
    KNOWN,
    PARTIAL,
    Verdict,
    compare_program,
)
from harness.conformance.engine import ExternalEngine
from harness.conformance.grammar import engine_grammar
from harness.conformance.known_differences import KnownEntry, apply_known, load_known
from harness.fuzz.target import (
    COUNTS_FILE,
    DEFAULT_MAX_STEPS,
    DEFAULT_SIDES,
    FINDINGS_ENV,
    JOB_ENV,
    MAX_STEPS_ENV,
    SIDES_ENV,
    DifferentialTarget,
    Finding,
    FindingTarget,
    job_file,
    parse_sides,
    signature_key,
    target_from_env,
)
from harness.lang.encoding import FULL, Grammar, decode
from harness.lang.parser import parse
from harness.lang.program import Program
from harness.lang.render import format_program, format_step, with_expectations
from harness.lang.syntax import OP_NAMES
from harness.oracle.diff import Side
from harness.oracle.faults import Fault
from harness.oracle.reproducers import Reproducer
from harness.oracle.run import explain, run
from harness.oracle.shrink import minimize
from harness.vocab.errors import HarnessError
from harness.vocab.fsutil import write_atomic
from harness.vocab.profiles import PROFILES, SWITCHES, Profile

REAL_ENGINES = EXTERNAL_ENGINES
#: The real engines' known-differences files (docs/conformance.md)
KNOWN_DIR = Path(__file__).resolve().parents[2] / "conformance" / "known"
#: next to the findings: how many inputs reached the engine (written by the target)
REACH_FILE = "reach.counted"
EXPLAINED, KNOWN_KIND, NEW = "explained", "known", "new"
#: the note of a new finding the engine did not repeat while it was attributed
FLAKY = "the engine did not repeat it while it was attributed (timing-dependent)"
#: at most this many explanations name a root cause (the rest are counted)
SHOWN_EXPLANATIONS = 3
#: the filename a decoded program carries in reports
FUZZ_FILE = "<fuzz>"
#: seconds one program may take on a real engine in a campaign (past it: an error
#: finding naming the step, before libFuzzer's own -timeout kills the process)
PROGRAM_TIMEOUT = 5.0


def is_real(engine: str) -> bool:
    return engine in REAL_ENGINES


def real_pair(sides: tuple[Side, Side]) -> tuple[Side, Side] | None:
    """(the real side, the model side) when one side is a real engine."""
    a, b = sides
    if is_real(a.engine):
        return a, b
    if is_real(b.engine):
        return b, a
    return None


def check_real_sides(sides: tuple[Side, Side]) -> None:
    """A real engine is compared with the reference model only, under one profile."""
    pair = real_pair(sides)
    if pair is None:
        return
    real, model = pair
    if model.engine != "reference":
        raise HarnessError(
            f"a real engine is compared with the reference model: --engines "
            f"{real.engine},reference (not {real.engine},{model.engine})"
        )
    if real.profile != model.profile:
        raise HarnessError(
            f"{real.engine} is compared with the model under one profile: give --profiles "
            "with one name"
        )


def grammar_for(sides: tuple[Side, Side]) -> Grammar:
    pair = real_pair(sides)
    return FULL if pair is None else engine_grammar(pair[0].engine)


def numbered(program: Program, filename: str = FUZZ_FILE) -> Program:
    """The program as its text reads, so that each step has its line number."""
    return parse(format_program(program), filename)


def decode_real(data: bytes, profile: Profile, max_steps: int, grammar: Grammar) -> Program:
    """The program an input decodes to under a real engine's grammar, numbered."""
    return numbered(decode(data, profile, max_steps, grammar))


# --- one comparison -----------------------------------------------------------------


def load_known_for(engine: str, path: Path | None = None) -> dict[str, KnownEntry]:
    path = path or KNOWN_DIR / f"{engine}.txt"
    return load_known(path, engine) if path.is_file() else {}


@dataclass(frozen=True)
class Outcome:
    """A program's comparison with a real engine under one profile."""

    program: Program
    engine: str
    profile: Profile
    verdict: Verdict
    #: the verdict before the known list: DIFFER where the outcome is KNOWN
    raw: Verdict

    @property
    def differs(self) -> bool:
        return self.raw.kind in (DIFFER, ERROR)

    @property
    def step(self) -> int | None:
        """The index of the first differing step."""
        if self.raw.kind != DIFFER:
            return None
        return self.raw.index

    @property
    def label(self) -> str:
        return f"{self.engine}|reference/{self.profile.name}"

    @property
    def signature(self) -> str:
        v = self.raw
        if v.kind == ERROR:
            return f"error {_general(v.reason)} [{self.label}]"
        assert self.step is not None
        name = OP_NAMES[self.program.steps[self.step].op]
        field = v.field
        model, real = (_general(_shown(line)) for line in v.detail[1:3])
        return f"{name} {field} {model} ~ {real} [{self.label}]"

    def render(self) -> str:
        v = self.raw
        lines = [f"{self.engine} vs reference/{self.profile.name}: {v.summary()}", *v.detail]
        if self.verdict.kind == KNOWN:
            lines.append(f"  known: {self.verdict.note}")
        return "\n".join(lines)


def _shown(detail: str) -> str:
    """``  model (linux): -> 0`` -> ``-> 0``."""
    return detail.split(": ", 1)[1] if ": " in detail else detail


def _general(text: str) -> str:
    """Counts and names generalized: ``-> 100`` and ``-> 7`` are one behaviour."""
    text = re.sub(r"\b[sco]\d+\b", lambda m: m.group(0)[0], text)
    text = re.sub(r"#\d+", "#N", text)
    return re.sub(r"(?<![\w.])[1-9]\d*\b", "N", text)


def compare(
    program: Program,
    engine: ExternalEngine,
    profile: Profile,
    known: dict[str, KnownEntry] | None = None,
    timeout: float | None = PROGRAM_TIMEOUT,
) -> Outcome:
    """Run ``program`` on the real engine and on the model under ``profile``
    (the real run bounded by ``timeout`` seconds)."""
    raw = compare_program(program, engine, [profile], timeout)[profile.name]
    verdict = raw
    if known and profile.name == engine.name:
        verdict, _ = apply_known(raw, known)
    return Outcome(program, engine.name, profile, verdict, raw)


def keeps_signature(
    engine: ExternalEngine, profile: Profile, signature: str, known: dict[str, KnownEntry]
) -> object:
    def keeps(program: Program) -> bool:
        outcome = compare(program, engine, profile, known)
        return outcome.differs and outcome.signature == signature

    return keeps


# --- attribution ------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribution:
    kind: str  # EXPLAINED, KNOWN_KIND or NEW
    #: explained: ("switch (as PROFILE)", ...); known: the entry's reason
    items: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == EXPLAINED:
            return "explained by " + ", ".join(self.items)
        if self.kind == KNOWN_KIND:
            return "known: " + "; ".join(self.items)
        if self.items:
            return "new: " + "; ".join(self.items)
        return "new: no known entry, and no switch of a named profile removes it"


def _flip(profile: Profile, other: Profile, switches: tuple[str, ...]) -> Profile:
    values = {s: getattr(other, s) for s in switches}
    name = f"{profile.name}+{'+'.join(switches)}={other.name}"
    return dataclasses.replace(profile, name=name, **values)


def attribute(outcome: Outcome, engine: ExternalEngine) -> Attribution:
    """Known, explained by a switch, or new (see the module's docstring)."""
    if outcome.verdict.kind == KNOWN:
        return Attribution(KNOWN_KIND, (outcome.verdict.note,))
    if outcome.raw.kind != DIFFER:
        return Attribution(NEW)
    step = outcome.step
    assert step is not None
    profile = outcome.profile
    others = sorted(
        (p for p in PROFILES.values() if p.name != profile.name),
        key=lambda p: (p.name != outcome.engine, p.name),
    )
    for size in (1, 2):
        # one candidate per switch set and values; the profiles that hold those values
        candidates: dict[tuple[str, ...], tuple[Profile, list[str]]] = {}
        for other in others:
            differing = [s for s in SWITCHES if getattr(profile, s) != getattr(other, s)]
            for combo in itertools.combinations(differing, size):
                values = tuple(repr(getattr(other, s)) for s in combo)
                entry = candidates.setdefault((*combo, *values), (_flip(profile, other, combo), []))
                entry[1].append(other.name)
        if not candidates:
            continue
        # the profile itself runs against the same real run: a control, so that a
        # difference the engine does not repeat this time explains nothing
        tried = [profile, *(p for p, _ in candidates.values())]
        verdicts = compare_program(outcome.program, engine, tried, PROGRAM_TIMEOUT)
        control = dataclasses.replace(outcome, raw=verdicts[profile.name])
        if not control.differs or control.signature != outcome.signature:
            return Attribution(NEW, (FLAKY,))
        found = []
        line = outcome.program.steps[step].line
        for flipped, holders in candidates.values():
            v = verdicts[flipped.name]
            if v.kind == AGREE or (v.kind == PARTIAL and v.upto > line):
                switches = flipped.name.split("+", 1)[1].rsplit("=", 1)[0]
                found.append(f"{switches} (as {', '.join(holders)})")
        if found:
            return Attribution(EXPLAINED, tuple(sorted(found)))
    return Attribution(NEW)


def expected(attribution: Attribution, outcome: Outcome) -> bool:
    """Known findings, and explained ones under a profile other than the engine's own."""
    if attribution.kind == KNOWN_KIND:
        return True
    return attribution.kind == EXPLAINED and outcome.profile.name != outcome.engine


def root_cause(outcome: Outcome, attribution: Attribution) -> str:
    """The key that groups findings: the switch, the known entry, or the step and
    the rules the model applied there."""
    head = f"{outcome.engine} vs {outcome.profile.name}"
    if attribution.kind == EXPLAINED:
        items = attribution.items
        more = len(items) - SHOWN_EXPLANATIONS
        shown = ", ".join(items[:SHOWN_EXPLANATIONS]) + (f" and {more} more" if more > 0 else "")
        return f"{head}: switch {shown}"
    if attribution.kind == KNOWN_KIND:
        return f"{head}: known {attribution.items[0].split(']')[0]}]"
    if outcome.raw.kind == ERROR:
        return f"{head}: {outcome.signature}"
    step = outcome.step
    assert step is not None
    explained = explain(outcome.program, outcome.profile)[step]
    rules = sorted({*explained.result_rules, *(r for _, r in explained.events)})
    field = outcome.raw.field
    name = OP_NAMES[outcome.program.steps[step].op]
    return f"{head}: {name} {field} [{' '.join(rules)}]"


# --- reproducers ------------------------------------------------------------------------


@dataclass(frozen=True)
class RealReproducer(Reproducer):
    outcome: Outcome | None = None
    real_attribution: Attribution | None = None
    real_expected: bool = False

    @property
    def expected(self) -> bool:
        return self.real_expected


#: How many times a finding's program is rerun on the real engine before it
#: counts as not reproduced: a real engine's outcome can change from run to run
#: (which of two racing differences comes first, a completion a few ms late).
REPRODUCE_TRIES = 5


class NotReproduced(ValueError):
    """A finding whose program showed another outcome on every rerun."""

    def __init__(self, engine: str, signature: str, reruns: Counter[str]) -> None:
        self.engine = engine
        self.signature = signature
        #: what each rerun showed: ``agree``, ``known [ENTRY] at SIGNATURE``, or
        #: ``differs first at SIGNATURE``
        self.reruns = reruns
        super().__init__(f"{signature} does not reproduce on {engine}: {self.describe()}")

    @property
    def agreed(self) -> int:
        return self.reruns.get("agree", 0)

    def describe(self) -> str:
        shown = "; ".join(f"{n} x {what}" for what, n in sorted(self.reruns.items()))
        return f"{sum(self.reruns.values())} reruns: {shown}"


def _rerun_outcome(outcome: Outcome) -> str:
    if not outcome.differs:
        return outcome.verdict.kind
    if outcome.verdict.kind == KNOWN:
        entry = outcome.verdict.note.split("]")[0] + "]"
        return f"known {entry} at {outcome.signature}"
    return f"differs first at {outcome.signature}"


def reproduces(
    program: Program,
    engine: ExternalEngine,
    profile: Profile,
    signature: str,
    known: dict[str, KnownEntry],
    tries: int = REPRODUCE_TRIES,
) -> Outcome:
    """The first of up to ``tries`` reruns of ``program`` that shows ``signature``;
    :class:`NotReproduced`, saying what the reruns showed, when none does."""
    reruns: Counter[str] = Counter()
    for _ in range(tries):
        outcome = compare(program, engine, profile, known)
        if outcome.differs and outcome.signature == signature:
            return outcome
        reruns[_rerun_outcome(outcome)] += 1
    raise NotReproduced(engine.name, signature, reruns)


def minimize_real(
    program: Program,
    engine: ExternalEngine,
    profile: Profile,
    signature: str,
    known: dict[str, KnownEntry],
    raw_name: str | None = None,
) -> RealReproducer:
    """Minimize ``program`` keeping ``signature`` on the real engine (each candidate
    is rerun there), attribute the result and render it with the model's
    expectations and a header saying what the engine did.  The program is rerun
    up to :data:`REPRODUCE_TRIES` times first (:func:`reproduces`)."""
    keeps = keeps_signature(engine, profile, signature, known)
    entry = True

    def keeps_after_reruns(candidate: Program) -> bool:
        # the shrinker checks the whole program first: that check gets the reruns
        nonlocal entry
        if entry:
            entry = False
            reproduces(candidate, engine, profile, signature, known)
            return True
        return keeps(candidate)  # type: ignore[operator,no-any-return]

    small = numbered(minimize(program, keeps_after_reruns), program.filename)
    outcome = compare(small, engine, profile, known)
    if not outcome.differs:  # the engine changed its mind: keep the original
        small = program
        outcome = reproduces(small, engine, profile, signature, known)
    attribution = attribute(outcome, engine)
    is_expected = expected(attribution, outcome)
    filled = small
    try:
        filled = with_expectations(small, run(small, "reference", profile))
    except HarnessError:
        pass
    header = [
        f"wsa-harness reproducer (minimized against {engine.name})",
        f"signature: {outcome.signature}",
        f"sides: {engine.name} vs reference/{profile.name}; expectations from "
        f"reference/{profile.name}",
    ]
    if outcome.step is not None:
        step = small.steps[outcome.step]
        header.append(f"first differing step: {outcome.step + 1}: {format_step(step)}")
    header += [line.strip() for line in outcome.raw.detail[1:3]] or [outcome.raw.reason]
    header.append(f"attribution: {attribution.describe()}")
    if raw_name:
        header.append(f"raw input: {raw_name}")
    filled = dataclasses.replace(
        filled, profile=profile, has_profile=True, header_comments=tuple(header)
    )
    cause = root_cause(outcome, attribution)
    return RealReproducer(
        filled,
        None,
        None,
        format_program(filled),
        outcome.signature,
        cause,
        None,
        outcome,
        attribution,
        is_expected,
    )


def fault_reproducer(program: Program, fault: Fault, raw_name: str | None) -> Reproducer:
    """A fault of a real side (a hang or a crash of the target process): the
    program as it came, not minimized (each run may cost the time limit)."""
    header = [
        "wsa-harness reproducer (not minimized: a fault of a real side)",
        f"signature: {fault.signature}",
        f"cause: {fault.cause}",
        fault.render(),
    ]
    if raw_name:
        header.append(f"raw input: {raw_name}")
    filled = dataclasses.replace(program, header_comments=tuple(header))
    text = format_program(filled)
    attribution = Attribution(NEW)
    return RealReproducer(
        filled, None, None, text, fault.signature, fault.cause, fault, None, attribution
    )


@contextmanager
def opened(name: str) -> Iterator[ExternalEngine]:
    engine = open_engine(name)
    try:
        yield engine
    finally:
        engine.close()


# --- the fuzz target ----------------------------------------------------------------------


class RealTarget(FindingTarget):
    """The fuzz target with a real engine on one side (the campaign's child).

    The engine is opened once and serves every input.  It keeps its findings
    as :class:`harness.fuzz.target.FindingTarget` says, like
    :class:`harness.fuzz.target.DifferentialTarget`, and also counts how many
    inputs reach the engine (``reach.counted``)."""

    #: write the counts at least this often (seconds): real engines are slow
    WRITE_EVERY = 5.0

    def __init__(
        self,
        sides: tuple[Side, Side],
        findings: Path | None = None,
        max_steps: int = 20,
        engine: ExternalEngine | None = None,
        job: str = "",
    ) -> None:
        check_real_sides(sides)
        pair = real_pair(sides)
        assert pair is not None
        self.a, self.b = sides
        self.real, self.model = pair
        self.profile = self.model.profile
        self.grammar = engine_grammar(self.real.engine)
        self.engine = engine or open_engine(self.real.engine)
        self.known = load_known_for(self.real.engine)
        super().__init__(findings, job)
        self.max_steps = max_steps
        self.reach: Counter[str] = Counter()
        self._written = time.monotonic()

    def program(self, data: bytes) -> Program:
        return decode_real(data, self.profile, self.max_steps, self.grammar)

    def outcome(self, data: bytes) -> Outcome:
        return compare(self.program(data), self.engine, self.profile, self.known)

    def check(self, data: bytes) -> Finding | None:
        outcome = self.outcome(data)
        self._count_reach(outcome)
        if not outcome.differs:
            return None
        signature = outcome.signature
        key = signature_key(signature)
        self.counts[key] += 1
        kind = "divergence" if outcome.raw.kind == DIFFER else "error"
        if key in self.seen:
            return Finding(signature, data, "", kind)
        report = f"{outcome.render()}\n\nprogram:\n{format_program(outcome.program)}"
        return Finding(signature, data, report, kind)

    def _count_reach(self, outcome: Outcome) -> None:
        v = outcome.raw
        r = self.reach
        r["inputs"] += 1
        r["steps"] += len(outcome.program.steps)
        r["compared"] += v.compared
        if v.compared >= 1:
            r["reached"] += 1
        if v.kind in (AGREE, DIFFER):
            r["complete"] += 1
        if time.monotonic() - self._written > self.WRITE_EVERY:
            self.write_counts()

    def sides_of(self, finding: Finding) -> list[str]:
        return [self.real.engine, f"reference/{self.profile.name}"]

    def write_counts(self) -> None:
        self._written = time.monotonic()
        if self.findings is None:
            return
        if self.counts:
            text = json.dumps(dict(sorted(self.counts.items())), indent=0) + "\n"
            write_atomic(self.findings / job_file(COUNTS_FILE, self.job), text)
        if self.reach:
            reach = {"engine": self.real.engine, **dict(sorted(self.reach.items()))}
            text = json.dumps(reach, indent=0) + "\n"
            write_atomic(self.findings / job_file(REACH_FILE, self.job), text)


def read_reach(findings: Path) -> dict[str, int | str] | None:
    """The reach counts of every job of a campaign, summed (None: none written)."""
    total: dict[str, int | str] = {}
    for path in sorted(findings.glob(job_file(REACH_FILE, "*"))) + [findings / REACH_FILE]:
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(raw, dict):
            continue
        for key, value in raw.items():
            if isinstance(value, int):
                total[key] = int(total.get(key, 0)) + value
            else:
                total[key] = str(value)
    return total or None


def reach_line(reach: dict[str, int | str]) -> str:
    n = int(reach.get("inputs", 0)) or 1
    steps = int(reach.get("steps", 0)) or 1
    return (
        f"{100 * int(reach.get('reached', 0)) / n:.1f}% of {n} inputs ran on "
        f"{reach.get('engine')} past their first step; "
        f"{100 * int(reach.get('complete', 0)) / n:.1f}% compared to the end or to a "
        f"difference; {100 * int(reach.get('compared', 0)) / steps:.1f}% of the steps compared"
    )


def make_target() -> DifferentialTarget | RealTarget:
    """The campaign child's target from the environment: a :class:`RealTarget`
    when a side is a real engine, else the differential target."""
    import os

    sides = parse_sides(os.environ.get(SIDES_ENV, DEFAULT_SIDES))
    if real_pair(sides) is None:
        return target_from_env()
    findings = os.environ.get(FINDINGS_ENV)
    max_steps = int(os.environ.get(MAX_STEPS_ENV, DEFAULT_MAX_STEPS))
    job = os.environ.get(JOB_ENV, "")
    return RealTarget(sides, Path(findings) if findings else None, max_steps, job=job)


# --- the campaign's side (the parent process) ------------------------------------------------


class CampaignSide:
    """What a campaign with a real side does differently in the parent: inputs
    decode under the engine's grammar, seeds include the conformance programs,
    reproducers are minimized on the parent's own instance of the engine
    (opened when the first finding needs it), and a fault of the child is the
    real side's."""

    def __init__(self, sides: tuple[Side, Side], max_steps: int) -> None:
        check_real_sides(sides)
        pair = real_pair(sides)
        assert pair is not None
        self.real, self.model = pair
        self.profile = self.model.profile
        self.max_steps = max_steps
        self.grammar = engine_grammar(self.real.engine)
        self.known = load_known_for(self.real.engine)
        self._engine: ExternalEngine | None = None

    @classmethod
    def of(cls, sides: tuple[Side, Side], max_steps: int) -> CampaignSide | None:
        return cls(sides, max_steps) if real_pair(sides) is not None else None

    def decode(self, data: bytes) -> Program:
        return decode_real(data, self.profile, self.max_steps, self.grammar)

    def seed_folders(self, seeds: Path | None) -> list[Path]:
        """The seed corpus and the conformance programs (those of the checkout)."""
        programs = KNOWN_DIR.parent / "programs"
        return [p for p in (seeds, programs) if p is not None and p.is_dir()]

    def engine(self) -> ExternalEngine:
        if self._engine is None:
            self._engine = open_engine(self.real.engine)
        return self._engine

    def fault(self, kind: str) -> Fault:
        return Fault(kind, self.real.engine)

    def reproducer(self, meta: dict[str, object], data: bytes, key: str) -> Reproducer:
        program = self.decode(data)
        kind = str(meta.get("kind", "divergence"))
        if kind in ("divergence", "error"):
            signature = str(meta["signature"])
            return minimize_real(
                program, self.engine(), self.profile, signature, self.known, f"{key}.bin"
            )
        return fault_reproducer(program, self.fault(kind), f"{key}.bin")

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
