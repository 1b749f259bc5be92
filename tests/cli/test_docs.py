"""The examples in the docs run: every ``wsa`` program in docs/format.md passes
--check on each engine, its error table matches the parser's messages, and the
Python examples in the README's API, pytest-plugin and strategies sections run."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest

from harness.engines import no_core
from harness.lang.parser import parse
from harness.oracle.run import check, run
from harness.vocab.errors import ProgramError

REPO = Path(__file__).resolve().parents[2]
FORMAT = REPO / "docs" / "format.md"
README = REPO / "README.md"
#: README sections whose ```python blocks must run as they are.
RUNNABLE_SECTIONS = ("Python API", "Testing .wsa files with pytest", "Hypothesis strategies")

_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def _blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in _FENCE.findall(text) if lang == language]


def _section(text: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m is not None, f"README.md has no section {title!r}"
    return m.group(1)


FORMAT_PROGRAMS = _blocks(FORMAT.read_text(), "wsa")


def test_format_doc_has_programs() -> None:
    assert len(FORMAT_PROGRAMS) >= 4


@pytest.mark.parametrize("index", range(len(FORMAT_PROGRAMS)))
def test_format_doc_programs_pass_check(engine_module: ModuleType, index: int) -> None:
    program = parse(FORMAT_PROGRAMS[index], f"docs/format.md#{index + 1}")
    assert all(step.expect is not None for step in program.steps)
    mismatches = check(program, run(program, engine_module))
    assert not mismatches, "\n".join(m.render(program.filename) for m in mismatches)


#: The error table of docs/format.md: a program and the message its last line gives.
ERROR_CASES = {
    "t0: sokcet stream": "unknown step 'sokcet' (did you mean 'socket'?)",
    "t0: peer_recieve c1 10": "unknown step 'peer_recieve' (did you mean 'peer_recv'?)",
    "t0: send s1 10": "variable s1 is not bound",
    "t0: s1 = socket stream\nt0: s1 = socket stream": "variable s1 is already bound (line 1)",
    "t0: socket stream": "'socket' needs a variable: sN = socket ...",
    "t0: c1 = socket stream": "'socket' binds an sN variable, not 'c1'",
    "t0: s1 = socket stream\nt0: bind s1": "'bind' takes 2 arguments (bind S PORT), got 1",
    "t0: s1 = socket stream\nt0: bind s1 70000": "number 70000 out of range for PORT (1..65535)",
    "t0: advance 10": "'advance' is an environment step and takes no thread prefix",
    "startup 2.2": "'startup' is a call and needs a thread prefix: tN: startup ...",
    "t4: startup 2.2": "unknown thread 't4'",
    "t0: s1 = socket stream\npeer_recv s1 10": "expected a peer variable cN, got 's1'",
    "@profile documented\n@profile windows": "duplicate @profile header",
    "t0: startup 2.2\n@profile windows": "header after the first step",
    "@limits threads=4": "unknown limit 'threads' (known: sockets, descriptors, sndbuf, window)",
    "t0: startup 2.2 -> fine": "malformed result 'fine'",
    "t0: startup 2.2 -> SOCKET_ERROR WSAEBOGUS": "unknown error name 'WSAEBOGUS'",
    "t0: startup 2.2\n  ! c1 reset": "'!' event line under a step without '->'",
}


@pytest.mark.parametrize("text", ERROR_CASES)
def test_format_doc_error_messages(text: str) -> None:
    with pytest.raises(ProgramError) as exc:
        parse(text + "\n", "bad.wsa")
    assert str(exc.value) == f"bad.wsa:{text.count(chr(10)) + 1}: {ERROR_CASES[text]}"


def test_format_doc_error_table_is_the_tested_one() -> None:
    text = FORMAT.read_text()
    table = text[text.index("## Errors") :]
    shown = re.findall(r"^\|[^|]*\| `(.*)` \|$", table, re.M)
    assert sorted(shown) == sorted(ERROR_CASES.values())


def _readme_python() -> list[tuple[str, str]]:
    text = README.read_text()
    return [
        (title, block)
        for title in RUNNABLE_SECTIONS
        for block in _blocks(_section(text, title), "python")
    ]


README_BLOCKS = _readme_python()


def test_readme_has_python_examples() -> None:
    assert {title for title, _ in README_BLOCKS} >= {"Python API", "Hypothesis strategies"}


@pytest.mark.parametrize(
    "title,block", README_BLOCKS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(README_BLOCKS)]
)
def test_readme_python_examples_run(
    title: str, block: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if no_core() and '"core"' in block:
        pytest.skip("the example runs the compiled core; WSA_HARNESS_NO_CORE is set")
    monkeypatch.chdir(REPO)  # the examples name corpus files relative to the checkout
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(block, f"README.md ({title})", "exec"), namespace)  # noqa: S102
    tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
    for test in tests:
        test()
    assert tests or capsys.readouterr().out  # the block printed or tested something
