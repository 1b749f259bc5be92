"""The differential fuzz target's logic, importable and testable without
atheris.

Invariant: for every byte string, :func:`harness.lang.encoding.decode` gives a
program on which both sides (engine, profile) produce the same canonical
trace (every step result, every event, the final snapshot), and on which the
reference model's invariants (SEMANTICS.md section 11) hold at the end.

On a violation the target either raises :class:`DivergenceFound` with the
rendered program and the divergence signature (the standalone libFuzzer
target), or, when given a findings folder, records each *distinct* signature
once, atomically, and goes on (the campaign driver's mode).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from harness.engines import load_engine
from harness.fuzz.policy import DEFAULT_POLICY, Policy
from harness.lang.encoding import decode, decode_lowered, header_profile
from harness.lang.program import Program
from harness.lang.render import format_program
from harness.oracle.diff import Side, locate, signature_of
from harness.oracle.faults import (
    WORK_PER_STEP,
    EngineFault,
    Fault,
    check_trace,
    classify,
    located,
    run_side,
    set_work_limit,
)
from harness.vocab.errors import HarnessError
from harness.vocab.fsutil import write_atomic
from harness.vocab.profiles import DOCUMENTED, Limits, Profile, get_profile

SIDES_ENV = "WSA_FUZZ_SIDES"
FINDINGS_ENV = "WSA_FUZZ_FINDINGS"
MAX_STEPS_ENV = "WSA_FUZZ_MAX_STEPS"
#: the reference policy (harness.fuzz.policy.POLICIES), the initial corpus's size,
#: and the job's number (its counts files are its own)
POLICY_ENV = "WSA_FUZZ_REFERENCE"
INITIAL_ENV = "WSA_FUZZ_INITIAL"
JOB_ENV = "WSA_FUZZ_JOB"
DEFAULT_SIDES = "core/documented,reference/documented"
DEFAULT_MAX_STEPS = 20
#: the hits per signature key, next to the findings (written by the target);
#: job N > 0 writes hits-N.counted, the final replay hits-replay.counted
COUNTS_FILE = "hits.counted"
#: the policy's counts (harness.fuzz.policy.Policy.to_json), per job the same way
CHECKED_FILE = "reference.counted"


def job_file(name: str, job: str) -> str:
    """``name`` for job ``job`` (``0`` or empty: ``name`` itself)."""
    if job in ("", "0"):
        return name
    stem, _, ext = name.partition(".")
    return f"{stem}-{job}.{ext}"


class DivergenceFound(HarnessError):
    """Raised by the standalone target: the message is the full report."""


#: A side's profile ``any``: each input runs under the profile its header's
#: bits 6-7 name (harness.lang.encoding.HEADER_PROFILES), the same on both sides.
ANY = "any"
ANY_PROFILE = dataclasses.replace(DOCUMENTED, name=ANY)


def side_profile(name: str) -> Profile:
    """A profile by name, or the campaign-only ``any``."""
    return ANY_PROFILE if name == ANY else get_profile(name)


def resolve_sides(sides: tuple[Side, Side], data: bytes) -> tuple[Side, Side]:
    """The sides an input runs on: ``any`` becomes the header's profile."""
    a, b = sides
    if a.profile.name != ANY:
        return a, b
    profile = header_profile(data)
    return Side(a.engine, profile), Side(b.engine, profile)


def parse_sides(text: str) -> tuple[Side, Side]:
    """``engine/profile,engine/profile`` -> two sides."""
    try:
        a, b = (part.strip().split("/") for part in text.split(","))
        if (a[1] == ANY) != (b[1] == ANY):
            raise ValueError("'any' must be the profile of both sides")
        return Side(a[0], side_profile(a[1])), Side(b[0], side_profile(b[1]))
    except (ValueError, IndexError, KeyError) as exc:
        raise HarnessError(
            f"bad sides {text!r}: expected engine/profile,engine/profile ({exc})"
        ) from None


@dataclass(frozen=True)
class Finding:
    signature: str
    data: bytes
    report: str
    #: "divergence", or the fault kind (harness.oracle.faults.KINDS)
    kind: str = "divergence"


def signature_key(signature: str) -> str:
    """A short file-name-safe key for a signature."""
    return hashlib.sha1(signature.encode()).hexdigest()[:12]


