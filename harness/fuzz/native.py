"""Instrumented builds of the compiled core: native coverage and sanitizers.

Two variants of ``harness/_core.pyx`` are built with clang, each in its own
folder under ``build/``, so the normal in-place ``harness/_core*.so`` is never
replaced:

* ``coverage``: ``-fsanitize=fuzzer-no-link``.  libFuzzer then counts the
  core's edges as well as the reference model's Python branches.  It needs
  libFuzzer's callbacks in the process before the core is imported: the fuzz
  target loads atheris's bundled libFuzzer with ``RTLD_GLOBAL`` first
  (``harness.fuzz.entry``), so no preload is needed.
* ``sanitize``: ``-fsanitize=address,undefined`` (plus the fuzzer coverage, so
  the same build serves the fuzz target).  Its runtime is atheris's
  ``asan_with_fuzzer.so`` in ``LD_PRELOAD`` (ASan's runtime carries UBSan's
  handlers too); it also holds libFuzzer, so atheris uses that one.

A variant is selected by ``WSA_HARNESS_CORE_DIR`` (see ``harness/__init__``).
:func:`environment` gives the whole environment for a process that runs a
variant; ``python -m harness.fuzz.native exec VARIANT -- CMD...`` builds the
variant and runs a command under it (the Makefile's ``fuzz-native`` and
``test-sanitize``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from harness.engines import CORE_DIR_ENV
from harness.vocab.errors import HarnessError

REPO = Path(__file__).resolve().parents[2]
CLANG_ENV = "WSA_HARNESS_CLANG"

#: -fno-sanitize=function: clang 17+ enables it for C under -fsanitize=undefined,
#: and atheris's UBSan runtime lacks its handler; clang 14 accepts the flag too.
VARIANTS: dict[str, str] = {
    "coverage": "-O2 -g -fsanitize=fuzzer-no-link",
    "sanitize": (
        "-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined "
        "-fno-sanitize=function -fno-sanitize-recover=undefined -fsanitize=fuzzer-no-link"
    ),
}
#: atheris's sanitizer runtimes (each with libFuzzer inside), per variant
PRELOADS: dict[str, tuple[str, ...]] = {
    "coverage": (),
    # The ASan runtime includes UBSan's handlers; preloading ubsan_with_fuzzer.so as
    # well puts two sanitizer runtimes (and two libFuzzers) in one process.
    "sanitize": ("asan_with_fuzzer.so",),
}
SANITIZER_OPTIONS = {
    # CPython's allocations at exit are not leaks worth reporting.
    "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:allocator_may_return_null=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}


class NativeBuildError(HarnessError):
    """An instrumented build could not be made or used."""


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise NativeBuildError(f"unknown variant {variant!r} (known: {', '.join(VARIANTS)})")


def build_dir(variant: str) -> Path:
    _check_variant(variant)
    return REPO / "build" / f"native-{variant}"


def core_dir(variant: str) -> Path:
    """The folder that holds the variant's ``_core*.so`` (WSA_HARNESS_CORE_DIR)."""
    return build_dir(variant) / "lib" / "harness"


def clang() -> str:
    found = shutil.which(os.environ.get(CLANG_ENV, "clang"))
    if found is None:
        raise NativeBuildError(
            "clang is not installed: `make fuzz-native` installs it (apt-get install clang)"
        )
    return found


def build(variant: str, quiet: bool = True) -> Path:
    """Build (or bring up to date) one variant; returns its core folder.  Two
    processes building the same variant (two campaigns, two test workers) take
    turns: the second finds the build up to date."""
    base = build_dir(variant)
    cc = clang()
    try:
        base.mkdir(parents=True, exist_ok=True)
        lock = open(base / ".lock", "w")
    except OSError as exc:
        raise NativeBuildError(f"{base}: cannot build there ({exc.strerror or exc})") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(variant, base, cc, quiet)


def _build_locked(variant: str, base: Path, cc: str, quiet: bool) -> Path:
    env = dict(os.environ)
    env.pop(CORE_DIR_ENV, None)
    env.pop("LD_PRELOAD", None)
    env.update(
        CC=cc,
        LDSHARED=f"{cc} -shared",
        CFLAGS=VARIANTS[variant],
        WSA_HARNESS_BUILD_DIR=str(base / "build"),
        WSA_HARNESS_CORE_ONLY="1",  # its coverage is the core's edges alone
    )
    cmd = [sys.executable, "setup.py", "build_ext", "--build-lib", str(base / "lib")]
    if quiet:
        cmd.insert(2, "-q")
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=quiet, text=True)
    if done.returncode != 0:
        tail = (done.stderr or "").strip().splitlines()[-15:] if quiet else []
        raise NativeBuildError(
            f"building the {variant} core failed (status {done.returncode})"
            + "".join(f"\n  {line}" for line in tail)
        )
    if not list(core_dir(variant).glob("_core*.so")):
        raise NativeBuildError(f"the {variant} build made no _core*.so in {core_dir(variant)}")
    return core_dir(variant)


def runtime(name: str) -> Path:
    """A sanitizer runtime shipped in the atheris wheel."""
    try:
        files = metadata.files("atheris") or []
    except metadata.PackageNotFoundError:
        raise NativeBuildError("atheris is not installed: `make venv`") from None
    for f in files:
        if f.name == name:
            return Path(str(f.locate())).resolve()
    raise NativeBuildError(f"atheris ships no {name}; sanitizer builds need it")


def environment(variant: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a process that runs ``variant`` of the core."""
    env = dict(os.environ if base is None else base)
    env[CORE_DIR_ENV] = str(core_dir(variant))
    preload = [str(runtime(name)) for name in PRELOADS[variant]]
    if preload:
        env["LD_PRELOAD"] = " ".join(preload + env.get("LD_PRELOAD", "").split())
        for key, value in SANITIZER_OPTIONS.items():
            env.setdefault(key, value)
    return env


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: python -m harness.fuzz.native build VARIANT | exec VARIANT -- CMD [ARG...]"
    try:
        if len(args) >= 2 and args[0] == "build":
            print(build(args[1], quiet=False))
            return 0
        if len(args) >= 4 and args[0] == "exec" and args[2] == "--":
            build(args[1])
            env = environment(args[1])
            print(f"{CORE_DIR_ENV}={env[CORE_DIR_ENV]}", file=sys.stderr)
            if "LD_PRELOAD" in env:
                print(f"LD_PRELOAD={env['LD_PRELOAD']}", file=sys.stderr)
            sys.stderr.flush()
            os.execvpe(args[3], args[3:], env)
    except HarnessError as exc:
        print(f"harness.fuzz.native: {exc}", file=sys.stderr)
        return 1
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
