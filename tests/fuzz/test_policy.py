"""The core-led policy (harness.fuzz.policy): each of its parts, and the
target and campaign that use it."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import zlib
from array import array
from pathlib import Path

import pytest

from harness.engines import no_core
from harness.fuzz.policy import (
    DEFAULT_RECORDS,
    Checked,
    KeySet,
    Policy,
    sampled,
    step_records,
)
from harness.vocab import trace

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "harness"]


def _trace(*steps: tuple[int, ...]) -> array[int]:
    """A canonical-looking trace: per step (bound, rkind, r1, r2, r3, 0 events)."""
    out = [len(steps)]
    for s in steps:
        out += [*s, 0]
    # an empty world's snapshot: clock, network, 2 processes, 4 threads, no rows
    return array("q", out + [0, 1] + [0, 0, 0, 0] * 2 + [0, 0, 0] * 4 + [0, 0, 0])


def _data(sample: bool, salt: int = 0) -> bytes:
    """Bytes whose CRC-32 falls in (or out of) the 1-in-16 sample."""
    for i in range(salt, salt + 10_000):
        data = i.to_bytes(4, "little") + b"\x05\x06"
        if (zlib.crc32(data) % 16 == 0) == sample:
            return data
    raise AssertionError("no such bytes")


SOCKET = (4, trace.R_VALUE, 4, 0, 0)
FAILED = (0, trace.R_SOCKET_ERROR, 10038, 0, 0)


def test_every_checks_every_input() -> None:
    p = Policy("every")
    assert [p.consult(_data(False, i), _trace(SOCKET)) for i in range(3)] == ["every"] * 3
    assert p.reference_runs == 3 and p.executions == 3


def test_the_initial_corpus_is_checked_whole() -> None:
    p = Policy("core-led", warmup=0, initial=3)
    got = [p.consult(_data(False), _trace(SOCKET)) for _ in range(4)]
    assert got == ["start", "start", "start", None]
    assert p.checked["start"] == 3


def test_the_first_mutations_after_the_start_are_all_checked() -> None:
    p = Policy("core-led", initial=2, warmup=3)
    got = [p.consult(_data(False), _trace(SOCKET)) for _ in range(6)]
    assert got == ["start", "start", "warm-up", "warm-up", "warm-up", None]
    assert p.checked == {"start": 2, "warm-up": 3}


def test_a_new_step_record_is_checked_and_a_repeated_one_is_not() -> None:
    p = Policy("core-led", warmup=0)
    data = _data(False)
    assert p.consult(data, _trace(SOCKET)) == "new-step"
    assert p.consult(data, _trace(SOCKET)) is None
    # the same records in another order and number: nothing new
    assert p.consult(data, _trace(SOCKET, SOCKET)) is None
    # one step's result differs: new
    assert p.consult(data, _trace(SOCKET, FAILED)) == "new-step"
    # records from the start count as seen
    q = Policy("core-led", warmup=0, initial=1)
    assert q.consult(data, _trace(FAILED)) == "start"
    assert q.consult(data, _trace(FAILED)) is None


def test_known_records_are_still_sampled_by_their_bytes() -> None:
    p = Policy("core-led", warmup=0)
    p.consult(_data(False), _trace(SOCKET))
    assert p.consult(_data(True), _trace(SOCKET)) == "sample"
    assert p.consult(_data(False, 7), _trace(SOCKET)) is None
    assert sampled(_data(True), 16) and not sampled(_data(False), 16)
    assert not sampled(_data(True), 0)


def test_the_record_set_is_bounded() -> None:
    p = Policy("core-led", warmup=0, capacity=2)
    data = _data(False)
    for r in range(1, 4):
        p.consult(data, _trace((r, trace.R_VALUE, r, 0, 0)))
    assert len(p._records) <= 2
    # the set started afresh: the first record is new again
    assert p.consult(data, _trace((1, trace.R_VALUE, 1, 0, 0))) == "new-step"


def test_step_records_key_each_step_wherever_it_stands() -> None:
    a = step_records(_trace(SOCKET, FAILED))[:2]
    b = step_records(_trace(FAILED, SOCKET))[:2]
    assert a == b[::-1] and a[0] != a[1]
    assert step_records(list(_trace(SOCKET))) == step_records(_trace(SOCKET))


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown reference policy 'sometimes'"):
        Policy("sometimes")


def test_checked_adds_up_the_jobs_counts() -> None:
    total = Checked()
    for n in (1, 2):
        p = Policy("core-led", warmup=0, initial=n)
        for i in range(4):
            p.consult(_data(False, i), _trace(SOCKET))
        total.add(p.to_json())
    assert total.executions == 8 and total.reasons["start"] == 3
    assert total.line().startswith(f"{total.total} of 8 inputs (")


@pytest.mark.core
def test_a_core_led_target_skips_the_reference_on_a_known_trace() -> None:
    if no_core():
        pytest.skip("WSA_HARNESS_NO_CORE=1 asks for pure-Python mode")
    from harness.fuzz.target import DifferentialTarget
    from harness.oracle.diff import Side

    sides = (Side.parse("core", "documented"), Side.parse("reference", "documented"))
    target = DifferentialTarget(sides, policy=Policy("core-led", warmup=0))
    data = _data(False)
    for _ in range(5):
        assert target.check(data) is None
    assert target.policy.executions == 5 and target.policy.reference_runs == 1
    every = DifferentialTarget(sides, policy=Policy("every"))
    for _ in range(5):
        every.check(data)
    assert every.policy.reference_runs == 5
    # two profiles of one engine: no leader, both sides always run
    both = DifferentialTarget(
        (Side.parse("reference", "documented"), Side.parse("reference", "windows")),
        policy=Policy("core-led", warmup=0),
    )
    assert both.leader is None and both.policy.name == "every"


def _campaign(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [*CLI, "fuzz", "--runs", "3000", "--profiles", "any", "--out", str(out), *args,
         "--", "-seed=3"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


@pytest.mark.core
@pytest.mark.parametrize("policy", ["core-led", "every"])
def test_the_summary_says_how_many_inputs_the_reference_checked(
    tmp_path: Path, policy: str
) -> None:
    if no_core():
        pytest.skip("WSA_HARNESS_NO_CORE=1 asks for pure-Python mode")
    done = _campaign(tmp_path, "--reference", policy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"reference: {policy}" in done.stdout
    line = next(x for x in done.stdout.splitlines() if "reference checked" in x)
    checked, executions = (int(w) for w in line.split("checked")[1].split()[:3:2])
    assert executions > 2000, line
    if policy == "every":
        assert checked == executions and "every" in line, line
        assert "final corpus" not in done.stdout
    else:
        # the seeds at the start, then only a share of the mutated inputs
        assert "start " in line and checked < executions, line
        corpus = sum(1 for _ in (tmp_path / "corpus").iterdir())
        assert f"final corpus      {corpus} inputs replayed on both sides" in done.stdout


def _real_trace(text: str) -> array[int]:
    from harness.lang.parser import parse
    from harness.lang.program import lower
    from harness.reference import run_lowered

    program = parse(text)
    return run_lowered(lower(program), program.profile, program.limits)


PROGRAM = """\
t0: startup 2.2
t0: s1 = socket stream
t0: asyncselect s1 FD_READ
t0: s2 = socket stream
t0: closesocket s2
"""


def test_the_snapshot_gives_coarse_records_too() -> None:
    values = _real_trace(PROGRAM)
    keys = step_records(values)
    steps = values[0]
    assert len(keys) > steps + 6  # the steps, 2 processes, 4 threads, and the rows' fields
    # a clock that differs (the snapshot's first value) gives the same records
    later = array("q", values)
    pos = len(values) - len(_snapshot(values))
    later[pos] += 1000
    assert step_records(later) == keys
    # a socket's registration left behind after its close is a new record
    sockets = _socket_rows(values)
    assert sockets, "the program makes a socket"
    field = trace.SOCKET_FIELDS.index("reg_process")
    changed = array("q", values)
    changed[sockets[0] + field] = 0 if changed[sockets[0] + field] < 0 else -1
    assert set(step_records(changed)) - set(keys)


def test_a_malformed_trace_is_checked_not_a_crash() -> None:
    values = _real_trace(PROGRAM)
    with pytest.raises(ValueError, match="layout"):
        step_records(array("q", [*values, 7]))
    p = Policy("core-led", warmup=0)
    p.consult(_data(False), values)
    assert p.consult(_data(False), array("q", values[:-3])) == "new-step"
    assert p.consult(_data(False), array("q", [5])) == "new-step"


def _traces(count: int) -> list[array[int]]:
    """Traces of random fuzz inputs (the reference's, so that pure-Python mode
    has them too), and variants whose layout does not hold or barely does."""
    from harness.lang.encoding import decode_lowered
    from harness.reference import run_lowered
    from harness.vocab.profiles import PROFILES

    rng = random.Random(7)
    out: list[array[int]] = []
    while len(out) < count:
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60)))
        code, limits = decode_lowered(data, 16)
        values = run_lowered(code, rng.choice(list(PROFILES.values())), limits)
        out.append(values)
        bad = array("q", values)
        i = rng.randrange(len(bad))
        bad[i] = rng.choice((-1, -(2**40), 0, 1, 2, 3, bad[i] + 1, 2**40))
        out += [bad, array("q", values[: rng.randrange(len(values))]), array("q", [*values, 0])]
    return out


def test_the_compiled_record_set_decides_as_step_records() -> None:
    # RecordSet (harness/_records.pyx) keeps the records step_records defines:
    # on the same traces, malformed ones included, it gives the same answer,
    # and it holds as many records, also when it starts afresh (capacity 40)
    if no_core():
        pytest.skip("WSA_HARNESS_NO_CORE=1: the record set is compiled with the core")
    try:
        from harness._records import RecordSet
    except ImportError as exc:
        pytest.fail(f"harness._records is not built ({exc}): run `make`", pytrace=False)
    traces = _traces(1500)
    for capacity in (DEFAULT_RECORDS, 40):
        compiled, keys = RecordSet(capacity), KeySet(capacity)
        got = [compiled.add(t) for t in traces]
        assert got == [keys.add(t) for t in traces]
        assert len(compiled) == len(keys)
        assert {-1, 0, 1} <= set(got)
    assert RecordSet(4).add([5]) == -1 and RecordSet(4).add(array("q")) == -1
    with pytest.raises(ValueError, match="capacity"):
        RecordSet(0)


def _snapshot(values: array[int]) -> list[int]:
    pos, h, w = 1, trace.STEP_HEADER, trace.EVENT_WIDTH
    for _ in range(values[0]):
        pos += h + w * values[pos + h - 1]
    return list(values[pos:])


def _socket_rows(values: array[int]) -> list[int]:
    """Where each socket row starts in ``values``."""
    pos = len(values) - len(_snapshot(values)) + 2
    for _ in range(2):
        pos += 2
        pos += 1 + 2 * values[pos]
        pos += 1 + 3 * values[pos]
    for _ in range(4):
        pos += 3 + values[pos + 2]
    width = len(trace.SOCKET_FIELDS)
    return [pos + 1 + width * k for k in range(values[pos])]