class FindingTarget:
    """What a fuzz target does with its findings: without a ``findings``
    folder the first one is raised (:class:`DivergenceFound`); with one, each
    new signature is saved once (``KEY.bin``, then ``KEY.json``) and the
    signatures already there count as seen.  ``counts`` holds how many inputs
    hit each signature.  A subclass says what an input finds (:meth:`check`)
    and which sides a finding names (:meth:`sides_of`)."""

    def __init__(self, findings: Path | None, job: str) -> None:
        self.findings = findings
        self.job = job
        self.seen: set[str] = set()
        self.counts: Counter[str] = Counter()
        if findings is not None:
            findings.mkdir(parents=True, exist_ok=True)
            self.seen = {p.stem for p in findings.glob("*.json")}

    def check(self, data: bytes) -> Finding | None:
        raise NotImplementedError

    def sides_of(self, finding: Finding) -> list[str]:
        """The labels of the two sides, as the finding's ``.json`` names them."""
        raise NotImplementedError

    def __call__(self, data: bytes) -> None:
        finding = self.check(data)
        if finding is None:
            return
        if self.findings is None:
            raise DivergenceFound(finding.report or finding.signature)
        self.record(finding)

    def record(self, finding: Finding) -> bool:
        """Save a finding whose signature is new; True if it was new."""
        assert self.findings is not None
        key = signature_key(finding.signature)
        if key in self.seen:
            return False
        self.seen.add(key)
        write_atomic(self.findings / f"{key}.bin", finding.data)
        meta = {
            "signature": finding.signature,
            "kind": finding.kind,
            "sides": self.sides_of(finding),
            "report": finding.report,
        }
        # the .json is written last: its presence marks a complete finding
        write_atomic(self.findings / f"{key}.json", json.dumps(meta, indent=2) + "\n")
        return True


