"""The public API (harness/__init__.py): parse, run, diff, minimize and the
stepwise Stack."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from examples import SPEC_EXAMPLE_BARE

import harness
from harness.engines import EngineError
from harness.lang.render import format_program, with_expectations
from harness.oracle.run import canonical
from harness.vocab.constants import INVALID_SOCKET

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
SEED = CORPUS / "seeds" / "031-abortive-close-discards-backlog.wsa"
PROFILE_SEED = CORPUS / "seeds" / "050-cancel-status-documented.wsa"

#: The PROGRAMS.md example, as the Stack session below must print it.
EXAMPLE = SPEC_EXAMPLE_BARE


def _engine_name(module: ModuleType) -> str:
    return "reference" if module.__name__ == "harness.reference" else "core"


# --- parse ----------------------------------------------------------------------


def test_parse_reads_a_path_a_file_name_or_text(tmp_path: Path) -> None:
    from_path = harness.parse(SEED)
    from_name = harness.parse(str(SEED))
    from_text = harness.parse(SEED.read_text())
    assert from_path.filename == from_name.filename == str(SEED)
    assert from_text.filename == "<program>"
    assert from_path.steps == from_name.steps
    assert [s.op for s in from_text.steps] == [s.op for s in from_path.steps]
    assert harness.parse("t0: startup 2.2", filename="inline").filename == "inline"


def test_parse_errors_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wsa"
    bad.write_text("t0: startup 2.2\nt0: bogus s1\n")
    with pytest.raises(harness.ProgramError) as exc:
        harness.parse(bad)
    assert str(exc.value) == f"{bad}:2: unknown step 'bogus'"
    with pytest.raises(harness.ProgramError, match=r"^<program>:1: unknown step 'bogus'$"):
        harness.parse("bogus\n")


def test_parse_reports_missing_files_and_directories(tmp_path: Path) -> None:
    missing = tmp_path / "missing.wsa"
    with pytest.raises(harness.HarnessError, match="missing.wsa: No such file"):
        harness.parse(str(missing))
    with pytest.raises(harness.HarnessError, match="missing.wsa: No such file"):
        harness.parse(missing)
    with pytest.raises(harness.HarnessError, match="is a directory"):
        harness.parse(tmp_path)


# --- run ----------------------------------------------------------------------------


def test_run_uses_the_header_profile_unless_told(engine_module: ModuleType) -> None:
    program = harness.parse(PROFILE_SEED)
    engine = _engine_name(engine_module)
    assert harness.run(program, engine).canonical == canonical(program, engine)
    windows = harness.run(program, engine, profile="windows")
    assert windows == harness.run(program, engine, profile=harness.WINDOWS)
    assert windows.canonical == canonical(program, engine, harness.WINDOWS)
    assert windows.canonical != harness.run(program, engine).canonical


def test_run_checks_against_expectations(engine_module: ModuleType) -> None:
    program = harness.parse(SEED)
    assert harness.check(program, harness.run(program, _engine_name(engine_module))) == []


def test_run_default_engine_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    program = harness.parse(SEED)
    monkeypatch.setenv("WSA_HARNESS_NO_CORE", "1")
    assert harness.run(program) == harness.run(program, "reference")
    with pytest.raises(EngineError, match="disabled"):
        harness.run(program, "core")


def test_run_rejects_misuse() -> None:
    program = harness.parse(SEED)
    with pytest.raises(EngineError, match="unknown engine 'fast'"):
        harness.run(program, "fast")
    with pytest.raises(harness.HarnessError, match="unknown profile 'solaris'"):
        harness.run(program, "reference", profile="solaris")
    with pytest.raises(TypeError, match="use harness.parse"):
        harness.run(SEED.read_text(), "reference")  # type: ignore[arg-type]


# --- diff and minimize ------------------------------------------------------------------


def test_diff_between_profiles() -> None:
    program = harness.parse(PROFILE_SEED)
    found = harness.diff(program, a=("reference", "documented"), b=("reference", "windows"))
    assert found is not None
    assert found.signature == (
        "closesocket events.ovl.value [reference/documented|reference/windows]"
    )
    assert harness.diff(program, a=("reference", None), b=("reference", "documented")) is None


@pytest.mark.core
def test_diff_between_engines_defaults_to_reference_and_core() -> None:
    if harness.api.default_engine() != "core":
        pytest.skip("WSA_HARNESS_NO_CORE is set")
    assert harness.diff(harness.parse(SEED)) is None


def test_minimize_keeps_the_signature() -> None:
    program = harness.parse(PROFILE_SEED)
    sides = {"a": ("reference", "documented"), "b": ("reference", harness.WINDOWS)}
    before = harness.diff(program, **sides)  # type: ignore[arg-type]
    small = harness.minimize(program, **sides)  # type: ignore[arg-type]
    after = harness.diff(small, **sides)  # type: ignore[arg-type]
    assert before is not None and after is not None
    assert after.signature == before.signature
    assert len(small.steps) < len(program.steps)
    assert any(before.signature in line for line in small.header_comments)
    # the reproducer carries expectations from the reference side and passes them
    assert harness.check(small, harness.run(small, "reference")) == []
    again = harness.parse(harness.format_program(small))
    assert harness.diff(again, **sides) is not None  # type: ignore[arg-type]


def test_minimize_refuses_when_the_sides_agree() -> None:
    program = harness.parse(SEED)
    with pytest.raises(harness.HarnessError, match="agree; there is nothing to minimize"):
        harness.minimize(program, a=("reference", None), b=("reference", "documented"))


# --- Stack ---------------------------------------------------------------------------


def _example_session(engine: str) -> harness.Stack:
    stack = harness.Stack(profile="documented", engine=engine)
    stack.startup(2, 2, thread=0)
    s = stack.socket("stream", thread=0)
    c = stack.connect(s, window=100)
    stack.send(s, 300)
    stack.setsockopt_linger(s, 1, 5)
    stack.closesocket(s)
    stack.advance(5000)
    stack.peer_recv(c, 100)
    return stack


def test_stack_session_prints_as_the_program_it_ran(engine_module: ModuleType) -> None:
    stack = _example_session(_engine_name(engine_module))
    assert stack.program() == EXAMPLE
    texts = [(r.step, r.text, r.events) for r in stack.results]
    assert texts[5] == ("t0: closesocket s1", "blocked", ())
    assert texts[6] == (
        "advance 5000",
        "ok",
        ("c1 reset", "socket 1 destroyed", "t0 closesocket -> 0"),
    )
    assert stack.invariants() == []


def test_stack_results_are_typed_values(engine_module: ModuleType) -> None:
    stack = harness.Stack(engine=_engine_name(engine_module))
    first = stack.socket()
    assert (first.kind, first.value, first.error, first.code) == (
        "invalid_socket",
        INVALID_SOCKET,
        "WSANOTINITIALISED",
        10093,
    )
    assert first.failed and first.var == "s1" and first.bound == -1
    assert stack.startup(0, 0).text == "WSAVERNOTSUPPORTED"
    assert stack.startup(2, 2).value == 0
    s = stack.socket("stream")
    assert (s.var, s.value, s.bound, s.failed) == ("s2", 4, 4, False)
    c = stack.connect(s)
    assert (c.var, c.value) == ("c1", 0)
    closed = stack.recv(8, 10)  # a raw descriptor value that names nothing
    assert (closed.step, closed.text, closed.code) == (
        "t0: recv #8 10",
        "SOCKET_ERROR WSAENOTSOCK",
        10038,
    )
    last = stack.getlasterror()
    assert (last.kind, last.value, last.error) == ("lasterror", 10038, "WSAENOTSOCK")
    assert stack.setsockopt_linger("s2", 1, 7).value == 0
    linger = stack.getsockopt_linger(s)
    assert (linger.text, linger.value) == ("0 {onoff=1, linger=7}", 0)
    assert stack.closesocket(INVALID_SOCKET).step == "t0: closesocket INVALID_SOCKET"
    o = stack.wsarecv(s, 100)
    assert (o.var, o.text) == ("o1", "SOCKET_ERROR WSA_IO_PENDING")
    assert stack.ovl(o).text == "pending"
    closing = stack.closesocket(s)
    assert closing.events[0] == "o1 -> failed WSA_OPERATION_ABORTED unsignaled"
    assert stack.ovl("o1").kind == "failed"
    assert str(stack.results[-1]) == (
        "ovl o1                           -> failed WSA_OPERATION_ABORTED unsignaled"
    )
    snap = stack.snapshot()
    assert snap.clock == 0 and [p["startup_count"] for p in snap.processes] == [1, 0]


def test_stack_blocked_thread_and_other_process(engine_module: ModuleType) -> None:
    stack = harness.Stack(profile="windows", engine=_engine_name(engine_module))
    stack.startup(2, 2)
    stack.startup(2, 2, thread=2)
    s = stack.socket()
    stack.connect(s, window=1)
    assert stack.recv(s, 10).text == "blocked"
    assert stack.getlasterror().text == "rejected"
    dup = stack.duplicate(s, 1, thread=1)
    assert dup.var == "s2" and dup.value == 4  # first descriptor in p1's table
    assert stack.closesocket(dup, thread=2).text == "0"
    sent = stack.peer_send("c1", 5)
    assert sent.events == ("t0 recv -> 5",)
    again = harness.parse(stack.program())
    assert harness.check(again, harness.run(again, _engine_name(engine_module))) == []


def test_stack_program_replays_on_both_engines(engine_module: ModuleType) -> None:
    stack = _example_session(_engine_name(engine_module))
    stack.asyncselect("s1", "FD_READ|FD_CLOSE")
    stack.asyncselect("s1", 0x21)
    stack.shutdown("s1", "SD_SEND")
    stack.net_down()
    stack.net_up()
    text = stack.program(comment="saved from a Stack session\nsecond line")
    assert text.startswith("# saved from a Stack session\n# second line\n@profile documented\n")
    program = harness.parse(text)
    for engine in ("reference", _engine_name(engine_module)):
        assert harness.check(program, harness.run(program, engine)) == []
    filled = with_expectations(program, harness.run(program, "reference"))
    assert format_program(filled) == text


def test_stack_bad_arguments_raise_and_change_nothing(engine_module: ModuleType) -> None:
    stack = harness.Stack(engine=_engine_name(engine_module))
    stack.startup(2, 2)
    with pytest.raises(harness.ProgramError, match=r"^<stack>:2: number 0 out of range for PORT"):
        stack.bind(4, 0)
    with pytest.raises(harness.ProgramError, match=r"^<stack>:2: variable s1 is not bound$"):
        stack.send("s1", 10)
    with pytest.raises(harness.ProgramError, match=r"^<stack>:2: unknown thread 't7'$"):
        stack.socket(thread=7)
    with pytest.raises(harness.ProgramError, match=r"^<stack>:2: expected stream or dgram"):
        stack.socket("raw")
    with pytest.raises(harness.ProgramError, match=r"expected a peer variable cN, got 's1'"):
        stack.peer_recv("s1", 1)
    with pytest.raises(ValueError, match="bits beyond"):
        stack.asyncselect(4, 0x100)
    with pytest.raises(TypeError, match="binds no variable"):
        stack.closesocket(stack.results[0])
    assert len(stack.results) == 1
    assert stack.socket().var == "s1"
    assert stack.program().count("\n") == 3


def test_stack_execute_takes_program_lines(engine_module: ModuleType) -> None:
    stack = harness.Stack(engine=_engine_name(engine_module), limits=harness.Limits(sockets=1))
    stack.execute("t0: startup 2.2")
    stack.execute("t0: s7 = socket dgram")
    assert stack.socket().var == "s8"
    assert stack.results[-1].text == "INVALID_SOCKET WSAENOBUFS"
    with pytest.raises(harness.ProgramError, match="expected one step without '->'"):
        stack.execute("t0: getlasterror -> 0")
    assert "@limits sockets=1 sndbuf=8192" in stack.program()


def test_minimize_stays_the_function_after_its_module_is_imported() -> None:
    import importlib

    importlib.import_module("harness.oracle.shrink")
    importlib.import_module("harness.oracle.reproducers")
    from harness.oracle.shrink import minimize as ddmin

    assert callable(harness.minimize) and harness.minimize is harness.api.minimize
    assert callable(ddmin) and ddmin is not harness.minimize
