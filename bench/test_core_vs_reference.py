"""The compiled core against the reference model, on the same work in one run.

Each suite runs once per engine (``engine`` ids ``reference`` and ``core``)
and records its best round per step or per program; bench/conftest.py prints
the speed-ups (reference / core) and writes them into ``extra_info``.
Targets are printed beside the figures and never asserted: a benchmark does
not fail on a time.  What is asserted is that the work is what it claims to
be (few trivially failing steps, the churn really opening and closing).

(a) mixed: 100,000 steps of socket work (harness.perf.workloads.mixed_program), as
    100 worlds of 1,000 steps through ``run_lowered``; plus one world of
    100,000 steps, which ends with thousands of sockets and operations made
    (both engines' cost per step depends on what is live, not on what was made).
(b) fuzzer-size: 2,000 programs of 20 steps decoded from seeded bytes, the
    size ``wsa-harness fuzz`` runs, each a separate ``run_lowered`` call
    (Python call overhead included), pre-lowered and with ``lower()``.
    The same inputs as bytes, as a fuzz execution gets them: decoded in Python
    (encoding.decode_lowered) then run, on both engines; pre-decoded and run
    alone; and, on the core, decoded and run in one C call (``run_bytes``).
    The ratio of the last to the core's run alone is printed (target <= 3x).
(c) churn: socket / duplicate / closesocket beside 10, 1,000 and 100,000 live
    descriptors, through the stepwise API on both engines: the descriptors are
    opened in an untimed set-up (its best round is printed below the table),
    then the churn loop is timed.  A row of idle step() calls (getlasterror) in
    the same loop shape gives the fixed call overhead, and the core's growth
    ratio is printed with and without it; the reference's without.  (The batch
    API cannot be used here: it starts from an empty world, so opening 100,000
    descriptors would be timed too and would dwarf the churn.)
"""

from __future__ import annotations

import time
from array import array
from types import ModuleType
from typing import Any, TypeAlias

import pytest
from ratios import Speed

from harness.lang.encoding import decode_lowered
from harness.lang.program import lower
from harness.perf.workloads import (
    CHURN_CYCLE,
    churn_setup,
    fuzzer_inputs,
    fuzzer_programs,
    mixed_program,
    outcome_mix,
    run_churn,
    run_idle,
)
from harness.vocab import trace
from harness.vocab.profiles import DOCUMENTED, Limits, Profile

Engine = tuple[str, ModuleType]
Lowered: TypeAlias = "list[tuple[array[int], Profile, Limits]]"

MIXED_WORLDS, MIXED_WORLD_STEPS = 100, 1_000
ONE_WORLD_STEPS = 100_000
FUZZ_PROGRAMS, FUZZ_STEPS = 2_000, 20
CHURN_SIZES = (10, 1_000, 100_000)
CHURN_CYCLES = 3_000  # 18,000 steps a round, both engines
CHURN_LIMITS = Limits(sockets=200_000, descriptors=200_000)


def rounds(engine_id: str, reference: int = 2) -> dict[str, int]:
    """pedantic() rounds: the reference's are long (no warm-up), the core's short."""
    if engine_id == "reference":
        return {"rounds": reference, "warmup_rounds": 0}
    return {"rounds": 10, "warmup_rounds": 1}


# --- (a) mixed ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed_worlds() -> Lowered:
    programs = [mixed_program(MIXED_WORLD_STEPS, seed) for seed in range(1, MIXED_WORLDS + 1)]
    return [(lower(p), p.profile, p.limits) for p in programs]


def run_all(module: ModuleType, work: Lowered) -> list[array[int]]:
    return [module.run_lowered(low, profile, limits) for low, profile, limits in work]


def test_mixed_100k_steps(benchmark: Any, engine: Engine, mixed_worlds: Lowered, speed: Speed):
    engine_id, module = engine
    benchmark.group = "a: mixed workload, per 100,000 steps"
    outs = benchmark.pedantic(run_all, args=(module, mixed_worlds), **rounds(engine_id))
    steps = MIXED_WORLDS * MIXED_WORLD_STEPS
    speed.record(
        benchmark, f"a: mixed, {MIXED_WORLDS} worlds x {MIXED_WORLD_STEPS:,} steps", engine_id,
        steps, "step", target=">= 100x",
    )  # fmt: skip
    programs = [mixed_program(MIXED_WORLD_STEPS, seed) for seed in range(1, 4)]
    mix = outcome_mix(programs, [trace.decode(o) for o in outs[:3]])
    benchmark.extra_info["outcome_mix_first_3_worlds"] = mix
    # the workload does what it claims: mostly real work, few common-check failures
    assert mix["trivial"] < 0.15 * mix["steps"], mix
    assert mix["op:closesocket"] > 0.05 * mix["steps"] and mix["op:wsasend"] > 0, mix
    assert mix["events"] > 0.1 * mix["steps"], mix


