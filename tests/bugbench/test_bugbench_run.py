"""The bug-finding benchmark's machinery, bounded: one mutant, one trial per
tool, a few hundred programs (never a wall-time budget)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.bugbench.automut import apply_site, eligible_lines, sample, sites
from harness.bugbench.build import build
from harness.bugbench.mutants import core_sources, load_mutants, mutant_sources
from harness.bugbench.report import cell, markdown, summarize
from harness.bugbench.trials import Trial, run_trial
from harness.cli.main import main

#: killed within the seed corpus's replay: every duplicate's close leaves refs wrong
QUICK = "01"


@pytest.fixture(scope="module")
def quick_module() -> Path:
    mutant = load_mutants(only=[QUICK])[0]
    b = build(mutant_sources(mutant))
    assert b.module is not None, b.log
    return b.module


@pytest.mark.fuzz
@pytest.mark.slow
def test_harness_trial_kills_the_quick_mutant(quick_module: Path, tmp_path: Path) -> None:
    mutant = load_mutants(only=[QUICK])[0]
    t = run_trial("harness", mutant.name, quick_module, mutant.profile, 1, 60.0, runs=500,
                  keep=tmp_path)  # fmt: skip
    assert t.detected, (tmp_path / "log.txt").read_text()[-2000:]
    assert t.kind == "divergence"
    assert 1 <= t.execs <= 500
    assert "[core/documented|reference/documented]" in t.signature


@pytest.mark.fuzz
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("clang") is None, reason="clang is not installed")
@pytest.mark.parametrize("tool", ["harness-noseeds", "harness-every-noseeds"])
def test_campaign_tools_on_a_native_mutant_from_an_empty_corpus(tool: str, tmp_path: Path) -> None:
    """The core-led and every-input campaigns, on the mutant built with native
    coverage, from no seeds: both find it within a bounded number of runs."""
    mutant = load_mutants(only=[QUICK])[0]
    b = build(mutant_sources(mutant), native=True)
    assert b.module is not None, b.log
    t = run_trial(tool, mutant.name, b.module, mutant.profile, 1, 60.0, runs=200_000,
                  keep=tmp_path, native=True)  # fmt: skip
    log = (tmp_path / "log.txt").read_text()
    assert t.detected, log[-2000:]
    assert "inline 8-bit counters" in log  # libFuzzer saw the core's edges
    assert t.kind == "divergence" and t.execs > 1


@pytest.mark.fuzz
@pytest.mark.slow
def test_bench_bugs_command_end_to_end(quick_module: Path, tmp_path: Path) -> None:
    status = main(["bench", "bugs", "--mutants", QUICK, "--trials", "1", "--runs", "300",
                   "--no-native", "--out", str(tmp_path)])  # fmt: skip
    assert status == 0
    record = json.loads((tmp_path / "bugs.json").read_text())
    tools = {t["tool"]: t for t in record["trials"]}
    assert set(tools) == {"harness", "harness-every", "random", "hypothesis"}
    assert tools["harness"]["detected"] and tools["harness-every"]["detected"]
    assert record["params"]["campaign cores"] == "gcc, no native coverage"
    text = (tmp_path / "bugs.md").read_text()
    assert "| 01-dup-close-keeps-ref | CS-8 | documented | 1/1 |" in text
    assert (tmp_path / "survival.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_mutant_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "bugs", "--mutants", "99", "--out", "/nonexistent"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("wsa-harness bench bugs: ") and "no mutant named 99" in err
    assert len(err.strip().splitlines()) == 1


# --- report -------------------------------------------------------------------------


def _t(tool: str, mutant: str, detected: bool, seconds: float, execs: int = 10) -> Trial:
    kind = "divergence" if detected else "censored"
    return Trial(tool, mutant, 1, detected, seconds, execs, kind, "")


def test_summary_counts_kills_and_rmst() -> None:
    trials = [
        _t("harness", "a", True, 1.0), _t("harness", "a", True, 3.0),
        _t("harness", "b", False, 10.0), _t("harness", "b", True, 5.0),
        _t("hypothesis", "a", False, 10.0), _t("hypothesis", "a", False, 10.0),
        _t("hypothesis", "b", True, 2.0), _t("hypothesis", "b", False, 10.0),
    ]  # fmt: skip
    s = summarize(trials, ["a", "b"], 10.0)
    assert (s["harness"].mutants_killed, s["harness"].mutants_always_killed) == (2, 1)
    assert s["harness"].trials_killed == 3
    assert s["harness"].mean_rmst_s == pytest.approx(((1 + 3) / 2 + (5 + 10) / 2) / 2)
    assert s["hypothesis"].mean_rmst_s == pytest.approx((10 + (2 + 10) / 2) / 2)
    assert (
        cell([t for t in trials if t.mutant == "a" and t.tool == "harness"], 10.0).median_s == 1.0
    )


def test_markdown_has_a_row_per_mutant_and_a_summary() -> None:
    mutants = load_mutants(only=["01", "02"])
    trials = [_t("harness", mutants[0].name, True, 0.5), _t("harness", mutants[1].name, False, 5)]
    text = markdown(mutants, trials, {"budget": "5 s"}, 5.0)
    assert "| 01-dup-close-keeps-ref | CS-8 | documented | 1/1 | 0.50 | 10 | 0.50 |" in text
    assert "| 02-linger-zero-graceful | CS-9c | documented | 0/1 | — |" in text
    assert "| harness | 1/2 (50%) |" in text


# --- automatic mutants ----------------------------------------------------------------


def test_sites_cover_every_operator_and_skip_unobservable_code() -> None:
    src = core_sources()
    every = sites(src)
    assert {s.operator for s in every} == {"cmp", "bool", "const", "arith", "delete"}
    snapshot = src["harness/_core_snapshot.pxi"].splitlines()
    start = next(i for i, ln in enumerate(snapshot) if ln.startswith("cdef list _check_invariants"))
    assert not [s for s in every if s.file.endswith("snapshot.pxi") and s.line > start]
    assert all("WSA_DEBUG" not in s.original for s in every)
    # no declaration is ever deleted
    assert not [
        s for s in every if s.operator == "delete" and s.original.strip().startswith("cdef")
    ]


def test_eligible_lines_skip_comments_and_docstrings() -> None:
    text = 'cdef int f(int x):\n    """doc with x < 1"""\n    # a < b\n    return x < 1  # c > d\n'
    assert [(n, c.strip()) for n, c, _ in eligible_lines(text)] == [(4, "return x < 1")]
    # comments stay untouched when a site is mutated
    found = sites({"harness/x.pyx": text})
    assert {s.mutated for s in found if s.operator == "cmp"} == {"    return x <= 1  # c > d"}


def test_apply_site_changes_one_line_and_sampling_is_seeded() -> None:
    src = core_sources()
    a = sample(src, 5, seed=7)
    assert [s for s, _ in a] == [s for s, _ in sample(src, 5, seed=7)]
    for site, mutant in a:
        assert mutant.sources is not None
        before = src[site.file].split("\n")
        after = mutant.sources[site.file].split("\n")
        assert [i for i, (x, y) in enumerate(zip(before, after, strict=True)) if x != y] == [
            site.line - 1
        ]
        assert apply_site(src, site) == mutant.sources


def test_bench_report_rewrites_from_the_json_record(tmp_path: Path) -> None:
    m = load_mutants(only=["01"])[0]
    record = {
        "params": {"budget": "5 s per trial"},
        "budget": 5.0,
        "trials_per": 2,
        "mutants": [{"name": m.name, "rule": m.rule, "profile": m.profile, "description": "d"}],
        "trials": [_t("harness", m.name, True, 0.5).to_json(),
                   _t("harness", m.name, False, 5.0).to_json()],
        "control": [_t("harness", "00-control", False, 5.0).to_json()],
    }  # fmt: skip
    (tmp_path / "bugs.json").write_text(json.dumps(record))
    assert main(["bench", "report", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "bugs.md").read_text()
    assert "| 01-dup-close-keeps-ref | CS-8 | documented | 1/2 | 0.50 |" in text
    assert "(detections / trials): harness 0/1." in text
    assert (tmp_path / "survival.png").stat().st_size > 1000


def test_bench_report_on_a_bad_record_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bugs.json").write_text('{"params": {}}')
    assert main(["bench", "report", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bugs.json: not a bench bugs record" in err[0]


# --- reading a trial's end ------------------------------------------------------------


def _end(tmp_path: Path, tool: str, status: int, log: str, result: str | None = None) -> Trial:
    from harness.bugbench.trials import _outcome

    (tmp_path / "log.txt").write_text(log)
    if result is not None:
        (tmp_path / "result.json").write_text(result)
    return _outcome(tool, "m", 1, 20.0, status, 3.5, tmp_path)


def test_a_libfuzzer_crash_is_a_detection(tmp_path: Path) -> None:
    log = "==1== ERROR: libFuzzer: deadly signal\nstat::number_of_executed_units: 7\n"
    t = _end(tmp_path, "harness", 77, log)
    assert (t.detected, t.kind, t.execs, t.seconds) == (True, "crash", 7, 3.5)
    assert "deadly signal" in t.signature


def test_a_libfuzzer_hang_is_a_detection(tmp_path: Path) -> None:
    log = "ALARM: working on the last Unit for 10 seconds\n==1== ERROR: libFuzzer: timeout after 10"
    assert _end(tmp_path, "harness", 70, log).kind == "timeout"


def test_the_end_of_the_budget_is_censored(tmp_path: Path) -> None:
    t = _end(tmp_path, "harness", 0, "stat::number_of_executed_units: 1234\n")
    assert (t.detected, t.kind, t.execs, t.seconds) == (False, "censored", 1234, 20.0)


def test_a_detection_after_the_budget_is_censored(tmp_path: Path) -> None:
    late = '{"detected": true, "seconds": 20.5, "execs": 9, "kind": "divergence", "signature": "x"}'
    t = _end(tmp_path, "harness", 42, "", late)
    assert (t.detected, t.seconds) == (False, 20.0)


def test_a_broken_trial_is_an_error_not_a_detection(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="status 1 and no result"):
        _end(tmp_path, "harness", 1, "Traceback ...\nImportError: no module\n")
    with pytest.raises(RuntimeError, match="status 2 and no result"):
        _end(tmp_path, "random", 2, "usage: ...")
    assert _end(tmp_path, "random", -11, "").kind == "crash"
