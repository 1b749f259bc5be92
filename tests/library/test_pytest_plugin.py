"""The pytest plugin (harness/library/pytest_plugin.py): .wsa files as test items.

Each test runs pytest in a scratch folder (pytester) with the plugin loaded
through its pytest11 entry point, as any project that installs wsa-harness
gets it.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from examples import ABORTIVE_CLOSE

from harness.engines import no_core
from harness.lang.parser import parse
from harness.oracle.run import check, run

pytest_plugins = ("pytester",)

GOOD = ABORTIVE_CLOSE
#: GOOD with two wrong expectations (lines 7 and 10).
WRONG = GOOD.replace(
    "closesocket s1               -> 0", "closesocket s1               -> blocked"
).replace("WSAECONNRESET", "WSAENOTSOCK")
#: GOOD without any expectation.
BARE = "".join(
    line.split("->")[0].rstrip() + "\n" for line in GOOD.splitlines() if not line.startswith("  !")
)
ENGINES = ("reference",) if no_core() else ("reference", "core")


def _write(pytester: pytest.Pytester, stem: str, text: str) -> Path:
    path = pytester.path / f"{stem}.wsa"
    path.write_text(text)
    return path


#: Plugins the scratch runs do not need (and would import afresh every time).
QUIET = ("-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:cacheprovider")


def _pytest(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*QUIET, *args)


def test_entry_point_is_declared() -> None:
    plugins = metadata.entry_points(group="pytest11")
    assert plugins["wsa_harness"].value == "harness.library.pytest_plugin"


def test_wsa_files_become_one_item_per_engine(pytester: pytest.Pytester) -> None:
    _write(pytester, "good", GOOD)
    (pytester.path / "sub").mkdir()
    (pytester.path / "sub" / "other.wsa").write_text(GOOD)
    result = _pytest(pytester, "--collect-only", "-q")
    ids = [f"{name}::{e}" for name in ("good.wsa", "sub/other.wsa") for e in ENGINES]
    result.stdout.fnmatch_lines([*ids, f"{len(ids)} tests collected*"])
    assert result.ret == 0


def test_passing_file_passes(pytester: pytest.Pytester) -> None:
    _write(pytester, "good", GOOD)
    result = _pytest(pytester, "-v")
    result.assert_outcomes(passed=len(ENGINES))
    result.stdout.fnmatch_lines(["good.wsa::reference PASSED*"])


def test_engines_option_chooses(pytester: pytest.Pytester) -> None:
    _write(pytester, "good", GOOD)
    result = _pytest(pytester, "--wsa-engines", "reference", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["good.wsa::reference", "1 test collected*"])
    bad = _pytest(pytester, "--wsa-engines", "reference,fast")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(
        ["*--wsa-engines: expected engines separated by commas*got 'reference,fast'"]
    )


def test_no_core_means_reference_only(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSA_HARNESS_NO_CORE", "1")
    _write(pytester, "good", GOOD)
    result = _pytest(pytester, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["good.wsa::reference", "1 test collected*"])
    refused = _pytest(pytester, "--wsa-engines", "core")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*compiled core is disabled by WSA_HARNESS_NO_CORE=1*"])


def test_failure_shows_the_first_mismatching_step(pytester: pytest.Pytester) -> None:
    _write(pytester, "wrong", WRONG)
    result = _pytest(pytester, "--wsa-engines", "reference")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ wrong.wsa::reference (documented) _*",
            "reference/documented: 2 of 6 checked step(s) do not match; the first:",
            "    t0: startup 2.2",
            "    t0: setsockopt s1 SO_LINGER 1 0",
            ">>> t0: closesocket s1    (wrong.wsa:7)",
            "wrong.wsa:7: step does not match",
            "  expected:",
            "    -> blocked",
            "  actual:",
            "    -> 0",
            "    ! c1 reset",
            "    ! socket 1 destroyed",
            "(also mismatched: line(s) 10)",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert "def runtest" not in result.stdout.str()


def test_file_without_expectations_fails(pytester: pytest.Pytester) -> None:
    _write(pytester, "bare", BARE)
    result = _pytest(pytester, "--wsa-engines", "reference")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["bare.wsa: no step carries an expectation*--wsa-update*"])


def test_malformed_file_is_a_collection_error(pytester: pytest.Pytester) -> None:
    _write(pytester, "bad", "t0: startup 2.2\nt0: s1 = sockett stream\n")
    _write(pytester, "good", GOOD)
    result = _pytest(pytester, "--wsa-engines", "reference")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        ["*ERROR collecting bad.wsa*", "bad.wsa:2: unknown step 'sockett' (did you mean 'socket'?)"]
    )
    assert "Traceback" not in out and "CollectError" not in out
    # the other file is not run when collection fails (pytest's rule), but is collected
    collected = _pytest(pytester, "--wsa-engines", "reference", "--continue-on-collection-errors")
    collected.assert_outcomes(passed=1, errors=1)


def test_update_rewrites_from_the_reference_model(pytester: pytest.Pytester) -> None:
    wrong = _write(pytester, "wrong", WRONG)
    bare = _write(pytester, "bare", BARE)
    good = _write(pytester, "good", GOOD)
    good_mtime = good.stat().st_mtime_ns
    result = _pytest(pytester, "--wsa-update")
    result.assert_outcomes(passed=3 * len(ENGINES))
    result.stdout.fnmatch_lines(
        ["*wsa-harness: rewrote 2 .wsa file(s)*", "updated bare.wsa", "updated wrong.wsa"]
    )
    assert wrong.read_text() == GOOD
    assert good.stat().st_mtime_ns == good_mtime  # unchanged files are not rewritten
    program = parse(bare.read_text(), "bare.wsa")
    assert program.steps[4].expect is not None
    assert program.steps[4].expect.events == ("c1 reset", "socket 1 destroyed")
    assert check(program, run(program, "reference")) == []
    assert not list(pytester.path.glob(".*.tmp"))  # atomic writes leave no temporary file
    again = _pytest(
        pytester,
    )
    again.assert_outcomes(passed=3 * len(ENGINES))


def test_collect_only_never_writes(pytester: pytest.Pytester) -> None:
    wrong = _write(pytester, "wrong", WRONG)
    _pytest(pytester, "--wsa-update", "--collect-only")
    assert wrong.read_text() == WRONG


def test_core_items_carry_the_core_marker(pytester: pytest.Pytester) -> None:
    if no_core():
        pytest.skip("WSA_HARNESS_NO_CORE is set: there are no core items")
    _write(pytester, "good", GOOD)
    result = _pytest(pytester, "-m", "not core", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["good.wsa::reference", "1/2 tests collected (1 deselected)*"])
    wsa = _pytest(pytester, "-m", "wsa", "--collect-only", "-q", "--strict-markers")
    wsa.stdout.fnmatch_lines(["2 tests collected*"])


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    _write(pytester, "good", GOOD)
    result = _pytest(pytester, "-p", "no:wsa_harness", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_corpus_ids_are_readable(pytestconfig: pytest.Config) -> None:
    root = pytestconfig.rootpath
    name = "corpus/seeds/031-abortive-close-discards-backlog.wsa"
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", name],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[: len(ENGINES)] == [f"{name}::{e}" for e in ENGINES]