class DifferentialTarget(FindingTarget):
    """Decode, run both sides, compare, check invariants.

    An engine that raises, returns a malformed trace or exceeds the work limit
    (``work_per_step`` settling passes a step, :mod:`harness.oracle.faults`)
    is a finding of its own.  A divergence's signature is computed from the
    raw traces (:func:`~harness.oracle.diff.signature_of`); the readable
    report is built only for a signature not seen before, so inputs that
    repeat a known finding cost little more than a run.

    When one side is the reference model and the other is not, the other is
    the *leader*: it runs every input first, on the bytes (the core's
    ``run_bytes``), and ``policy`` (:mod:`harness.fuzz.policy`) decides from
    its trace whether the reference runs too; the Python decoder runs only
    then.  Without a policy, or without a leader, both sides run on every
    input.  Findings are kept as :class:`FindingTarget` says."""

    def __init__(
        self,
        sides: tuple[Side, Side],
        findings: Path | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        work_per_step: int = WORK_PER_STEP,
        policy: Policy | None = None,
        job: str = "",
    ) -> None:
        self.a, self.b = sides
        self.mod_a, self.mod_b = load_engine(self.a.engine), load_engine(self.b.engine)
        for module in (self.mod_a, self.mod_b):
            set_work_limit(module, work_per_step)
        super().__init__(findings, job)
        self.max_steps = max_steps
        ref = self.a if self.a.engine == "reference" else self.b
        self.invariant_side = ref if ref.engine == "reference" else None
        #: 0 or 1: the index of the leading side, or None when both always run
        self.leader: int | None = None
        if (self.a.engine == "reference") != (self.b.engine == "reference"):
            self.leader = 0 if self.b.engine == "reference" else 1
        #: without a policy every input runs on both sides, as in a library call
        self.policy = policy or Policy("every")
        if self.leader is None:
            self.policy = Policy("every", sample=self.policy.sample)

    def program(self, data: bytes) -> Program:
        return decode(data, resolve_sides((self.a, self.b), data)[0].profile, self.max_steps)

    def check(self, data: bytes) -> Finding | None:
        """The finding for ``data``, or None when the invariant holds (or
        when the policy leaves the reference out and the leader ran cleanly)."""
        a, b = resolve_sides((self.a, self.b), data)
        lead: array[int] | None = None
        if self.leader is not None:
            side, module = (a, self.mod_a) if self.leader == 0 else (b, self.mod_b)
            try:
                lead = self._run_lead(side, module, data)
            except EngineFault as exc:
                self.policy.last = None  # the leader alone decided
                return self._fault(exc.fault, data)
            if self.policy.consult(data, lead) is None:
                return None
        else:
            self.policy.consult(data, ())
        code, limits = decode_lowered(data, self.max_steps)  # the Program only when needed
        bad: list[str] = []
        try:
            if lead is None:
                ca = self._run_side(a, self.mod_a, data, code, limits, bad)
                cb = self._run_side(b, self.mod_b, data, code, limits, [] if bad else bad)
            elif self.leader == 0:
                ca, cb = lead, self._run(b, self.mod_b, code, limits, bad)
            else:
                ca, cb = self._run(a, self.mod_a, code, limits, bad), lead
            if ca != cb:
                # the cheap key first: a signature already recorded was checked
                # on well-formed traces, so validating these again is skipped
                known = self._known(signature_of, code, a, b, ca, cb)
                if known is not None:
                    return Finding(known, data, "")
                check_trace(a.engine, code, ca)
                check_trace(b.engine, code, cb)
        except EngineFault as exc:
            return self._fault(exc.fault, data)
        if ca != cb:
            signature = signature_of(code, a, b, ca, cb)
            if not self._new(signature):
                return Finding(signature, data, "")
            program = self.program(data)
            d = locate(program, a, b, tuple(ca), tuple(cb))
            return Finding(
                d.signature, data, f"{d.render()}\n\nprogram:\n{format_program(program)}"
            )
        if self.invariant_side is not None and bad:
            side = a if self.invariant_side is self.a else b
            sig = f"invariant {bad[0].split(':')[0]} [{side.label}]"
            if not self._new(sig):
                return Finding(sig, data, "", "invariant")
            text = "\n".join(bad)
            shown = format_program(self.program(data))
            return Finding(sig, data, f"{sig}\n{text}\n\nprogram:\n{shown}", "invariant")
        return None

    def _run_lead(self, side: Side, module: ModuleType, data: bytes) -> array[int]:
        """The leader's trace of ``data``: the core decodes and runs the bytes in
        one C call; an engine without ``run_bytes`` runs the Python decoder's
        program."""
        if getattr(module, "run_bytes", None) is not None:
            code: array[int] | None = None
            limits: Limits | None = None
        else:
            code, limits = decode_lowered(data, self.max_steps)
        return self._run_side(side, module, data, code, limits, [])

    def _known(self, sign: Callable[..., str], *args: object) -> str | None:
        """The divergence's signature when one of it is recorded already (a
        hit is counted), else None, also when the traces are too malformed
        to sign (their check then reports them)."""
        try:
            signature = sign(*args)
        except (IndexError, KeyError, ValueError, TypeError, StopIteration):
            return None
        key = signature_key(signature)
        if key not in self.seen:
            return None
        self.counts[key] += 1
        return signature

    def _new(self, signature: str) -> bool:
        """Count a hit; True when no finding of this signature is recorded yet."""
        key = signature_key(signature)
        self.counts[key] += 1
        return key not in self.seen

    def _fault(self, fault: Fault, data: bytes) -> Finding:
        if not self._new(fault.signature):
            return Finding(fault.signature, data, "", fault.kind)
        program = format_program(self.program(data))
        return Finding(
            fault.signature, data, f"{fault.render()}\n\nprogram:\n{program}", fault.kind
        )

    def _run_side(
        self,
        side: Side,
        module: ModuleType,
        data: bytes,
        code: array[int] | None,
        limits: Limits | None,
        bad: list[str],
    ) -> array[int]:
        """One side's canonical trace.  An engine with its own decoder (the
        core's run_bytes) decodes and runs the bytes in one C call; the
        reference runs the Python decoder's program, so a difference between
        the two decoders shows as a divergence too.  ``code`` and ``limits``
        (the Python decoder's) may be None for such an engine: they are
        made only to locate a fault."""
        run_bytes = getattr(module, "run_bytes", None)
        if side.engine == "reference" or run_bytes is None:
            assert code is not None and limits is not None
            return self._run(side, module, code, limits, bad)
        try:
            out: array[int] = run_bytes(data, side.profile, self.max_steps)
        except Exception as exc:
            if code is None or limits is None:
                code, limits = decode_lowered(data, self.max_steps)
            raise located(classify(side.engine, exc), module, code, side.profile, limits) from None
        return out

    @staticmethod
    def _run(
        side: Side, module: ModuleType, code: array[int], limits: Limits, bad: list[str]
    ) -> array[int]:
        """One side's canonical trace.  A reference side runs on an engine
        object, so that the invariants are checked on the same final state;
        violations are appended to ``bad``."""
        if side.engine != "reference":
            return run_side(module, side.engine, code, side.profile, limits)
        engine = module.Engine(side.profile, limits)
        out = run_side(module, side.engine, code, side.profile, limits, engine)
        bad.extend(engine.check_invariants())
        return out

    def sides_of(self, finding: Finding) -> list[str]:
        a, b = resolve_sides((self.a, self.b), finding.data)
        return [a.label, b.label]

    def write_counts(self) -> None:
        """Save the hits per signature key (``hits.counted``) and the policy's
        counts (``reference.counted``) for the campaign."""
        if self.findings is None:
            return
        if self.counts:
            text = json.dumps(dict(sorted(self.counts.items())), indent=0) + "\n"
            write_atomic(self.findings / job_file(COUNTS_FILE, self.job), text)
        write_atomic(self.findings / job_file(CHECKED_FILE, self.job), self.policy.to_json())


def target_from_env() -> DifferentialTarget:
    sides = parse_sides(os.environ.get(SIDES_ENV, DEFAULT_SIDES))
    findings = os.environ.get(FINDINGS_ENV)
    max_steps = int(os.environ.get(MAX_STEPS_ENV, DEFAULT_MAX_STEPS))
    name = os.environ.get(POLICY_ENV, DEFAULT_POLICY)
    job = os.environ.get(JOB_ENV, "")
    try:
        policy = Policy(name, initial=int(os.environ.get(INITIAL_ENV, "0") or 0))
    except ValueError as exc:
        raise HarnessError(f"{POLICY_ENV}={name!r}: {exc}") from None
    if job not in ("", "0"):
        policy.warmup = 0  # job 0 checks the first mutations; the others fuzz at once
    return DifferentialTarget(
        sides, Path(findings) if findings else None, max_steps, policy=policy, job=job
    )
