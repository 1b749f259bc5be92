"""Faults, engine side: the core is safe for any int64, and both engines'
Python API refuses a bad argument the same way (issue 17, points 1 and 8).

* the overflow sequence (advance 2**63-1, SO_LINGER 1 1, closesocket) returns
  normally on both engines, with the same trace: the clock and the linger
  deadline saturate at INT64_MAX (docs/decisions.md D38);
* a Hypothesis fuzz of ``Engine.step`` and ``Limits`` on both engines: every
  call either raises the same exception (type and message) on both, or gives
  the same record, snapshot and invariants.

This module runs under the ASan+UBSan build of the core too (.ci/run).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from conftest import CORE, REFERENCE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.engines import NO_CORE_ENV, no_core
from harness.vocab import trace
from harness.vocab.constants import Op
from harness.vocab.profiles import DEFAULT_LIMITS, DOCUMENTED, PROFILES, Limits
from harness.vocab.ranges import INT64_MAX, INT64_MIN, LIMIT_RANGES, STEP_RANGES, check_step

needs_core = pytest.mark.skipif(no_core(), reason=f"{NO_CORE_ENV} is set: compares both engines")

#: the overflow sequence of issue 17 point 1 (a stream with unsent data, so
#: the close lingers), as (op, thread, target, x1, x2)
OVERFLOW = (
    (Op.STARTUP, 0, 0, 2, 2),
    (Op.SOCKET, 0, 0, 1, 0),
    (Op.CONNECT, 0, 4, 0, 0),  # window 0: what is sent stays queued
    (Op.ADVANCE, -1, 0, INT64_MAX, 0),
    (Op.SETSOCKOPT_LINGER, 0, 4, 1, 1),
    (Op.SEND, 0, 4, 100, 0),
    (Op.CLOSESOCKET, 0, 4, 0, 0),
    (Op.ADVANCE, -1, 0, INT64_MAX, 0),
    (Op.ADVANCE, -1, 0, 5, 0),
)


def _outcome(call: Any) -> tuple[str, object]:
    try:
        return "ok", call()
    except (TypeError, ValueError) as exc:
        return type(exc).__name__, str(exc)


def _run(
    module: ModuleType, steps: Any, limits: Limits = DEFAULT_LIMITS, profile: Any = DOCUMENTED
) -> Any:
    engine = module.Engine(profile, limits)
    out = []
    for step in steps:
        out.append(_outcome(lambda s=step: engine.step(*s)))
    return out, engine.snapshot(), engine.check_invariants()


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_the_overflow_sequence_returns_normally(engine_module: ModuleType, profile: str) -> None:
    records, snap, bad = _run(engine_module, [(*s, 0) for s in OVERFLOW], profile=PROFILES[profile])
    assert all(kind == "ok" for kind, _ in records), records
    assert snap[0] == INT64_MAX  # the clock saturated
    assert bad == []


@pytest.mark.core
@needs_core
def test_the_overflow_sequence_is_the_same_on_both_engines() -> None:
    steps = [(*s, 0) for s in OVERFLOW]
    for profile in PROFILES.values():
        assert _run(CORE.load(), steps, profile=profile) == _run(
            REFERENCE.load(), steps, profile=profile
        )


def test_a_closing_socket_at_the_end_of_time_expires(engine_module: ModuleType) -> None:
    """The lingering close's deadline saturates at INT64_MAX, so it is due at
    once (a wrapped deadline was negative and never cleared: the core looped)."""
    records, snap, _ = _run(engine_module, [(*s, 0) for s in OVERFLOW[:7]])
    close = records[6][1]
    assert close[1] == trace.R_BLOCKED
    kinds = close[6::5]  # the events, five ints each
    assert trace.E_RESET in kinds and trace.E_COMPLETE in kinds  # the time-out, in this step
    assert snap[0] == INT64_MAX


@pytest.mark.parametrize(
    ("args", "exc", "message"),
    [
        ((Op.SEND, 0, 4, 2.5, 0, 0), TypeError, "send: n must be an int, got 2.5 (float)"),
        ((Op.SHUTDOWN, 0, 4, 2.5, 0, 0), TypeError, "shutdown: how must be an int, got 2.5"),
        ((Op.SOCKET, 4, 0, 1, 0, 0), ValueError, "socket: thread 4 out of range (0..3)"),
        ((Op.SOCKET, True, 0, 1, 0, 0), TypeError, "socket: thread must be an int, got True"),
        ((Op.ADVANCE, -1, 0, 2**63, 0, 0), ValueError, "advance: ms 9223372036854775808 out"),
        ((Op.ADVANCE, -1, 0, -1, 0, 0), ValueError, "advance: ms -1 out of range"),
        ((Op.SEND, 0, 2**64, 1, 0, 0), ValueError, "send: target 18446744073709551616 out"),
        ((99, 0, 0, 0, 0, 0), ValueError, "op 99 out of range (1..30)"),
        (("send", 0, 0, 0, 0, 0), TypeError, "op must be an int, got 'send' (str)"),
    ],
)
def test_bad_step_arguments_are_refused(
    engine_module: ModuleType, args: tuple[object, ...], exc: type, message: str
) -> None:
    engine = engine_module.Engine(DOCUMENTED, Limits())
    with pytest.raises(exc) as caught:
        engine.step(*args)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("kw", "exc", "message"),
    [
        ({"sockets": 1.5}, TypeError, "limit sockets must be an int, got 1.5 (float)"),
        ({"sndbuf": -1}, ValueError, "limit sndbuf -1 out of range (0..2147483647)"),
        ({"descriptors": 0}, ValueError, "limit descriptors 0 out of range (1..1048576)"),
        ({"window": False}, TypeError, "limit window must be an int, got False (bool)"),
    ],
)
def test_bad_limits_are_refused(kw: dict[str, object], exc: type, message: str) -> None:
    with pytest.raises(
        exc, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
    ):
        Limits(**kw)  # type: ignore[arg-type]


def test_a_limits_lookalike_is_checked_by_both_engines(engine_module: ModuleType) -> None:
    class Lookalike:
        sockets, descriptors, sndbuf, window = 1.5, 64, 8192, 65536

    with pytest.raises(TypeError, match="limit sockets must be an int, got 1.5"):
        engine_module.Engine(DOCUMENTED, Lookalike())


# --- the argument fuzz ------------------------------------------------------------

_EDGES = [0, 1, -1, 2, 3, 4, 255, 256, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1, 2**32]
_EDGES += [INT64_MAX, INT64_MIN, INT64_MAX + 1, INT64_MIN - 1, 2**64]
#: an argument: mostly ints near the ranges' edges, sometimes anything
_ARG = st.one_of(
    st.sampled_from(_EDGES),
    st.integers(-5, 70000),
    st.integers(INT64_MIN - 2, INT64_MAX + 2),
    st.sampled_from([2.5, 1.0, True, False, None, "1", b"\x00", float("nan")]),
)
_OPS = st.one_of(st.sampled_from(list(Op)), st.sampled_from([0, 31, -1, 2**63, 1.0, True]))
_STEP = st.tuples(_OPS, _ARG, _ARG, _ARG, _ARG, _ARG)


def _plausible(op: Any) -> Any:
    """A step that is in range for ``op`` most of the time, so the fuzz gets
    past the checks and into the engines (a connected socket and its peer)."""

    def clamp(value: int, span: tuple[int, int]) -> int:
        lo, hi = span
        return min(max(value, lo), hi)

    spans = STEP_RANGES[op]
    nums = st.one_of(st.sampled_from(_EDGES), st.integers(-2, 20))
    # the target: mostly the prelude's descriptors (4, 8), its peer and socket
    # ids (1, 2) and operation ids, so that the calls reach the engines' rules
    targets = st.one_of(st.sampled_from([4, 4, 8, 1, 2, 3, 0, -1]), nums)
    args = [nums.map(lambda v, s=s: clamp(v, s)) for s in spans]
    args[1] = targets.map(lambda v: clamp(v, spans[1]))
    return st.tuples(*args).map(lambda a: (op, *a))


_GOOD_STEP = st.sampled_from(list(Op)).flatmap(_plausible)
_PRELUDE = [
    (Op.STARTUP, 0, 0, 2, 2, 0),
    (Op.STARTUP, 2, 0, 2, 2, 0),
    (Op.SOCKET, 0, 0, 1, 0, 0),
    (Op.CONNECT, 0, 4, -1, 0, 0),
    (Op.SOCKET, 1, 0, 1, 0, 0),
]
_LIMIT = st.one_of(
    st.sampled_from([0, 1, 2, 100, 65536, 1048576, 1048577, 2**31 - 1, 2**31, -1, INT64_MAX]),
    st.sampled_from([1.5, True, None, "2"]),
)


@pytest.mark.core
@needs_core
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.one_of(_STEP, _GOOD_STEP, _GOOD_STEP), max_size=25),
    profile=st.sampled_from(sorted(PROFILES)),
)
def test_engine_step_fuzz_same_on_both(steps: list[tuple[Any, ...]], profile: str) -> None:
    core, ref = CORE.load(), REFERENCE.load()
    program = _PRELUDE + steps
    assert _run(core, program, profile=PROFILES[profile]) == _run(
        ref, program, profile=PROFILES[profile]
    )


@pytest.mark.core
@needs_core
@settings(max_examples=200, deadline=None)
@given(values=st.tuples(_LIMIT, _LIMIT, _LIMIT, _LIMIT))
def test_limits_fuzz_same_on_both(values: tuple[Any, ...]) -> None:
    class Lookalike:
        sockets, descriptors, sndbuf, window = values

    def make(module: ModuleType) -> tuple[str, object]:
        return _outcome(lambda: module.Engine(DOCUMENTED, Lookalike()).snapshot())

    core, ref = make(CORE.load()), make(REFERENCE.load())
    assert core == ref
    assert _outcome(lambda: Limits(*values))[0] == core[0]
    if core[0] == "ok":
        lo_hi = list(LIMIT_RANGES.values())
        assert all(lo <= v <= hi for v, (lo, hi) in zip(values, lo_hi, strict=True))


@given(step=_STEP)
@settings(max_examples=300, deadline=None)
def test_check_step_refuses_exactly_the_out_of_range(step: tuple[Any, ...]) -> None:
    """The table's checker against a plain reading of the table."""
    op = step[0]
    typed = all(isinstance(v, int) and not isinstance(v, bool) for v in step)
    in_table = typed and op in set(STEP_RANGES)
    fits = in_table and all(
        lo <= v <= hi for v, (lo, hi) in zip(step[1:], STEP_RANGES[Op(op)], strict=True)
    )
    assert (_outcome(lambda: check_step(*step))[0] == "ok") == fits


@pytest.mark.core
@needs_core
def test_the_core_refuses_a_table_wider_than_its_arrays() -> None:
    """The core's port bitmap and thread array are sized by PORT_MAX and
    THREADS: a ranges table that let more through would not be memory-safe,
    so the core refuses to import with it."""
    import subprocess
    import sys

    script = (
        "from harness.vocab import ranges\n"
        "from harness.vocab.constants import Op\n"
        "spans = list(ranges.STEP_RANGES[Op.BIND])\n"
        "spans[2] = (1, 65536)\n"
        "ranges.STEP_RANGES[Op.BIND] = tuple(spans)\n"
        "try:\n"
        "    import harness._core\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    assert "op 4 argument 2 range 1..65536 exceeds the core's 1..65535" in done.stdout, done
