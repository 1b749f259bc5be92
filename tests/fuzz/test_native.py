"""Instrumented builds of the core (harness.fuzz.native): where they live, how a
process is pointed at one, and that libFuzzer really counts the core's edges.

The builds need clang (``make fuzz-native`` / ``make test-sanitize`` install
Debian's); the tests that build are skipped, saying so, where it is absent.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.engines import CORE_DIR_ENV, no_core
from harness.fuzz import native

REPO = Path(__file__).resolve().parents[2]
needs_clang = pytest.mark.skipif(
    shutil.which("clang") is None,
    reason="clang is not installed (make clang installs it with apt-get, or says how)",
)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_clang_without_clang_or_apt_explains_and_succeeds(tmp_path: Path) -> None:
    """On a machine without apt-get, `make test`'s clang step names the test that
    needs clang and how to get it, and does not fail the run."""
    make = str(shutil.which("make"))
    done = subprocess.run(
        [make, "-s", "-C", str(REPO), "clang"], env={"PATH": str(tmp_path)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("no apt-get on this machine. clang is missing:"), done.stdout
    assert "tests/fuzz/test_native.py" in done.stdout and "dnf install clang" in done.stdout


def test_variants_live_apart_from_the_in_place_core() -> None:
    for variant in native.VARIANTS:
        folder = native.core_dir(variant)
        assert folder.is_relative_to(REPO / "build")
        assert folder != REPO / "harness"
    with pytest.raises(native.NativeBuildError, match="unknown variant 'tsan'"):
        native.core_dir("tsan")


def test_sanitize_environment_preloads_the_asan_runtime() -> None:
    env = native.environment("sanitize", {"PATH": "/usr/bin"})
    (preload,) = env["LD_PRELOAD"].split()
    assert preload.endswith("asan_with_fuzzer.so") and Path(preload).is_file()
    assert "detect_leaks=0" in env["ASAN_OPTIONS"]
    assert env[CORE_DIR_ENV] == str(native.core_dir("sanitize"))
    coverage = native.environment("coverage", {"PATH": "/usr/bin"})
    assert "LD_PRELOAD" not in coverage  # atheris's own libFuzzer is loaded by the target


def test_missing_clang_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(native.CLANG_ENV, "/nonexistent/clang")
    with pytest.raises(native.NativeBuildError, match="clang is not installed"):
        native.build("coverage")


def test_fuzz_native_needs_the_core_on_one_side() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "harness", "fuzz", "--native", "--runs", "1",
         "--engines", "reference", "--profiles", "documented,windows"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert out.returncode == 1
    assert (
        out.stderr == "wsa-harness fuzz: --native instruments the core: give --engines with core\n"
    )


@needs_clang
@pytest.mark.slow
@pytest.mark.fuzz
@pytest.mark.core
def test_native_build_feeds_the_core_edges_to_libfuzzer(tmp_path: Path) -> None:
    """The differential target on the coverage build: libFuzzer loads the core's
    inline counters (thousands of them) and atheris's bundled libFuzzer, and
    the normal in-place core is left as it was."""
    if no_core():
        pytest.skip("WSA_HARNESS_NO_CORE=1 asks for pure-Python mode")
    in_place = sorted((REPO / "harness").glob("_core*.so"))
    before = [(p, p.stat().st_mtime_ns) for p in in_place]
    folder = native.build("coverage")
    assert [(p, p.stat().st_mtime_ns) for p in in_place] == before
    # (under `make test-sanitize` this process has the ASan runtime preloaded: not wanted here)
    env = native.environment("coverage", {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    env["PYTHONPATH"] = str(REPO)
    out = subprocess.run(
        [sys.executable, str(REPO / "fuzz" / "fuzz_differential.py"), "-runs=200", "-seed=1",
         f"-artifact_prefix={tmp_path}/"],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    counters = re.search(r"INFO: Loaded 1 modules\s+\((\d+) inline 8-bit counters\)", out.stderr)
    assert counters and int(counters.group(1)) > 1000, out.stderr[:3000]
    assert "INFO: Using built-in libfuzzer" in out.stderr
    probe = subprocess.run(
        [sys.executable, "-c", "from harness.fuzz.entry import load_libfuzzer_globally as f; "
         "f(); import harness._core as c; print(c.__file__)"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert probe.stdout.strip().startswith(str(folder)), probe.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.slow
@pytest.mark.core
def test_make_fuzz_without_clang_says_so_and_fuzzes_the_in_place_core(tmp_path: Path) -> None:
    """`make fuzz` uses the native-coverage core when clang is there; without
    it, one line says so and the campaign runs on the in-place core."""
    if no_core():
        pytest.skip("WSA_HARNESS_NO_CORE=1 asks for pure-Python mode")
    make = str(shutil.which("make"))
    args = f"--out {tmp_path / 'out'} -- -runs=300 -seed=1"
    done = subprocess.run(
        [make, "-s", "-C", str(REPO), "fuzz", "FUZZ_TIME=600", f"FUZZ_ARGS={args}",
         "WSA_HARNESS_CLANG=no-such-clang"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "clang is not installed: fuzzing the in-place core" in done.stdout, done.stdout
    assert "fuzz  --time 600" in done.stdout and "--native" not in done.stdout
    assert "reference checked" in done.stdout and "exit status       0" in done.stdout