def test_mixed_one_world(benchmark: Any, engine: Engine, speed: Speed) -> None:
    engine_id, module = engine
    suite = f"a: mixed, one world of {ONE_WORLD_STEPS:,} steps"
    program = mixed_program(ONE_WORLD_STEPS, 1)
    work = [(lower(program), program.profile, program.limits)]
    benchmark.group = "a: mixed workload, per 100,000 steps"
    benchmark.pedantic(run_all, args=(module, work), **rounds(engine_id))
    speed.record(benchmark, suite, engine_id, ONE_WORLD_STEPS, "step")


# --- (b) fuzzer-size programs ---------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_programs() -> list[Any]:
    return fuzzer_programs(FUZZ_PROGRAMS, FUZZ_STEPS, seed=20)


def run_programs(module: ModuleType, programs: list[Any]) -> int:
    run = module.run_lowered
    for p in programs:
        run(lower(p), p.profile, p.limits)
    return len(programs)


def test_fuzzer_size_lowered(
    benchmark: Any, engine: Engine, fuzz_programs: list[Any], speed: Speed
) -> None:
    engine_id, module = engine
    work = [(lower(p), p.profile, p.limits) for p in fuzz_programs]
    benchmark.group = f"b: {FUZZ_PROGRAMS:,} fuzzer-size programs"
    benchmark.pedantic(run_all, args=(module, work), **rounds(engine_id, 3))
    speed.record(
        benchmark, f"b: {FUZZ_STEPS}-step programs, run_lowered", engine_id, FUZZ_PROGRAMS,
        "program", target=">= 30x",
    )  # fmt: skip
    steps = sum(len(p.steps) for p in fuzz_programs)
    benchmark.extra_info["mean_steps_per_program"] = steps / FUZZ_PROGRAMS
    assert steps > 0.9 * FUZZ_STEPS * FUZZ_PROGRAMS  # the programs are full size


def test_fuzzer_size_with_lower(
    benchmark: Any, engine: Engine, fuzz_programs: list[Any], speed: Speed
) -> None:
    engine_id, module = engine
    benchmark.group = f"b: {FUZZ_PROGRAMS:,} fuzzer-size programs"
    benchmark.pedantic(run_programs, args=(module, fuzz_programs), **rounds(engine_id, 3))
    speed.record(
        benchmark, f"b: {FUZZ_STEPS}-step programs, lower + run_lowered", engine_id,
        FUZZ_PROGRAMS, "program",
    )  # fmt: skip


#: the same 2,000 inputs as bytes of fuzz size (a header and FUZZ_STEPS steps)
BYTES_ALONE = "b: fuzz bytes, pre-decoded, run_lowered alone"
BYTES_PYTHON = "b: fuzz bytes, decode_lowered + run_lowered"
BYTES_CORE = "b: fuzz bytes, run_bytes (decode + run in C)"


@pytest.fixture(scope="module")
def fuzz_inputs() -> list[bytes]:
    return fuzzer_inputs(FUZZ_PROGRAMS, FUZZ_STEPS, seed=20)


def run_decoded(module: ModuleType, work: list[tuple[array[int], Limits]]) -> int:
    run = module.run_lowered
    for code, limits in work:
        run(code, DOCUMENTED, limits)
    return len(work)


def decode_and_run(module: ModuleType, inputs: list[bytes]) -> int:
    run = module.run_lowered
    for data in inputs:
        code, limits = decode_lowered(data, FUZZ_STEPS)
        run(code, DOCUMENTED, limits)
    return len(inputs)


def run_bytes(module: ModuleType, inputs: list[bytes]) -> int:
    run = module.run_bytes
    for data in inputs:
        run(data, DOCUMENTED, FUZZ_STEPS)
    return len(inputs)


def fuzz_bytes_ratios(speed: Speed) -> None:
    label = "core, decode + run of fuzz bytes / run_lowered alone"
    speed.growth(f"{label}: run_bytes", BYTES_CORE, BYTES_ALONE, "core", "<= 3x")
    speed.growth(
        f"{label}: Python decode_lowered", BYTES_PYTHON, BYTES_ALONE, "core", "for comparison"
    )


def test_fuzz_bytes_run_alone(
    benchmark: Any, engine: Engine, fuzz_inputs: list[bytes], speed: Speed
) -> None:
    engine_id, module = engine
    fuzz_bytes_ratios(speed)
    work = [decode_lowered(data, FUZZ_STEPS) for data in fuzz_inputs]
    benchmark.group = f"b: {FUZZ_PROGRAMS:,} fuzz-size byte inputs"
    benchmark.pedantic(run_decoded, args=(module, work), **rounds(engine_id, 3))
    speed.record(benchmark, BYTES_ALONE, engine_id, FUZZ_PROGRAMS, "program")


