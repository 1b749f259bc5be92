"""ClusterFuzzLite's build, exercised here: ``.clusterfuzzlite/build.sh`` runs
as the OSS-Fuzz base image would run it, with local stand-ins for the image's
``compile_python_fuzzer`` (tests/fuzz/oss_fuzz/, PyInstaller as the image
uses it) and for ``$SRC`` and ``$OUT``, on a copy of the sources with a planted
mutant (bench/mutants/01) in the compiled core.  The bundled fuzzer then runs
2,000 inputs from the exported seed zip with the dictionary, as the runners
start it, and must report the mutant as a divergence of the core from the
reference model.

Marked slow (about a minute on two cores: pip builds the mutant core,
PyInstaller bundles it); it needs the package index for the fresh venv.  The
GitHub workflows that run the same build in ClusterFuzzLite are checked against
the project's values.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.bugbench.mutants import apply_patch, core_sources, load_mutants, write_tree
from harness.lang.encoding import NotRepresentable, encode
from harness.lang.parser import parse_file

REPO = Path(__file__).resolve().parents[2]
STANDINS = Path(__file__).resolve().parent / "oss_fuzz"
TARGET = "fuzz_differential"
MUTANT = "01"  # killed within the seed replay (tests/bugbench/test_bugbench_run.py)
RUNS = 2000
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".*cache",
    ".hypothesis", ".benchmarks", "fuzz-out", "out", "bench-out",
)  # fmt: skip
LEAKY_ENV = ("PYTHONPATH", "VIRTUAL_ENV", "WSA_HARNESS_CORE_DIR", "WSA_FUZZ_FINDINGS",
             "WSA_FUZZ_SIDES", "PYTEST_ADDOPTS")  # fmt: skip


def _run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(map(str, args))} exited {done.returncode}:\n{out}"
    return out


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$OUT after build.sh, for a source copy whose core carries the mutant."""
    pytest.importorskip("atheris")
    if shutil.which("git") is None:
        pytest.skip("applying the mutant needs git")
    tmp = tmp_path_factory.mktemp("cflite")
    src_root, out = tmp / "src", tmp / "out"
    src = src_root / "wsa-harness"
    shutil.copytree(REPO, src, ignore=IGNORED)
    (mutant,) = load_mutants(only=[MUTANT])
    assert mutant.path is not None
    write_tree(src, apply_patch(mutant.path, core_sources()))

    # The base image's python: a fresh venv with the image's tools (PyInstaller, atheris).
    venv = tmp / "venv"
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    _run([sys.executable, "-m", "venv", venv], tmp, env, 120)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet"]
    _run([*pip, "pyinstaller>=6", "atheris>=2.3"], tmp, env, 600)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(STANDINS), env.get("PATH", "")])
    env.update(SRC=str(src_root), OUT=str(out), SANITIZER="address", FUZZING_LANGUAGE="python")
    _run(["bash", REPO / ".clusterfuzzlite" / "build.sh"], src, env, 1200)
    return out


@pytest.mark.slow
@pytest.mark.fuzz
def test_build_sh_lays_out_out_as_the_runners_expect(bundle: Path) -> None:
    wrapper, package = bundle / TARGET, bundle / f"{TARGET}.pkg"
    assert os.access(wrapper, os.X_OK) and "LLVMFuzzerTestOneInput" in wrapper.read_text()
    assert package.is_file() and not os.access(package, os.X_OK)  # not taken for a target
    with zipfile.ZipFile(bundle / f"{TARGET}_seed_corpus.zip") as z:
        seeds = z.namelist()
    assert len(seeds) == _binary_seeds()
    dictionary = (bundle / f"{TARGET}.dict").read_text()
    assert dictionary == (REPO / "harness" / "fuzz" / f"{TARGET}.dict").read_text()


@pytest.mark.slow
@pytest.mark.fuzz
def test_bundled_fuzzer_finds_the_planted_mutant(bundle: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    with zipfile.ZipFile(bundle / f"{TARGET}_seed_corpus.zip") as z:
        z.extractall(corpus)
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    env["PATH"] = "/usr/bin:/bin"  # the bundle carries its own Python and harness
    done = subprocess.run(
        [bundle / TARGET, f"-runs={RUNS}", "-seed=1", f"-dict={bundle / f'{TARGET}.dict'}",
         f"-artifact_prefix={tmp_path}/", str(corpus)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode != 0, log[-3000:]  # libFuzzer stops at the first finding
    assert "DivergenceFound" in log, log[-3000:]
    assert "[core/documented|reference/documented]" in log, log[-3000:]
    assert list(tmp_path.glob("crash-*")), log[-3000:]  # the input, saved for reproduction
    for line in log.splitlines():  # shown with -s: what a ClusterFuzzLite run would report
        if line.startswith(("INFO: seed corpus", "DivergenceFound", "Test unit written")):
            print(line)


WORKFLOWS = REPO / ".github" / "workflows"
MODES = {"cflite_pr.yml": "code-change", "cflite_batch.yml": "batch", "cflite_cron.yml": "prune"}


@pytest.mark.parametrize("name", sorted(MODES))
def test_clusterfuzzlite_workflows_use_the_projects_values(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    assert "\t" not in text  # YAML: spaces only
    assert "uses: google/clusterfuzzlite/actions/build_fuzzers@v1" in text
    assert "uses: google/clusterfuzzlite/actions/run_fuzzers@v1" in text
    assert f"mode: '{MODES[name]}'" in text
    assert "language: python" in text
    project = (REPO / ".clusterfuzzlite" / "project.yaml").read_text()
    assert "language: python" in project
    if name != "cflite_cron.yml":  # pruning runs one build
        sanitizers = [ln.strip()[2:] for ln in project.splitlines() if ln.startswith("  - ")]
        assert f"sanitizer: [{', '.join(sanitizers)}]" in text


def test_ci_workflow_runs_ci_run() -> None:
    text = (WORKFLOWS / "ci.yml").read_text()
    assert "run: bash .ci/run" in text and "python-version: '3.11'" in text


def _binary_seeds() -> int:
    """How many seed programs have a binary form (the seed corpus holds those)."""
    count = 0
    for path in (REPO / "corpus" / "seeds").glob("*.wsa"):
        try:
            encode(parse_file(path))
        except NotRepresentable:
            continue
        count += 1
    return count
