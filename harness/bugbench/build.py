"""Build a core from given sources, outside the working tree, with a cache.

The sources go to a fresh temporary package folder; a child Python
cythonizes and compiles them there (setuptools, as ``setup.py`` does, with
``WSA_DEBUG=0``), and the module is moved into the cache, keyed by the hash
of the sources and of the tool versions.  A failed build is cached too (its
log), so a mutant that does not compile costs one attempt.  The repository's
own ``harness/_core*.so`` and ``build/`` are never touched.

``WSA_BENCH_CACHE`` moves the cache (default ``~/.cache/wsa-harness/mutants``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from harness.bugbench.mutants import MutantError, sources_hash, write_tree
from harness.vocab.fsutil import write_atomic

CACHE_ENV = "WSA_BENCH_CACHE"
#: -O1: a mutant builds in about half the time of -O3, and the campaign's
#: speed is the reference model's anyway.
CFLAGS = "-O1"
#: a native-coverage build (clang): libFuzzer sees the core's edges, as in
#: ``wsa-harness fuzz --native`` (harness.fuzz.native)
NATIVE_CFLAGS = "-O1 -fsanitize=fuzzer-no-link"
BUILD_TIMEOUT = 600

_SCRIPT = """
import sys
from setuptools import Extension, setup
from Cython.Build import cythonize
ext = Extension("harness._core", ["harness/_core.pyx"], define_macros=[("WSA_DEBUG", "0")],
                extra_compile_args=%(cflags)r.split())
mods = cythonize([ext], build_dir="cbuild", quiet=True,
                 compiler_directives={"language_level": 3}, compile_time_env={"WSA_DEBUG": 0})
setup(ext_modules=mods, script_args=["build_ext", "--inplace", "-q", "--build-temp", "otmp"])
"""


@dataclass(frozen=True)
class Build:
    key: str
    module: Path | None  # the compiled core, or None when the build failed
    log: str  # the failure's log (empty on success)
    cached: bool

    @property
    def ok(self) -> bool:
        return self.module is not None


def cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "wsa-harness" / "mutants"


def build_key(sources: dict[str, str], native: bool = False) -> str:
    cython = metadata.version("Cython")
    flags = NATIVE_CFLAGS if native else CFLAGS
    tools = f"{sys.version}|{cython}|{flags}|{sysconfig.get_config_var('EXT_SUFFIX')}"
    return hashlib.sha256(f"{sources_hash(sources)}|{tools}".encode()).hexdigest()[:20]


def _suffix() -> str:
    return str(sysconfig.get_config_var("EXT_SUFFIX") or ".so")


def require_tools() -> None:
    """Building a core needs Cython and setuptools in this interpreter."""
    import importlib.util

    missing = [m for m in ("Cython", "setuptools") if importlib.util.find_spec(m) is None]
    if missing:
        raise MutantError(
            f"building a mutant core needs {' and '.join(missing)}: "
            "pip install 'wsa-harness[bench]' (a checkout's `make` installs them)"
        )


def build(sources: dict[str, str], cache: Path | None = None, native: bool = False) -> Build:
    """Compile ``sources`` (``harness/NAME`` -> text) once; later calls hit the cache.
    ``native``: with clang and libFuzzer's coverage (NATIVE_CFLAGS)."""
    require_tools()
    cache = cache or cache_dir()
    key = build_key(sources, native)
    entry = cache / key
    module = entry / f"_core{_suffix()}"
    failed = entry / "build-error.log"
    if module.exists():
        return Build(key, module, "", True)
    if failed.exists():
        return Build(key, None, failed.read_text(), True)
    work = Path(tempfile.mkdtemp(prefix="wsa-build-"))
    try:
        write_tree(work, sources)
        (work / "harness" / "__init__.py").write_text("")
        env = dict(os.environ)
        env.pop("CFLAGS", None)
        if native:
            from harness.fuzz.native import clang

            cc = clang()
            env.update(CC=cc, LDSHARED=f"{cc} -shared")
        try:
            done = subprocess.run(
                [sys.executable, "-c", _SCRIPT % {"cflags": NATIVE_CFLAGS if native else CFLAGS}],
                cwd=work, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                check=False,
            )  # fmt: skip
            log = (done.stdout + done.stderr)[-20000:]
            built = sorted((work / "harness").glob("_core*" + _suffix()))
            ok = done.returncode == 0 and bool(built)
        except subprocess.TimeoutExpired:
            ok, built, log = False, [], f"build timed out after {BUILD_TIMEOUT} s"
        entry.mkdir(parents=True, exist_ok=True)
        if not ok:
            write_atomic(failed, log)
            return Build(key, None, log, False)
        write_atomic(module, built[0].read_bytes())
        return Build(key, module, "", False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
