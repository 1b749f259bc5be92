"""The conformance oracle: a real run against the model, on what the engine declares.

For one program and one external engine:
1. if a step cannot run there, every profile's verdict is *skipped* with the
   first such step (:func:`harness.conformance.session.unsupported`);
2. the model runs under each profile, giving its projected observations and
   its cut (:mod:`harness.conformance.model`);
3. the real engine runs once, as far as the furthest cut;
4. per profile, the steps before the cut are compared on the declared
   observables: the first difference makes the verdict *differ*; otherwise a
   cut or an early stop of the real run makes it *skipped*, and a full match
   *agree*.  A failure of the engine, or of the model under that profile, is
   an *error*.

A *differ* under the engine's own profile that its known-differences list
names becomes *known* (:mod:`harness.conformance.known_differences`).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.conformance.engine import (
    COMPLETIONS,
    OVERLAPPED,
    PEER,
    RESULTS,
    ExternalEngine,
    Observation,
    RealRun,
)
from harness.conformance.model import ModelRun, model_run
from harness.conformance.session import unsupported
from harness.lang.program import Program
from harness.lang.render import format_step
from harness.vocab.constants import Op
from harness.vocab.profiles import Profile

AGREE, DIFFER, KNOWN, SKIPPED, ERROR = "agree", "differ", "known", "skipped", "error"
VERDICTS = (AGREE, DIFFER, KNOWN, SKIPPED, ERROR)


@dataclass(frozen=True)
class Verdict:
    kind: str
    #: skipped/error: why; differ/known: a one-line summary.
    reason: str = ""
    #: differ/known: the rendered first differing step.
    detail: tuple[str, ...] = ()
    #: How many steps were compared.
    compared: int = 0
    #: differ/known: the program line of the first differing step.
    line: int = 0
    #: known: the reason the known-differences list gives.
    note: str = ""

    def summary(self) -> str:
        if self.kind == AGREE:
            return f"agree ({self.compared} steps)"
        if self.kind == KNOWN:
            return f"known: {self.reason} ({self.note})"
        return f"{self.kind}: {self.reason}"


def _category(op: Op) -> str:
    if op in (Op.PEER_RECV, Op.PEER_SEND, Op.PEER_CLOSE, Op.PEER_RESET):
        return PEER
    if op in (Op.OVL, Op.SLEEPEX):
        return OVERLAPPED
    return RESULTS


def judge(
    program: Program,
    profile: Profile,
    engine: str,
    observables: frozenset[str],
    model: ModelRun,
    real: RealRun,
) -> Verdict:
    """Compare one real run with the model run under one profile."""
    limit = model.cut[0] if model.cut else len(program.steps)
    n = min(limit, len(real.observations))
    for i in range(n):
        step = program.steps[i]
        want, got = model.observations[i], real.observations[i]
        diff = _differs(step.op, want, got, observables)
        if diff:
            where = f"line {step.line}: `{format_step(step)}`"
            detail = (
                f"{program.filename}:{step.line}: {format_step(step)}",
                f"  model ({profile.name}): {_show(want, diff)}",
                f"  {engine}: {_show(got, diff)}",
            )
            return Verdict(DIFFER, f"{where}: {diff}", detail, i + 1, step.line)
    if real.stopped and real.stopped[0] < limit:
        kind = ERROR if real.failed else SKIPPED
        return Verdict(kind, real.stopped[1], compared=n)
    if model.cut:
        return Verdict(SKIPPED, f"stopped {model.cut[1]}; the {n} steps before agree", compared=n)
    return Verdict(AGREE, compared=n)


def _differs(op: Op, want: Observation, got: Observation, observables: frozenset[str]) -> str:
    if (
        _category(op) in observables
        and want.result is not None
        and got.result is not None
        and want.result != got.result
    ):
        return "result"
    if COMPLETIONS in observables and want.completions != got.completions:
        return "completions"
    return ""


def _show(o: Observation, what: str) -> str:
    if what == "result":
        return f"-> {o.result}"
    return "completions: " + (", ".join(o.completions) or "none")


def compare_program(
    program: Program, engine: ExternalEngine, profiles: list[Profile]
) -> dict[str, Verdict]:
    """Verdicts for one program under each profile (keyed by profile name)."""
    caps = engine.capabilities
    bad = unsupported(program, caps)
    if bad is not None:
        return {p.name: Verdict(SKIPPED, bad[1]) for p in profiles}
    models: dict[str, ModelRun] = {}
    failed: dict[str, Verdict] = {}
    for p in profiles:
        try:
            models[p.name] = model_run(program, p, caps)
        except Exception as exc:  # a model failure is that profile's verdict, not a crash
            failed[p.name] = Verdict(ERROR, f"the model failed under {p.name}: {exc!r}")
    if not models:
        return failed
    limit = max(m.cut[0] if m.cut else len(program.steps) for m in models.values())
    real = engine.run(program, limit)
    return {
        p.name: failed.get(p.name)
        or judge(program, p, engine.name, caps.observables, models[p.name], real)
        for p in profiles
    }


def side_by_side(program: Program, engine: ExternalEngine, profile: Profile) -> list[str]:
    """Every step as the model and the engine saw it (``conformance --steps``),
    as far as the engine can run the program; differing steps are marked."""
    caps = engine.capabilities
    bad = unsupported(program, caps)
    if bad is not None:
        return [f"{program.filename}: skipped: {bad[1]}"]
    model = model_run(program, profile, caps)
    real = engine.run(program, len(program.steps))
    cut = model.cut[0] if model.cut else None
    lines = [f"### {program.filename} (model: {profile.name}, engine: {engine.name})"]
    for i, step in enumerate(program.steps):
        if i == cut and model.cut:
            lines.append(f"--- comparison stops here: {model.cut[1]}")
        want = model.observations[i]
        got = real.observations[i] if i < len(real.observations) else None
        mark = "   "
        if got is not None and _differs(step.op, want, got, caps.observables):
            mark = ">> "
        model_text = want.result if want.result is not None else "(not compared)"
        real_text = "(not run)" if got is None else got.result or "(not compared)"
        lines.append(
            f"{mark}{format_step(step):36} model: {model_text:28} {engine.name}: {real_text}"
        )
        for c in sorted(set(want.completions) | set(got.completions if got else ())):
            sides = ("model" if c in want.completions else "") + (
                f" {engine.name}" if got and c in got.completions else ""
            )
            lines.append(f"{'':39}! {c}  [{sides.strip()}]")
    if real.stopped:
        lines.append(f"--- {engine.name} stopped: {real.stopped[1]}")
    return lines
