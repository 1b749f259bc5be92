"""Faults, file side (issue 17, points 4, 5, 6, 9 and 10): every reader of
program files (``harness.parse``, the CLI, the pytest plugin, ``corpus
check``) agrees on the odd ones, and none hangs, loses steps or passes a file
that checks nothing.

* CR-only line endings read like CRLF (decision D39), and ``--update`` keeps
  every step;
* a leading UTF-8 BOM is dropped;
* a file that checks nothing fails everywhere with one message;
* a fifo, or a folder named ``x.wsa``, is refused without blocking, and
  ``corpus check`` goes on past it;
* messages escape invisible characters: a NUL is never echoed raw.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from examples import ABORTIVE_CLOSE

import harness
from harness.lang.parser import lines, parse
from harness.lang.render import update_text
from harness.oracle.run import NOTHING_CHECKED
from harness.vocab.errors import HarnessError

pytest_plugins = ("pytester",)
REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "harness"]
#: ten checked steps
GOOD = (
    ABORTIVE_CLOSE
    + """\
t0: getlasterror                 -> 0
t0: s2 = socket dgram            -> 4
t0: closesocket s2               -> 0
  ! socket 2 destroyed
t0: getlasterror                 -> 0
advance 10                       -> ok
"""
)
STEPS = 11
NOTHING = {
    "empty": "",
    "comments": "# a comment\n# and another\n\n",
    "header-only": "# signature: closesocket events.ovl.value\n# rules: CS-7\n@profile windows\n",
}
ENGINES = ("--engines", "reference")


def wsa(*args: str | Path, timeout: int = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout
    )


def _clean(out: subprocess.CompletedProcess[str], rc: int) -> str:
    both = out.stdout + out.stderr
    assert out.returncode == rc, both
    assert "Traceback" not in both and "\x00" not in both, both
    return both


# --- line endings and the BOM --------------------------------------------------------


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_every_line_ending_gives_the_same_steps(tmp_path: Path, ending: str) -> None:
    path = tmp_path / "p.wsa"
    path.write_bytes(GOOD.replace("\n", ending).encode())
    assert len(harness.parse(path).steps) == STEPS
    assert len(parse(path.read_bytes().decode(), "p.wsa").steps) == STEPS
    _clean(wsa("run", "--check", path), 0)
    _clean(wsa("run", "--update", path), 0)
    assert len(harness.parse(path).steps) == STEPS  # --update kept every step


def test_a_cr_only_file_with_a_wrong_expectation_fails_the_check(tmp_path: Path) -> None:
    """Read as one comment line, it used to pass."""
    path = tmp_path / "p.wsa"
    path.write_bytes(GOOD.replace("-> 4", "-> 8", 1).replace("\n", "\r").encode())
    out = _clean(wsa("run", "--check", path), 1)
    assert f"{path}:4: step does not match" in out


def test_a_bom_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "bom.wsa"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert len(harness.parse(path).steps) == STEPS
    _clean(wsa("run", "--check", path), 0)
    assert lines("\ufeffa\rb\r\nc\n") == ["a", "b", "c", ""]


def test_an_update_never_writes_fewer_steps_than_it_read() -> None:
    program = parse(GOOD, "p.wsa")
    fewer = dataclasses.replace(program, steps=program.steps[:-1])
    with pytest.raises(HarnessError, match=r"p\.wsa: an update would write 10 step\(s\) of the 11"):
        update_text(program, fewer)
    assert update_text(program, program).count("->") == STEPS


def test_the_plugin_reads_cr_only_and_bom_files(pytester: pytest.Pytester) -> None:
    (pytester.path / "cr.wsa").write_bytes(GOOD.replace("\n", "\r").encode())
    (pytester.path / "bom.wsa").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    wrong = GOOD.replace("-> 4", "-> 8", 1).replace("\n", "\r")
    (pytester.path / "wrong.wsa").write_bytes(wrong.encode())
    result = pytester.runpytest("-p", "no:cacheprovider", "--wsa-engines", "reference")
    result.assert_outcomes(passed=2, failed=1)


# --- files that check nothing --------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(NOTHING))
def test_a_file_that_checks_nothing_fails_run_check(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.wsa"
    path.write_text(NOTHING[kind])
    out = _clean(wsa("run", "--check", path), 1)
    assert f"{path}: {NOTHING_CHECKED}" in out


def test_files_that_check_nothing_fail_corpus_check(tmp_path: Path) -> None:
    for kind, text in NOTHING.items():
        (tmp_path / f"{kind}.wsa").write_text(text)
    (tmp_path / "good.wsa").write_text(GOOD)
    out = _clean(wsa("corpus", "check", tmp_path, *ENGINES), 1)
    for kind in NOTHING:
        assert f"{tmp_path / kind}.wsa: {NOTHING_CHECKED}" in out
    assert f"{tmp_path / 'good.wsa'}: ok" in out
    assert "4 file(s), 3 failing" in out


def test_files_that_check_nothing_fail_the_plugin(pytester: pytest.Pytester) -> None:
    for kind, text in NOTHING.items():
        (pytester.path / f"{kind}.wsa").write_text(text)
    result = pytester.runpytest("-p", "no:cacheprovider", "--wsa-engines", "reference")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([f"*{NOTHING_CHECKED}*"])


# --- files that are not regular files ----------------------------------------------


@pytest.mark.parametrize("command", ["run", "diff", "minimize"])
def test_a_fifo_is_refused_without_blocking(tmp_path: Path, command: str) -> None:
    fifo = tmp_path / "fifo.wsa"
    os.mkfifo(fifo)
    out = _clean(wsa(command, fifo, timeout=30), 1)  # a blocking open would time out
    assert f"{fifo}: not a regular file (a fifo)" in out


def test_corpus_check_reports_every_unreadable_entry_and_goes_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "a-fifo.wsa")
    (tmp_path / "b-folder.wsa").mkdir()
    (tmp_path / "c-good.wsa").write_text(GOOD)
    (tmp_path / "d-bad.wsa").write_bytes(b"t0: startup 2.2\nt0: bogus\x00\n")
    out = _clean(wsa("corpus", "check", tmp_path, *ENGINES, timeout=60), 1)
    assert f"{tmp_path / 'a-fifo.wsa'}: not a regular file (a fifo)" in out
    assert f"{tmp_path / 'b-folder.wsa'}: is a directory" in out
    assert f"{tmp_path / 'c-good.wsa'}: ok" in out
    assert f"{tmp_path / 'd-bad.wsa'}:2: unknown step 'bogus\\x00'" in out
    assert "4 file(s), 3 failing" in out


def test_the_plugin_passes_a_fifo_by(pytester: pytest.Pytester) -> None:
    """pytest collects regular files only: a fifo is neither opened nor a test."""
    os.mkfifo(pytester.path / "fifo.wsa")
    (pytester.path / "good.wsa").write_text(GOOD)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--wsa-engines", "reference", timeout=60
    )
    result.assert_outcomes(passed=1)


# --- invisible characters ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"t0: start\x00up 2.2\n", r"unknown step 'start\x00up'"),
        (b"t0: startup\xe2\x80\x8b 2.2\n", r"unknown step 'startup\u200b'"),
        (b"t0: \x1b[31mstartup 2.2\n", r"unknown step '\x1b[31mstartup'"),
        (b"\xef\xbb\xbf\xef\xbb\xbft0: startup 2.2\n", r"unknown step '\ufefft0:'"),
    ],
)
def test_messages_escape_invisible_characters(tmp_path: Path, raw: bytes, shown: str) -> None:
    path = tmp_path / "odd.wsa"
    path.write_bytes(raw)
    out = _clean(wsa("run", "--check", path), 1)
    assert shown in out
    assert "\x1b" not in out and "\u200b" not in out and "\ufeff" not in out
