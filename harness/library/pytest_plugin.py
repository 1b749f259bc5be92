"""pytest plugin: ``.wsa`` program files are collected as tests.

Installed with wsa-harness (the ``pytest11`` entry point ``wsa_harness``), so
``pytest`` collects every ``*.wsa`` file under its paths.  Each file becomes
one test item per engine, ``path/to/file.wsa::reference`` and
``path/to/file.wsa::core``, that runs the program under its ``@profile`` and
checks every step that carries ``->`` (:func:`harness.oracle.run.check`).  A file
with no ``->`` at all fails: it would check nothing.

Options:

``--wsa-engines reference,core``
    the engines to run each file on (default: both; only ``reference`` when
    ``WSA_HARNESS_NO_CORE=1``).  Items on the core carry the ``core`` marker,
    every item the ``wsa`` marker.
``--wsa-update``
    before checking, rewrite each file's expectations from the reference
    model, atomically and only when they change (``wsa-harness run
    --update``).  The summary lists the files rewritten.

A malformed file is a collection error reported as ``FILE:LINE: message``.
A failing step is reported as ``wsa-harness run --check`` prints it, after the
steps leading to it.  ``-p no:wsa_harness`` turns the plugin off.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.api import PROGRAM_SUFFIX, read_program
from harness.api import run as run_program
from harness.engines import ENGINES, NO_CORE_ENV, no_core
from harness.lang.parser import parse
from harness.lang.program import Program
from harness.lang.render import format_step, update_text, with_expectations
from harness.oracle.diff import CONTEXT_STEPS
from harness.oracle.run import NOTHING_CHECKED, Mismatch, check, nothing_checked
from harness.vocab.errors import HarnessError, ProgramError
from harness.vocab.fsutil import write_atomic

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle

ENGINES_KEY = pytest.StashKey[tuple[str, ...]]()
UPDATED_KEY = pytest.StashKey[list[str]]()


class WsaFailure(Exception):
    """A .wsa item failed; the message is the whole report."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wsa-harness", "wsa-harness program files (*.wsa)")
    group.addoption(
        "--wsa-engines",
        dest="wsa_engines",
        default=None,
        metavar="ENGINES",
        help="comma-separated engines to check each .wsa file on "
        f"(default: reference,core; reference only with {NO_CORE_ENV}=1)",
    )
    group.addoption(
        "--wsa-update",
        dest="wsa_update",
        action="store_true",
        help="rewrite .wsa expectations from the reference model before checking them",
    )


def engines_from_option(value: str | None) -> tuple[str, ...]:
    """The engines ``--wsa-engines`` names; raises pytest.UsageError on a bad list."""
    if value is None:
        return ("reference",) if no_core() else ENGINES
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [n for n in names if n not in ENGINES]
    if not names or bad or len(set(names)) != len(names):
        raise pytest.UsageError(
            f"--wsa-engines: expected engines separated by commas from {', '.join(ENGINES)}, "
            f"got {value!r}"
        )
    if "core" in names and no_core():
        raise pytest.UsageError(f"--wsa-engines: the compiled core is disabled by {NO_CORE_ENV}=1")
    return names


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "wsa: a .wsa program file checked on one engine")
    config.addinivalue_line(
        "markers",
        "core: runs against the compiled core (harness._core); deselect with -m 'not core'",
    )
    config.stash[ENGINES_KEY] = engines_from_option(config.getoption("wsa_engines"))
    config.stash[UPDATED_KEY] = []


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> WsaFile | None:
    if file_path.suffix == PROGRAM_SUFFIX:
        return WsaFile.from_parent(parent, path=file_path)
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    updated = terminalreporter.config.stash.get(UPDATED_KEY, [])
    if updated:
        terminalreporter.write_sep("-", f"wsa-harness: rewrote {len(updated)} .wsa file(s)")
        for name in updated:
            terminalreporter.write_line(f"updated {name}")


class WsaFile(pytest.File):
    """One .wsa file: parsed at collection, one item per engine."""

    program: Program

    @property
    def display_name(self) -> str:
        """The path as messages show it: relative to where pytest was started."""
        try:
            return os.path.relpath(self.path, self.config.invocation_params.dir)
        except ValueError:  # another drive
            return str(self.path)

    def _parse(self, text: str | None = None) -> Program:
        try:
            if text is None:
                return read_program(self.path)
            return parse(text, str(self.path))
        except ProgramError as exc:
            raise self.CollectError(f"{self.display_name}:{exc.line}: {exc.message}") from None
        except HarnessError as exc:
            raise self.CollectError(str(exc)) from None

    def collect(self) -> Iterator[WsaItem]:
        self.program = self._parse()
        self._updated = False
        for engine in self.config.stash[ENGINES_KEY]:
            item = WsaItem.from_parent(self, name=engine, engine=engine)
            item.add_marker("wsa")
            if engine == "core":
                item.add_marker("core")
            yield item

    def checked_program(self) -> Program:
        """The program to check: with ``--wsa-update``, first rewritten (once per
        file) with the reference model's results and events."""
        if self.config.getoption("wsa_update") and not self._updated:
            self._updated = True
            filled = with_expectations(self.program, run_program(self.program, "reference"))
            try:
                text = update_text(self.program, filled)
            except HarnessError as exc:
                raise WsaFailure(str(exc)) from None
            if self.path.read_bytes() != text.encode("utf-8"):
                try:
                    write_atomic(self.path, text)
                except OSError as exc:  # a full disk: the file is left as it was
                    raise WsaFailure(f"{self.display_name}: {exc.strerror or exc}") from None
                self.config.stash[UPDATED_KEY].append(self.display_name)
            self.program = self._parse(text)
        return self.program


class WsaItem(pytest.Item):
    """One .wsa file on one engine, under the file's profile."""

    def __init__(self, *, engine: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.engine = engine

    @property
    def profile_name(self) -> str:
        return self.file.program.profile.name

    @property
    def file(self) -> WsaFile:
        assert isinstance(self.parent, WsaFile)
        return self.parent

    def runtest(self) -> None:
        program = self.file.checked_program()
        name = self.file.display_name
        if nothing_checked(program):
            raise WsaFailure(f"{name}: {NOTHING_CHECKED}; `pytest --wsa-update` fills them in")
        mismatches = check(program, run_program(program, self.engine))
        if mismatches:
            raise WsaFailure(self._report(program, name, mismatches))

    def _report(self, program: Program, name: str, mismatches: list[Mismatch]) -> str:
        first = mismatches[0]
        index = program.steps.index(first.step)
        checked = sum(1 for s in program.steps if s.expect is not None)
        lines = [
            f"{self.engine}/{program.profile.name}: {len(mismatches)} of {checked} checked "
            f"step(s) do not match; the first:"
        ]
        for step in program.steps[max(0, index - CONTEXT_STEPS) : index]:
            lines.append(f"    {format_step(step)}")
        lines.append(f">>> {format_step(first.step)}    ({name}:{first.step.line})")
        lines.append(first.render(name))
        if len(mismatches) > 1:
            more = ", ".join(str(m.step.line) for m in mismatches[1:])
            lines.append(f"(also mismatched: line(s) {more})")
        return "\n".join(lines)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: TracebackStyle | None = None,
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, WsaFailure | HarnessError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        # The failure's title; not a suffix of the node id, which the verbose
        # line would then rewrite ("." -> "::").
        return self.path, None, f"{self.file.display_name}::{self.name} ({self.profile_name})"
