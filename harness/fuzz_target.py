"""The atheris entry point of the differential target.

Run it through ``fuzz/fuzz_differential.py`` (or the launcher the campaign
driver writes), so that libFuzzer's ``-fork``/``-jobs`` can re-execute it.
The sides come from ``WSA_FUZZ_SIDES`` (``engine/profile,engine/profile``);
with ``WSA_FUZZ_FINDINGS`` set, distinct divergences are recorded there and
fuzzing goes on; without it the first divergence raises with the report.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    import atheris

    # The reference model is instrumented, so its branches guide the search.
    with atheris.instrument_imports(include=["harness.reference"]):
        import harness.reference  # noqa: F401
    from harness.fuzzing import target_from_env

    target = target_from_env()
    atheris.Setup(list(sys.argv if argv is None else argv), target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
