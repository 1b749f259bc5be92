"""Engine-aware generation: under a real engine's grammar the decoder makes
only programs that engine can run (harness/conformance/grammar.py)."""

from __future__ import annotations

import random

import pytest

from harness.conformance.grammar import capabilities, engine_grammar, grammar_of
from harness.conformance.model import model_run
from harness.conformance.session import unsupported
from harness.lang.encoding import FULL, TABLE, Grammar, NotRepresentable, decode, encode
from harness.lang.parser import parse
from harness.vocab.constants import Op
from harness.vocab.profiles import get_profile

ENGINES = ("linux", "wine", "lwip")


def _inputs(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [bytes(rng.randrange(256) for _ in range(1 + 4 * 20)) for _ in range(n)]


@pytest.mark.parametrize("engine", ENGINES)
def test_every_decoded_program_runs_on_the_engine(engine: str) -> None:
    caps, grammar = capabilities(engine), engine_grammar(engine)
    for data in _inputs(1500, 7):
        program = decode(data, get_profile(engine), 20, grammar)
        bad = unsupported(program, caps)
        assert bad is None, (data.hex(), bad[1])


@pytest.mark.parametrize("engine", ENGINES)
def test_at_least_nine_in_ten_inputs_reach_the_engine(engine: str) -> None:
    """Reaching: not refused at a step, and not cut by the model at the first step.
    The full binary form reaches neither engine (its prelude starts process p1)."""
    caps, profile = capabilities(engine), get_profile(engine)

    def reach(grammar: Grammar) -> float:
        hits = 0
        inputs = _inputs(300, 11)
        for data in inputs:
            program = decode(data, profile, 20, grammar)
            if unsupported(program, caps) is None:
                cut = model_run(program, profile, caps).cut
                hits += cut is None or cut[0] > 0
        return hits / len(inputs)

    assert reach(engine_grammar(engine)) >= 0.9
    assert reach(FULL) < 0.05


@pytest.mark.parametrize("engine", ENGINES)
def test_encode_inverts_decode_under_a_grammar(engine: str) -> None:
    grammar = engine_grammar(engine)
    for data in _inputs(400, 3):
        program = decode(data, get_profile(engine), 20, grammar)
        again = decode(encode(program, grammar), get_profile(engine), 20, grammar)
        assert again.steps == program.steps and again.limits == program.limits


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("t2: startup 2.2", "thread t2"),
        ("t0: closesocket #4", "raw descriptor"),
        ("t0: s2 = socket dgram\nt0: send s2 10", "datagram"),
        ("t0: s2 = duplicate s1 1", "pid"),
        ("t0: send s1 2147483647", "count"),
        ("t0: o1 = wsasend s1 10 event", "WSASEND"),
    ],
)
def test_what_linux_cannot_run_has_no_binary_form(line: str, why: str) -> None:
    program = parse("t0: startup 2.2\nt0: s1 = socket stream\nt0: c1 = connect s1\n" + line)
    assert unsupported(program, capabilities("linux")) is not None or why == "count"
    with pytest.raises(NotRepresentable):
        encode(program, engine_grammar("linux"))
    encode(program)  # the full binary form has every one of them


def test_the_full_grammar_is_the_binary_form() -> None:
    assert FULL.table == TABLE
    assert grammar_of("x", capabilities("wine")).ops == frozenset(Op) - {Op.NET_DOWN, Op.NET_UP}
    linux = engine_grammar("linux")
    assert Op.WSASEND not in {v.op for v in linux.table} and linux.threads == (0, 1)
    with pytest.raises(ValueError, match="no step"):
        Grammar(name="empty", ops=frozenset())
