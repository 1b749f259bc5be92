"""Real engines as fuzz, diff and minimize sides (harness/fuzz/real.py).

The attribution logic is tested on stand-in engines that behave exactly like
one profile of the model (and, for *new*, like no profile); the sides, the
minimizer and the campaign run against the Linux kernel, and Wine when it is
installed (`make conformance-deps`), bounded by -runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.conformance.engine import FixedEngine, Observation, RealRun
from harness.conformance.linux import LINUX_CAPABILITIES, LinuxEngine
from harness.conformance.model import model_run
from harness.fuzz import real
from harness.fuzz.target import signature_key
from harness.lang.parser import parse, parse_file
from harness.lang.program import Program
from harness.oracle.diff import Side
from harness.vocab.profiles import DOCUMENTED, LINUX, WINDOWS, Profile

pytestmark = pytest.mark.conformance
REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "harness"]
C04 = REPO / "conformance" / "programs" / "c04-reset-reported-on-every-call.wsa"


class ModelEngine(FixedEngine):
    """A stand-in real engine that does what the model does under ``behaves``;
    ``twist`` replaces the result of one step index with another text."""

    capabilities = LINUX_CAPABILITIES

    def __init__(self, behaves: Profile, name: str = "linux", twist: tuple[int, str] | None = None):
        self.behaves, self.name, self.twist = behaves, name, twist
        self.runs = 0

    def observe(self, program: Program) -> RealRun:
        self.runs += 1
        observed = list(model_run(program, self.behaves, self.capabilities).observations)
        if self.twist and self.twist[0] < len(observed):
            observed[self.twist[0]] = Observation(
                self.twist[1], observed[self.twist[0]].completions
            )
        return RealRun(tuple(observed))


RESET = parse(
    "t0: startup 2.2\nt0: s1 = socket stream\nt0: c1 = connect s1\npeer_send c1 10\n"
    "t0: recv s1 5\npeer_reset c1\nt0: recv s1 10\nt0: recv s1 10\nt0: closesocket s1\n",
    "reset.wsa",
)


def test_a_difference_one_switch_removes_is_explained() -> None:
    engine = ModelEngine(LINUX)
    outcome = real.compare(RESET, engine, DOCUMENTED)  # type: ignore[arg-type]
    assert outcome.differs and outcome.step is not None
    attribution = real.attribute(outcome, engine)  # type: ignore[arg-type]
    assert attribution.kind == real.EXPLAINED
    assert attribution.items == ("reset_keeps_received (as linux, lwip, wine)",)
    # under a profile not the engine's own it is expected; under its own, the profile is wrong
    assert real.expected(attribution, outcome)
    own = real.compare(RESET, ModelEngine(DOCUMENTED), LINUX)  # type: ignore[arg-type]
    assert not real.expected(real.attribute(own, ModelEngine(DOCUMENTED)), own)  # type: ignore[arg-type]
    assert real.root_cause(outcome, attribution).startswith("linux vs documented: switch ")


def test_a_difference_no_profile_gives_is_new() -> None:
    engine = ModelEngine(LINUX, twist=(1, "INVALID_SOCKET WSAEFAULT"))
    outcome = real.compare(RESET, engine, LINUX)  # type: ignore[arg-type]
    assert outcome.signature == (
        "socket result -> ok ~ -> INVALID_SOCKET WSAEFAULT [linux|reference/linux]"
    )
    attribution = real.attribute(outcome, engine)  # type: ignore[arg-type]
    assert attribution.kind == real.NEW and not real.expected(attribution, outcome)
    assert real.root_cause(outcome, attribution).startswith("linux vs linux: socket result [")


def test_a_listed_difference_is_known(tmp_path: Path) -> None:
    engine = ModelEngine(LINUX, twist=(1, "INVALID_SOCKET WSAEFAULT"))
    known_file = tmp_path / "linux.txt"
    known_file.write_text(
        "[stand-in-refuses-sockets]\nengine: linux\ncall: socket\nfield: result\n"
        "when: !connected\nreason: engine bug: a stand-in engine that refuses sockets\n"
        "seen: reset.wsa\n"
    )
    known = real.load_known_for("linux", known_file)
    outcome = real.compare(RESET, engine, LINUX, known)  # type: ignore[arg-type]
    attribution = real.attribute(outcome, engine)  # type: ignore[arg-type]
    assert attribution.kind == real.KNOWN_KIND and real.expected(attribution, outcome)
    assert attribution.items == (
        "[stand-in-refuses-sockets] engine bug: a stand-in engine that refuses sockets",
    )
    assert (
        real.root_cause(outcome, attribution) == "linux vs linux: known [stand-in-refuses-sockets]"
    )


def test_signatures_generalize_counts_and_names() -> None:
    assert real._general("-> 100") == "-> N"
    assert real._general("FD_READ s12 0") == "FD_READ s 0"
    assert real._general("completions: t1 recv -> 5") == "completions: t1 recv -> N"
    assert real._general("-> 0 {onoff=256, linger=7}") == "-> 0 {onoff=N, linger=N}"


def test_minimizing_reruns_the_engine_at_every_step() -> None:
    engine = ModelEngine(LINUX)
    outcome = real.compare(RESET, engine, DOCUMENTED)  # type: ignore[arg-type]
    before = engine.runs
    repro = real.minimize_real(RESET, engine, DOCUMENTED, outcome.signature, {})  # type: ignore[arg-type]
    assert engine.runs - before > len(RESET.steps)  # each candidate ran on the engine
    assert len(repro.program.steps) < len(RESET.steps)
    assert repro.signature == outcome.signature and repro.expected
    assert "# attribution: explained by " in repro.text
    again = real.compare(parse(repro.text, "r.wsa"), engine, DOCUMENTED)  # type: ignore[arg-type]
    assert again.differs and again.signature == outcome.signature


# --- the Linux kernel ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def linux() -> Iterator[LinuxEngine]:
    engine = LinuxEngine()
    yield engine
    engine.close()


class Counting:
    def __init__(self, engine: LinuxEngine) -> None:
        self.engine, self.runs = engine, 0
        self.name, self.capabilities = engine.name, engine.capabilities

    def run(self, *args: Any, **kwargs: Any) -> RealRun:
        self.runs += 1
        return self.engine.run(*args, **kwargs)

    def close(self) -> None:
        pass


def test_a_linux_reproducer_is_minimized_on_the_kernel(linux: LinuxEngine) -> None:
    program = parse_file(C04)
    engine = Counting(linux)
    outcome = real.compare(program, engine, DOCUMENTED)  # type: ignore[arg-type]
    repro = real.minimize_real(program, engine, DOCUMENTED, outcome.signature, {})  # type: ignore[arg-type]
    assert engine.runs > 5
    assert repro.real_attribution is not None
    assert repro.real_attribution.kind == real.EXPLAINED
    assert len(repro.program.steps) < len(program.steps)
    assert "# wsa-harness reproducer (minimized against linux)" in repro.text


def test_the_linux_target_records_findings_and_reach(linux: LinuxEngine, tmp_path: Path) -> None:
    sides = (Side("linux", WINDOWS), Side("reference", WINDOWS))
    target = real.RealTarget(sides, tmp_path, 20, engine=linux)
    data = bytes([0]) + bytes(4 * 12)  # the full prelude, then twelve steps
    target(data)
    # the same input again is counted, not recorded again
    target(data)
    target.write_counts()
    reach = real.read_reach(tmp_path)
    assert reach is not None and reach["inputs"] == 2 and reach["reached"] == 2
    assert "ran on linux past their first step" in real.reach_line(reach)
    for meta_path in tmp_path.glob("*.json"):
        meta = json.loads(meta_path.read_text())
        assert meta["sides"] == ["linux", "reference/windows"]
        assert meta_path.stem == signature_key(meta["signature"])
        assert (tmp_path / f"{meta_path.stem}.bin").read_bytes() == data


def test_real_sides_pair_a_real_engine_with_the_reference() -> None:
    with pytest.raises(Exception, match="--engines linux,reference"):
        real.check_real_sides((Side("linux", LINUX), Side("core", LINUX)))
    assert real.real_pair((Side("reference", LINUX), Side("linux", LINUX))) is not None
    assert real.grammar_for((Side("core", LINUX), Side("reference", LINUX))).name == "full"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def test_diff_and_minimize_with_the_kernel(tmp_path: Path) -> None:
    out = subprocess.run(
        [*CLI, "diff", "--engines", "linux", "--profiles", "documented", str(C04)],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "attribution: explained by reset_reporting (as linux)" in out.stdout
    own = subprocess.run(
        [*CLI, "diff", "--engines", "linux,reference", str(C04)],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert own.returncode == 0 and "agree" in own.stdout, own.stdout
    small = tmp_path / "small.wsa"
    mini = subprocess.run(
        [*CLI, "minimize", "--engines", "linux", "--profiles", "documented", str(C04),
         "-o", str(small)],
        capture_output=True, text=True, env=_env(), timeout=300,
    )  # fmt: skip
    assert mini.returncode == 0, mini.stderr
    assert "rerun on linux at every step" in mini.stderr
    assert len(parse_file(small).steps) < len(parse_file(C04).steps)
    nothing = subprocess.run(
        [*CLI, "minimize", "--engines", "linux", str(C04)],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert nothing.returncode == 1 and "nothing to minimize" in nothing.stderr


def _campaign(engine: str, runs: int, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "fuzz", "--engines", engine, "--runs", str(runs), "--out", str(out), *extra],
        capture_output=True, text=True, env=_env(), timeout=900,
    )  # fmt: skip


def _check_campaign(engine: str, done: subprocess.CompletedProcess[str], out: Path) -> None:
    text = done.stdout
    assert f"fuzzing {engine}/{engine} vs reference/{engine}" in text, text + done.stderr
    reach = real.read_reach(out / "findings")
    assert reach is not None and int(reach["reached"]) >= 0.9 * int(reach["inputs"]), reach
    assert "  reach             " in text
    causes = json.loads((out / "causes.json").read_text()) if (out / "causes.json").exists() else []
    for cause in causes:
        assert cause["attribution"] in (real.EXPLAINED, real.KNOWN_KIND, real.NEW, ""), cause
        assert (out / cause["reproducer"]).exists()
        assert f"({cause['attribution']})" in text
    unexpected = [c for c in causes if not c["expected"]]
    assert done.returncode == (1 if unexpected else 0), text


@pytest.mark.fuzz
def test_a_linux_campaign_bounded_by_runs(tmp_path: Path) -> None:
    done = _campaign("linux", 150, tmp_path)
    _check_campaign("linux", done, tmp_path)
    assert "conformance/programs" in done.stdout  # seeded with the conformance corpus too
    assert "executions        150" in done.stdout


def _wine_available() -> None:
    if shutil.which("x86_64-w64-mingw32-gcc") is None:
        pytest.skip("the MinGW compiler is not installed (`make conformance-deps`)")
    from harness.conformance.wine import WineEngine
    from harness.vocab.errors import HarnessError

    try:
        WineEngine().close()
    except HarnessError as exc:
        pytest.skip(str(exc))


@pytest.mark.fuzz
def test_a_wine_campaign_bounded_by_runs(tmp_path: Path) -> None:
    _wine_available()
    from harness.conformance.grammar import engine_grammar
    from harness.lang.encoding import encode

    corpus = tmp_path / "seeds"  # a few seeds: Wine runs about 5 programs a second
    corpus.mkdir()
    for name in ("c02-graceful-close-peer-reads-all-then-0", "c03-close-wakes-blocked-recv"):
        program = parse_file(REPO / "conformance" / "programs" / f"{name}.wsa")
        (corpus / f"{name}.bin").write_bytes(encode(program, engine_grammar("wine")))
    done = _campaign("wine", 30, tmp_path / "out", "--corpus", str(corpus))
    _check_campaign("wine", done, tmp_path / "out")


def test_what_the_first_linux_campaign_found_in_the_harness(linux: LinuxEngine) -> None:
    """A zero-length peer_recv reads nothing (D70); a peer_send past what a real
    stack surely buffers ends the comparison there (D71)."""
    head = "t0: s1 = socket stream\nt0: c1 = connect s1\n"
    zero = real.compare(parse(head + "peer_recv c1 0\n", "zero.wsa"), linux, LINUX)
    assert zero.verdict.kind == "agree", zero.render()
    big = real.compare(parse(head + "peer_send c1 4194297\n", "big.wsa"), linux, LINUX)
    assert big.verdict.kind == "partial" and "sure to buffer" in big.verdict.reason
    small = real.compare(
        parse(head + "peer_send c1 4096\nt0: recv s1 4096\n", "s.wsa"), linux, LINUX
    )
    assert small.verdict.kind == "agree", small.render()
