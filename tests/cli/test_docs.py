"""The examples in the docs run: every ``wsa`` program in docs/format.md passes
--check on each engine, its error table matches the parser's messages, the
Python examples of docs/library.md run, and every shell command shown in the
README and docs/ is checked: ``wsa-harness`` command lines parse with the
command's own parser (a renamed flag fails here) and the quick ones run, make
targets exist, pytest options are the plugin's, and the paths they name exist."""

from __future__ import annotations

import glob
import re
import shlex
from pathlib import Path
from types import ModuleType

import pytest

from harness.cli.main import build_parser, main
from harness.engines import no_core
from harness.lang.parser import parse
from harness.oracle.run import check, run
from harness.vocab.errors import ProgramError

REPO = Path(__file__).resolve().parents[2]
FORMAT = REPO / "docs" / "format.md"
README = REPO / "README.md"
LIBRARY = REPO / "docs" / "library.md"
#: docs/library.md sections whose ```python blocks must run as they are.
RUNNABLE_SECTIONS = ("Python API", "Testing .wsa files with pytest", "Hypothesis strategies")
#: every page whose shell examples are checked
PAGES = [README, *sorted((REPO / "docs").glob("*.md")), REPO / "bench" / "mutants" / "README.md"]

_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def _blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in _FENCE.findall(text) if lang == language]


def _section(text: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m is not None, f"no section {title!r}"
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


def _library_python() -> list[tuple[str, str]]:
    text = LIBRARY.read_text()
    return [
        (title, block)
        for title in RUNNABLE_SECTIONS
        for block in _blocks(_section(text, title), "python")
    ]


LIBRARY_BLOCKS = _library_python()


def test_library_doc_has_python_examples() -> None:
    assert {title for title, _ in LIBRARY_BLOCKS} >= {"Python API", "Hypothesis strategies"}


@pytest.mark.parametrize(
    "title,block", LIBRARY_BLOCKS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(LIBRARY_BLOCKS)]
)
def test_library_python_examples_run(
    title: str, block: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if no_core() and '"core"' in block:
        pytest.skip("the example runs the compiled core; WSA_HARNESS_NO_CORE is set")
    monkeypatch.chdir(REPO)  # the examples name corpus files relative to the checkout
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(block, f"docs/library.md ({title})", "exec"), namespace)  # noqa: S102
    tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
    for test in tests:
        test()
    assert tests or capsys.readouterr().out  # the block printed or tested something


# --- shell commands in README.md and docs/ ---------------------------------------------

SHELL = ("sh", "bash", "shell", "console")
#: programs a shown command may start with, beyond those checked below
PLAIN = {"pip", "source", "git"}
#: the folders of this checkout that a command's path argument may name
TREE = ("corpus/", "docs/", "conformance/", "bench/", "harness/", "tests/", "fuzz/")
#: wsa-harness subcommands quick enough to run here (from the checkout, in process)
QUICK = {"run", "rules", "diff"}


def _shown_commands() -> list[tuple[str, str]]:
    """(page, command line) for every line of a shell block, and every ``$ ``
    line of a text block, split at ``&&``."""
    found = []
    for page in PAGES:
        for lang, body in _FENCE.findall(page.read_text()):
            lines = body.splitlines()
            if lang == "text":
                lines = [ln[2:] for ln in lines if ln.startswith("$ ")]
            elif lang not in SHELL:
                continue
            for line in lines:
                for part in line.split("&&"):
                    if shlex.split(part, comments=True):
                        found.append((str(page.relative_to(REPO)), part.strip()))
    return found


COMMANDS = _shown_commands()
MAKE_TARGETS = set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), re.M))


def _pytest_options() -> set[str]:
    text = (REPO / "harness" / "library" / "pytest_plugin.py").read_text()
    return set(re.findall(r'"(--wsa-[a-z-]+)"', text))


def test_the_docs_show_commands() -> None:
    pages = {page for page, _ in COMMANDS}
    assert {"README.md", "docs/campaigns.md", "docs/benchmark.md", "docs/library.md"} <= pages
    assert sum(line.startswith("wsa-harness") for _, line in COMMANDS) >= 20


def _argv(line: str) -> list[str]:
    words = shlex.split(line, comments=True)
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value make ...
        words.pop(0)
    if words[:3] in (["python", "-m", "harness"], ["python3", "-m", "harness"]):
        words = ["wsa-harness", *words[3:]]
    return words


def _check_paths(words: list[str]) -> None:
    for word in words:
        if word.startswith(TREE):
            assert glob.glob(str(REPO / word)), f"{word}: no such path in the checkout"


@pytest.mark.parametrize(("page", "line"), COMMANDS, ids=[f"{p}: {c}" for p, c in COMMANDS])
def test_shown_command_is_current(
    page: str, line: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    words = _argv(line)
    program = words[0]
    if program == "wsa-harness":
        args = build_parser().parse_args(words[1:])  # a UsageError names the stale flag
        _check_paths(words[1:])
        quick = args.command in QUICK or words[1:3] == ["corpus", "check"]
        if quick and not (no_core() and "core" in words):
            monkeypatch.chdir(REPO)
            expanded = [m for w in words[1:] for m in (sorted(glob.glob(w)) if "*" in w else [w])]
            status = main(expanded)
            capsys.readouterr()
            assert status in (0, 1), f"{page}: {line}: exit {status}"
    elif program == "make":
        unknown = [t for t in words[1:] if t not in MAKE_TARGETS and "=" not in t]
        assert not unknown, f"{page}: {line}: no make target {unknown}"
    elif program == "pytest":
        options = [w.split("=")[0] for w in words[1:] if w.startswith("--wsa")]
        assert set(options) <= _pytest_options(), f"{page}: {line}: unknown option {options}"
        _check_paths(words[1:])
    elif program.startswith("./"):
        assert (REPO / program).is_file(), f"{page}: {line}: {program} does not exist"
        _check_paths(words[1:])
    elif program == "x86_64-w64-mingw32-gcc":  # building an exported program
        assert "-lws2_32" in words, f"{page}: {line}: an exported program links ws2_32"
        _check_paths(words[1:])
    elif program in ("python", "python3"):
        assert words[1] == "-m" and words[2] in ("build", "pip", "venv"), line
    else:
        assert program in PLAIN, f"{page}: {line}: add a check for {program!r} commands"
