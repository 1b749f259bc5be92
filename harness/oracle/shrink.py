"""Delta debugging over programs, keeping one divergence signature.

Three passes, repeated until none makes progress:

1. **Steps** (ddmin): drop chunks of steps, halving the chunk size.  Dropping
   a step that binds a variable is dependency-aware: every later step that
   uses the variable is dropped with it, or, for a ``duplicate``, rewired to
   the descriptor it duplicated.
2. **Arguments**: smaller counts and times, no ``window=``, default limits.
3. **Threads and processes**: t1 -> t0, t3 -> t2, p1's threads -> p0's,
   ``duplicate S 1`` -> ``duplicate S 0``.

A candidate is kept only if ``keeps(candidate)`` still holds, typically
"diverges with the same signature".  Variables are renumbered in binding
order at the end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from harness.lang.program import Program, Step, Var, variable_slots
from harness.vocab.constants import Op
from harness.vocab.profiles import DEFAULT_LIMITS

Predicate = Callable[[Program], bool]


def _bare(program: Program) -> Program:
    steps = tuple(dataclasses.replace(s, expect=None, comment=None) for s in program.steps)
    return dataclasses.replace(program, steps=steps)


def _with_steps(program: Program, steps: list[Step]) -> Program:
    return dataclasses.replace(program, steps=tuple(steps), slots=variable_slots(tuple(steps)))


def _uses(step: Step, names: set[str]) -> bool:
    return isinstance(step.target, Var) and step.target.name in names


def drop(steps: list[Step], indices: set[int]) -> list[Step]:
    """Remove ``indices`` and, transitively, every step using a variable they bind."""
    gone: set[str] = set()
    out = []
    for i, step in enumerate(steps):
        if i in indices or _uses(step, gone):
            if step.bind is not None:
                gone.add(step.bind)
            continue
        out.append(step)
    return out


def bypass(steps: list[Step], index: int) -> list[Step] | None:
    """Remove a ``duplicate`` and rewire its uses to the duplicated descriptor."""
    step = steps[index]
    if step.op != Op.DUPLICATE or not isinstance(step.target, Var) or step.bind is None:
        return None
    old, new = step.bind, step.target
    out = []
    for i, s in enumerate(steps):
        if i == index:
            continue
        if isinstance(s.target, Var) and s.target.name == old:
            s = dataclasses.replace(s, target=new)
        out.append(s)
    return out


def _ddmin(program: Program, keeps: Predicate) -> Program:
    steps = list(program.steps)
    chunk = max(1, len(steps) // 2)
    while steps:
        progressed = False
        start = 0
        while start < len(steps):
            candidate = drop(steps, set(range(start, min(start + chunk, len(steps)))))
            if len(candidate) < len(steps) and keeps(_with_steps(program, candidate)):
                steps = candidate
                progressed = True
            else:
                start += chunk
        if not progressed:
            if chunk == 1:
                break
            chunk = max(1, chunk // 2)
    for i in range(len(steps) - 1, -1, -1):
        bypassed = bypass(steps, i) if i < len(steps) else None
        if bypassed is not None and keeps(_with_steps(program, bypassed)):
            steps = bypassed
    return _with_steps(program, steps)


def _smaller_numbers(n: int) -> Iterator[int]:
    seen = set()
    for v in (0, 1, n // 2, n - 1):
        if 0 <= v < n and v not in seen:
            seen.add(v)
            yield v


#: Which argument positions are counts or times that may shrink.
_NUMERIC = {
    Op.SEND: (0,), Op.RECV: (0,), Op.WSASEND: (0,), Op.WSARECV: (0,), Op.ADVANCE: (0,),
    Op.PEER_RECV: (0,), Op.PEER_SEND: (0,), Op.CONNECT: (0,), Op.SETSOCKOPT_LINGER: (0, 1),
}  # fmt: skip


def _step_variants(step: Step) -> Iterator[Step]:
    if step.op == Op.CONNECT and step.args:
        yield dataclasses.replace(step, args=())
    for pos in _NUMERIC.get(step.op, ()):
        if pos >= len(step.args):
            continue
        for v in _smaller_numbers(step.args[pos]):
            args = list(step.args)
            args[pos] = v
            yield dataclasses.replace(step, args=tuple(args))
    if step.thread in (1, 3):
        yield dataclasses.replace(step, thread=step.thread - 1)
    if step.thread in (2, 3):
        yield dataclasses.replace(step, thread=step.thread - 2)
    if step.op == Op.DUPLICATE and step.args and step.args[0] == 1:
        yield dataclasses.replace(step, args=(0,))


def _simplify(program: Program, keeps: Predicate) -> Program:
    if program.limits != DEFAULT_LIMITS:
        candidate = dataclasses.replace(program, limits=DEFAULT_LIMITS, has_limits=False)
        if keeps(candidate):
            program = candidate
    steps = list(program.steps)
    for i in range(len(steps)):
        for variant in _step_variants(steps[i]):
            trial = steps[:i] + [variant] + steps[i + 1 :]
            if keeps(_with_steps(program, trial)):
                steps = trial
                break
    return _with_steps(program, steps)


def renumber(program: Program) -> Program:
    """Rename variables s1, s2, ... / c1, ... / o1, ... in binding order."""
    names: dict[str, str] = {}
    counts = {"s": 0, "c": 0, "o": 0}
    out = []
    for step in program.steps:
        target = step.target
        if isinstance(target, Var) and target.name in names:
            target = Var(names[target.name])
        bind = step.bind
        if bind is not None:
            counts[bind[0]] += 1
            names[bind] = bind = f"{bind[0]}{counts[bind[0]]}"
        out.append(dataclasses.replace(step, target=target, bind=bind))
    return _with_steps(program, out)


def minimize(program: Program, keeps: Predicate, max_rounds: int = 8) -> Program:
    """The smallest program found for which ``keeps`` still holds.

    ``keeps(program)`` must hold on entry; the result is checked again after
    renumbering, so it always satisfies ``keeps``.
    """
    current = _bare(program)
    if not keeps(current):
        raise ValueError("the predicate does not hold for the program to minimize")
    for _ in range(max_rounds):
        before = (len(current.steps), current)
        current = _simplify(_ddmin(current, keeps), keeps)
        if (len(current.steps), current) == before:
            break
    renamed = renumber(current)
    result = renamed if keeps(renamed) else current
    return dataclasses.replace(
        result, steps=tuple(dataclasses.replace(s, line=i + 1) for i, s in enumerate(result.steps))
    )
