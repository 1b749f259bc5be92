"""Build the compiled core, harness/_core.pyx; the rest lives in pyproject.toml.

CC, CFLAGS and LDFLAGS come from the environment, as setuptools reads them.
WSA_HARNESS_CORE_DEBUG=1 turns on the core's debug invariant checks: both the
C macro WSA_DEBUG and the Cython compile-time name WSA_DEBUG become 1 (else 0).
WSA_HARNESS_BUILD_DIR (default build/) holds the generated C and the objects,
so sanitizer or coverage builds can keep theirs apart.
"""

import os
from pathlib import Path

from setuptools import Extension, setup

CORE = Path("harness/_core.pyx")
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
    ext = Extension("harness._core", [str(CORE)], define_macros=[("WSA_DEBUG", str(DEBUG))])
    modules = cythonize(
        [ext],
        build_dir=str(c_dir),
        force=force,
        compiler_directives={"language_level": 3},
        compile_time_env={"WSA_DEBUG": DEBUG},
    )
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(flags)
    return modules


setup(
    ext_modules=core_extensions(),
    options={"build": {"build_base": BUILD_DIR}},
)
