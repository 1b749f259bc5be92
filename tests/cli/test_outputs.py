"""Commands write their output outside the tracked tree unless told otherwise:
the default ``--out`` of ``fuzz`` and of every ``bench`` command is a folder in
the current directory that .gitignore lists, so running them as the README
shows from a checkout leaves ``git status`` clean."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cli.main import build_parser, main

REPO = Path(__file__).resolve().parents[2]
COMMANDS = (
    ["fuzz"],
    ["bench", "bugs"],
    ["bench", "mutation"],
    ["bench", "report"],
)


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)


needs_git = pytest.mark.skipif(
    shutil.which("git") is None or _git("rev-parse", "--git-dir").returncode != 0,
    reason="needs git and a git checkout",
)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_default_out_is_relative_and_not_bench_results(command: list[str]) -> None:
    out = build_parser().parse_args(command).out
    assert not out.is_absolute()  # the current directory's, not the installed package's
    assert out.parts[0] not in ("bench", "corpus", "harness", "docs"), out


@needs_git
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_default_out_is_ignored_by_git(command: list[str]) -> None:
    out = build_parser().parse_args(command).out
    probe = out / "bugs.json"
    assert _git("check-ignore", "-q", str(probe)).returncode == 0, f"{out} is not ignored"
    assert _git("ls-files", str(out)).stdout == "", f"{out} holds tracked files"


def _untracked_or_changed() -> set[str]:
    return set(_git("status", "--porcelain", "--untracked-files=all").stdout.splitlines())


@needs_git
def test_bench_report_leaves_the_checkout_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny bench run (``bench report`` on a copy of the committed record,
    from the checkout) adds or changes nothing that git sees."""
    pytest.importorskip("matplotlib")
    out = REPO / "bench-out"
    if out.exists():
        pytest.skip(f"{out} exists: a run of someone's, left alone")
    before = _untracked_or_changed()
    monkeypatch.chdir(REPO)
    try:
        out.mkdir()
        shutil.copy(REPO / "bench" / "results" / "bugs.json", out / "bugs.json")
        assert main(["bench", "report"]) == 0
        assert (out / "bugs.md").is_file() and (out / "survival.png").is_file()
        assert _untracked_or_changed() == before
    finally:
        shutil.rmtree(out, ignore_errors=True)
