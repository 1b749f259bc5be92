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

from dataclasses import dataclass, replace

from harness.conformance.engine import (
    COMPLETIONS,
    MESSAGES,
    OVERLAPPED,
    PEER,
    RESULTS,
    ExternalEngine,
    Observation,
    RealRun,
)
from harness.conformance.model import ModelRun, model_run
from harness.conformance.session import SessionEngine, first_unsupported
from harness.lang.program import Program, Step, Var
from harness.lang.render import format_step
from harness.lang.syntax import OP_NAMES
from harness.vocab.constants import Op
from harness.vocab.profiles import Profile

AGREE, DIFFER, KNOWN, SKIPPED, ERROR = "agree", "differ", "known", "skipped", "error"
#: The steps up to a line agree; the comparison ended there (an unsupported
#: step, the buffer cut, an early stop of the engine).
PARTIAL = "partial"
VERDICTS = (AGREE, PARTIAL, DIFFER, KNOWN, SKIPPED, ERROR)


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
    #: differ/known: what differs ("result", "completions", "messages") and the
    #: call it concerns (the step's, or the completed call's).
    field: str = ""
    call: str = ""
    #: partial: the line of the step the comparison ended before (0: the end).
    upto: int = 0
    #: differ/known: the index of the first differing step.
    index: int = -1
    #: differ/known: the facts (harness.conformance.conditions) just before that step.
    facts: frozenset[str] = frozenset()
    #: Threads of the real run still blocked when it ended.
    blocked: int = 0

    def summary(self) -> str:
        if self.kind == AGREE:
            return f"agree ({self.compared} steps)"
        if self.kind == PARTIAL:
            return f"compared up to line {self.upto} ({self.compared} steps agree): {self.reason}"
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
    stop: tuple[int, str] | None = None,
) -> Verdict:
    """Compare one real run with the model run under one profile.

    ``stop``: (step index, reason) where the comparison must end whatever
    the runs say (the first step the engine does not support)."""
    ends = [(len(program.steps), "")]
    if stop is not None:  # first: at the same step, the engine's reason is the stronger
        ends.append(stop)
    if model.cut:
        ends.append((model.cut[0], f"stopped {model.cut[1]}"))
    if real.stopped:
        ends.append(real.stopped)
    limit, why = min(ends, key=lambda e: e[0])
    limit = min(limit, len(real.observations), len(model.observations))
    compared = 0
    for i in range(limit):
        step = program.steps[i]
        want, got = model.observations[i], real.observations[i]
        if want.reused != got.reused:
            limit, why = i, _renumbered(step, want.reused, engine)
            break
        diff, call = _differs(step, want, got, observables)
        if diff:
            where = f"line {step.line}: `{format_step(step)}`"
            detail = (
                f"{program.filename}:{step.line}: {format_step(step)}",
                f"  model ({profile.name}): {_show(want, diff)}",
                f"  {engine}: {_show(got, diff)}",
            )
            return Verdict(
                DIFFER, f"{where}: {diff}", detail, i + 1, step.line,
                field=diff, call=call, index=i,
                facts=model.facts[i] if i < len(model.facts) else frozenset(),
            )  # fmt: skip
        if _compared(step.op, want, got, observables):
            compared += 1
    if real.stopped and real.failed and real.stopped[0] <= limit:
        return Verdict(ERROR, real.stopped[1], compared=compared)
    if limit >= len(program.steps):
        return Verdict(AGREE, compared=compared)
    line = program.steps[limit].line
    if real.stopped and real.stopped[0] == limit and not why:
        why = real.stopped[1]
    if compared == 0:
        return Verdict(SKIPPED, why, compared=0, upto=line)
    return Verdict(PARTIAL, why, compared=compared, upto=line)


def _renumbered(step: Step, model_reused: bool, engine: str) -> str:
    var = step.target.name if isinstance(step.target, Var) else "?"
    who, other = ("the model", engine) if model_reused else (engine, "the model")
    return (
        f"descriptor numbers differ before line {step.line} (`{format_step(step)}`): "
        f"{who} gave {var}'s closed number to a later socket, {other} did not"
    )


def _compared(op: Op, want: Observation, got: Observation, observables: frozenset[str]) -> bool:
    """Whether anything of the step was compared (an equal result, completion or message)."""
    if _category(op) in observables and want.result is not None and got.result is not None:
        return True
    if COMPLETIONS in observables and (want.completions or got.completions):
        return True
    return MESSAGES in observables and bool(want.messages or got.messages)


