"""Every subcommand's ``--help`` shows its options' defaults and at least one
example, and each example parses (a renamed flag fails here); errors name the
subcommand."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import pytest

from harness.cli.common import HelpFormatter
from harness.cli.main import COMMANDS, build_parser, main
from harness.engines import no_core


def _subparsers(
    parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(((*words, name), sub))
                found += _subparsers(sub, (*words, name))
    return found


SUBPARSERS = _subparsers(build_parser())
IDS = [" ".join(w) for w, _ in SUBPARSERS]


def test_every_command_is_covered() -> None:
    assert {w[0] for w, _ in SUBPARSERS} == {c.name for c in COMMANDS}
    assert {"bench bugs", "bench report", "bench mutation"} <= set(IDS)


@pytest.mark.parametrize(("words", "parser"), SUBPARSERS, ids=IDS)
def test_help_shows_every_default(words: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    assert parser.formatter_class is HelpFormatter
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        if not action.option_strings or action.default in (None, False, "", argparse.SUPPRESS):
            continue
        assert action.help, f"{' '.join(words)} {action.option_strings[0]}: no help"
        shown = action.default if not hasattr(action.default, "__fspath__") else str(action.default)
        assert f"default: {shown}" in text, f"{action.option_strings[0]}: default not shown"


@pytest.mark.parametrize(("words", "parser"), SUBPARSERS, ids=IDS)
def test_help_has_examples_that_parse(
    words: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    epilog = parser.epilog or ""
    assert epilog.startswith("example"), f"{' '.join(words)}: no example"
    block = epilog.split("\n\n")[0]  # the examples; notes such as the exit status follow
    lines = [ln.strip() for ln in block.splitlines()[1:] if ln.strip()]
    assert lines
    for line in lines:
        argv = shlex.split(line, comments=True)
        assert argv[0] == "wsa-harness" and tuple(argv[1 : 1 + len(words)]) == words, line
        build_parser().parse_args(argv[1:])


def test_fuzz_help_names_out_and_max_steps_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["fuzz", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: fuzz-out)" in text and "(default: 20)" in text and "(default: 60" in text


def test_errors_name_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--coverage", "/nonexistent"]) == 1
    assert capsys.readouterr().err == "wsa-harness rules: /nonexistent: not a directory\n"
    assert main(["bench", "report", "--out", "/nonexistent"]) == 1
    assert capsys.readouterr().err.startswith("wsa-harness bench report: /nonexistent/bugs.json")


def test_explain_with_the_core_says_it_explains_with_the_reference(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if no_core():
        pytest.skip("runs the compiled core; WSA_HARNESS_NO_CORE is set")
    path = (
        Path(__file__).resolve().parents[2] / "corpus/seeds/031-abortive-close-discards-backlog.wsa"
    )
    assert main(["run", "--explain", "--engine", "reference", str(path)]) == 0
    assert capsys.readouterr().err == ""
    assert main(["run", "--explain", "--engine", "core", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "(reference model)" in out
    assert err.startswith(
        "wsa-harness run: --explain runs the reference model; the core records no rules"
    )
