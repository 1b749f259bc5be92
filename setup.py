"""Build the compiled core, harness/_core.pyx; the rest lives in pyproject.toml.

CC, CFLAGS and LDFLAGS come from the environment, as setuptools reads them.
WSA_HARNESS_CORE_DEBUG=1 turns on the core's debug invariant checks: both the
C macro WSA_DEBUG and the Cython compile-time name WSA_DEBUG become 1 (else 0).
WSA_HARNESS_BUILD_DIR (default build/) holds the generated C and the objects,
so sanitizer or coverage builds can keep theirs apart.

Beside the core, harness/_records.pyx is the campaigns' record set (the
core-led policy's memory, harness/fuzz/policy.py); WSA_HARNESS_CORE_ONLY=1
builds the core alone, as the instrumented builds do (their coverage is the
core's edges, not the policy's).

The wheel also carries the data a checkout keeps outside the package: the seed
programs (corpus/seeds) and the benchmark's mutants (bench/mutants) are copied
into the built package as harness/data/seeds and harness/data/mutants, where
harness.vocab.resources finds them when there is no checkout.  The copies are
made at build time only; the repository keeps one of each.
"""

import os
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

#: checkout folder -> (folder in the package, the files copied); see harness/vocab/resources.py
PACKAGE_DATA_FROM = {
    "corpus/seeds": ("harness/data/seeds", ("*.wsa",)),
    "bench/mutants": ("harness/data/mutants", ("*.patch", "README.md")),
}

CORE = Path("harness/_core.pyx")
RECORDS = Path("harness/_records.pyx")
BUILD_DIR = os.environ.get("WSA_HARNESS_BUILD_DIR") or "build"
DEBUG = int(os.environ.get("WSA_HARNESS_CORE_DEBUG", "0") not in ("", "0"))


def core_extensions() -> list[Extension]:
    if not CORE.exists():  # the core is not written yet: a pure-Python install
        return []
    from Cython.Build import cythonize

    c_dir = Path(BUILD_DIR, "cython")
    # Regenerate the C when the compile-time flags change, not only when the .pyx does.
    flags = f"WSA_DEBUG={DEBUG}\n"
    stamp = c_dir / "harness" / "_core.flags"
    force = not stamp.exists() or stamp.read_text() != flags
    exts = [Extension("harness._core", [str(CORE)], define_macros=[("WSA_DEBUG", str(DEBUG))])]
    if os.environ.get("WSA_HARNESS_CORE_ONLY", "0") in ("", "0"):
        exts.append(Extension("harness._records", [str(RECORDS)]))
    modules = cythonize(
        exts,
        build_dir=str(c_dir),
        force=force,
        compiler_directives={"language_level": 3},
        compile_time_env={"WSA_DEBUG": DEBUG},
    )
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(flags)
    return modules


class build_py_with_data(build_py):
    """build_py, then the checkout's seeds and mutants into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install finds them in the checkout itself
        for source, (target, patterns) in PACKAGE_DATA_FROM.items():
            files = sorted(f for pattern in patterns for f in Path(source).glob(pattern))
            if not files:
                raise SystemExit(f"setup.py: {source}: nothing to package (no {patterns})")
            folder = Path(self.build_lib, target)
            self.mkpath(str(folder))
            for f in files:
                self.copy_file(str(f), str(folder / f.name))


setup(
    ext_modules=core_extensions(),
    cmdclass={"build_py": build_py_with_data},
    options={"build": {"build_base": BUILD_DIR}},
)