def test_fuzz_bytes_python_decode(
    benchmark: Any, engine: Engine, fuzz_inputs: list[bytes], speed: Speed
) -> None:
    engine_id, module = engine
    benchmark.group = f"b: {FUZZ_PROGRAMS:,} fuzz-size byte inputs"
    benchmark.pedantic(decode_and_run, args=(module, fuzz_inputs), **rounds(engine_id, 3))
    speed.record(benchmark, BYTES_PYTHON, engine_id, FUZZ_PROGRAMS, "program")


def test_fuzz_bytes_run_bytes(
    benchmark: Any, engine: Engine, fuzz_inputs: list[bytes], speed: Speed
) -> None:
    engine_id, module = engine
    if engine_id == "reference":
        speed.skip(BYTES_CORE, engine_id, "the reference has no byte decoder of its own")
        pytest.skip("reference: run_bytes is the core's")
    # the work is what it claims: the same traces as the Python decoder's programs
    for data in fuzz_inputs[:50]:
        code, limits = decode_lowered(data, FUZZ_STEPS)
        assert module.run_bytes(data, DOCUMENTED, FUZZ_STEPS) == module.run_lowered(
            code, DOCUMENTED, limits
        )
    benchmark.group = f"b: {FUZZ_PROGRAMS:,} fuzz-size byte inputs"
    benchmark.pedantic(run_bytes, args=(module, fuzz_inputs), **rounds(engine_id, 3))
    speed.record(benchmark, BYTES_CORE, engine_id, FUZZ_PROGRAMS, "program")


# --- (c) descriptor churn --------------------------------------------------------------


def churn_suite(live: int, kind: str) -> str:
    return f"c: churn, {live:,} live descriptors ({kind})"


def prepared(module: ModuleType, live: int, setup_seconds: list[float]) -> Any:
    """An engine with ``live`` open descriptors (untimed set-up of one round)."""
    start = time.perf_counter()
    e = module.Engine(DOCUMENTED, CHURN_LIMITS)
    for step in churn_setup(live):
        e.step(*step)
    setup_seconds.append(time.perf_counter() - start)
    return (e,), {}


OVERHEAD_SUITE = "c: stepwise call overhead (getlasterror)"


def test_stepwise_overhead(benchmark: Any, engine: Engine, speed: Speed) -> None:
    """The cost of a step() call that does next to nothing, in the churn loop's
    shape: what the churn rows pay whatever the table size."""
    engine_id, module = engine
    benchmark.group = "c: churn, stepwise"
    ok = benchmark.pedantic(
        lambda e: run_idle(e.step, CHURN_CYCLES),
        setup=lambda: prepared(module, 10, []),
        rounds=rounds(engine_id, 3)["rounds"],
    )
    assert ok == CHURN_CYCLES
    speed.record(benchmark, OVERHEAD_SUITE, engine_id, CHURN_CYCLES * CHURN_CYCLE, "step")


@pytest.mark.parametrize("live", CHURN_SIZES)
def test_churn_stepwise(benchmark: Any, engine: Engine, live: int, speed: Speed) -> None:
    engine_id, module = engine
    suite = churn_suite(live, "stepwise")
    big, small = churn_suite(CHURN_SIZES[-1], "stepwise"), churn_suite(CHURN_SIZES[0], "stepwise")
    label = f"core cost per churn step, {CHURN_SIZES[-1]:,} / {CHURN_SIZES[0]} live"
    speed.growth(label, big, small, "core", "<= 2x")
    speed.growth(f"{label}, call overhead taken off", big, small, "core", "<= 2x", OVERHEAD_SUITE)
    ref_label = f"reference cost per churn step, {CHURN_SIZES[-1]:,} / {CHURN_SIZES[0]} live"
    speed.growth(ref_label, big, small, "reference", "<= 10x")
    setups: list[float] = []
    benchmark.group = "c: churn, stepwise"
    ok = benchmark.pedantic(
        lambda e: run_churn(e.step, CHURN_CYCLES),
        setup=lambda: prepared(module, live, setups),
        rounds=rounds(engine_id, 3)["rounds"],
    )
    assert ok == CHURN_CYCLES  # every cycle opened, duplicated and closed everything
    benchmark.extra_info["setup_seconds_min"] = min(setups)
    speed.record(benchmark, suite, engine_id, CHURN_CYCLES * CHURN_CYCLE, "step")
    if live == CHURN_SIZES[-1]:
        speed.notes.append(
            f"set-up of {live:,} live descriptors on {engine_id} (not timed in the rows): "
            f"{min(setups):.2f} s, best round"
        )