def _differs(
    step: Step, want: Observation, got: Observation, observables: frozenset[str]
) -> tuple[str, str]:
    """What differs at the step ("" when nothing) and the call it concerns."""
    op = step.op
    if (
        _category(op) in observables
        and want.result is not None
        and got.result is not None
        and want.result != got.result
    ):
        return "result", OP_NAMES[op]
    if COMPLETIONS in observables and want.completions != got.completions:
        calls = {c.split()[1] for c in set(want.completions) ^ set(got.completions)}
        return "completions", ",".join(sorted(calls))
    if MESSAGES in observables and want.messages != got.messages:
        return "messages", OP_NAMES[op]
    return "", ""


def _show(o: Observation, what: str) -> str:
    if what == "result":
        return f"-> {o.result}"
    if what == "messages":
        return "messages: " + (", ".join(o.messages) or "none")
    return "completions: " + (", ".join(o.completions) or "none")


def expectations(runs: list[ModelRun]) -> list[Observation]:
    """Per step, what the engine should wait for under any of the models
    (decision D56): a result only where every model gives the same one (so
    ``blocked`` means "blocked under every profile"), and the longest list
    of completions and of messages any model expects."""
    out: list[Observation] = []
    for step in zip(*(r.observations for r in runs), strict=True):
        results = {o.result for o in step}
        result = results.pop() if len(results) == 1 else None
        comps = max((o.completions for o in step), key=len)
        msgs = max((o.messages for o in step), key=len)
        out.append(Observation(result, comps, msgs, all(o.reused for o in step)))
    return out


def compare_program(
    program: Program,
    engine: ExternalEngine,
    profiles: list[Profile],
    timeout: float | None = None,
) -> dict[str, Verdict]:
    """Verdicts for one program under each profile (keyed by profile name).

    The real engine runs the program once, up to its first unsupported step
    and the furthest cut; each profile's verdict compares what came before.
    ``timeout`` bounds the real run (seconds; None: no bound).  The engine's
    waits follow what any profile's model expects (:func:`expectations`, D56).
    """
    caps = engine.capabilities
    bad = first_unsupported(program, caps)
    stop = (bad[0], bad[2]) if bad is not None else None
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
    # a step that would bring the engine down under any profile's state is not
    # run at all: every profile's comparison ends there (decision D84)
    crashes = [m.crash for m in models.values() if m.crash is not None]
    if crashes:
        first = min(crashes)
        if stop is None or first[0] < stop[0]:
            stop = (first[0], f"stopped {first[1]}")
    if stop is not None:
        limit = min(limit, stop[0])
    # with one profile, the engine can stop at the first difference from it
    expect = expectations(list(models.values()))
    if len(models) == 1 and len(profiles) == 1 and isinstance(engine, SessionEngine):
        real = engine.run(program, limit, expect, timeout, exact=True)
    else:
        real = engine.run(program, limit, expect, timeout)
    return {
        p.name: failed.get(p.name)
        or replace(
            judge(program, p, engine.name, caps.observables, models[p.name], real, stop),
            blocked=real.blocked_threads,
        )
        for p in profiles
    }


def side_by_side(
    program: Program, engine: ExternalEngine, profile: Profile, timeout: float | None = None
) -> list[str]:
    """Every step as the model and the engine saw it (``conformance --steps``),
    as far as the engine can run the program; differing steps are marked."""
    caps = engine.capabilities
    bad = first_unsupported(program, caps)
    model = model_run(program, profile, caps)
    limit = bad[0] if bad is not None else len(program.steps)
    if model.crash is not None:
        limit = min(limit, model.crash[0])
    real = engine.run(program, limit, model.observations, timeout)
    cut = model.cut[0] if model.cut else None
    lines = [f"### {program.filename} (model: {profile.name}, engine: {engine.name})"]
    for i, step in enumerate(program.steps):
        if i == cut and model.cut:
            lines.append(f"--- comparison stops here: {model.cut[1]}")
        if bad is not None and i == bad[0]:
            lines.append(f"--- {engine.name} stops here: {bad[2]}")
        want = model.observations[i]
        got = real.observations[i] if i < len(real.observations) else None
        mark = "   "
        if got is not None and _differs(step, want, got, caps.observables)[0]:
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
        if MESSAGES in caps.observables:
            shown = got.messages if got else ()
            if want.messages or shown:
                lines.append(
                    f"{'':39}~ messages: model {', '.join(want.messages) or 'none'}; "
                    f"{engine.name} {', '.join(shown) or 'none'}"
                )
    if real.stopped:
        lines.append(f"--- {engine.name} stopped: {real.stopped[1]}")
    if real.blocked_threads:
        lines.append(f"--- {real.blocked_threads} thread(s) left blocked at the end")
    return lines
