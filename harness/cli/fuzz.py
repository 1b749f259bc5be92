"""``wsa-harness fuzz``, ``minimize`` and ``corpus``: campaigns, reproducers
and corpus folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.common import (
    REAL_ENGINES,
    UsageError,
    list_arg,
    load_program,
    positive,
    real_side,
    sides_from_args,
)
from harness.engines import CORE_DIR_ENV, ENGINES, default_engine
from harness.fuzz.policy import DEFAULT_POLICY, POLICIES
from harness.fuzz.target import DEFAULT_MAX_STEPS
from harness.vocab import resources
from harness.vocab.errors import HarnessError
from harness.vocab.profiles import PROFILES

DEFAULT_TIME = 60


FUZZ_EPILOG = """\
exit status:
  0    nothing unexpected was found
  1    an unexpected finding: between two engines every finding (a divergence, an
       invariant, a crash, a hang, a malformed trace, runaway work); between two
       profiles one that the known switches do not explain, or any with --strict
  2    a usage or input error
  130  interrupted (Ctrl-C, SIGTERM): the findings so far are saved

findings are grouped by root cause in OUT/causes.json, one reproducer each in
OUT/reproducers/ (docs/findings.md)."""


def add_fuzz(fuzz: argparse.ArgumentParser) -> None:
    fuzz.epilog = f"{fuzz.epilog}\n\n{FUZZ_EPILOG}" if fuzz.epilog else FUZZ_EPILOG
    budget = fuzz.add_mutually_exclusive_group()
    budget.add_argument(
        "--time", type=positive, help=f"seconds to fuzz (default: {DEFAULT_TIME}, unless --runs)"
    )
    budget.add_argument("--runs", type=positive, help="number of executions instead of a time")
    fuzz.add_argument(
        "--engines", type=list_arg((*ENGINES, *REAL_ENGINES), "engines"), default=None,
        help="one or two engines (default: core,reference; reference alone for two profiles); "
        "a real engine (linux, wine) is compared with the reference under one profile",
    )  # fmt: skip
    fuzz.add_argument(
        "--profiles",
        type=list_arg((*PROFILES, "any"), "profiles"),
        default=None,
        help="one or two profiles, or 'any': each input under the profile its first byte "
        "names (default: documented)",
    )
    fuzz.add_argument(
        "--jobs", type=positive, default=1,
        help="libFuzzer processes sharing the corpus folder (--runs is split between them)",
    )  # fmt: skip
    fuzz.add_argument(
        "--reference", choices=POLICIES, default=DEFAULT_POLICY,
        help="core-led: the core runs every input and the reference the initial corpus, "
        "inputs with a new core trace, a 1-in-16 sample and the final corpus; "
        "every: the reference runs every input too",
    )  # fmt: skip
    fuzz.add_argument("--corpus", type=Path, help="corpus folder (default: OUT/corpus)")
    fuzz.add_argument(
        "--out", type=Path, default=Path("fuzz-out"),
        help="output folder: corpus, findings, reproducers, crashes, libfuzzer.log",
    )  # fmt: skip
    fuzz.add_argument(
        "--max-steps", type=positive, default=DEFAULT_MAX_STEPS, help="steps per program"
    )
    fuzz.add_argument(
        "--native",
        action="store_true",
        help="fuzz a clang -fsanitize=fuzzer-no-link build of the core, so libFuzzer counts "
        "its edges too (built in build/native-coverage; needs clang)",
    )
    fuzz.add_argument(
        "--strict",
        action="store_true",
        help="between profiles, count findings that known switches explain as unexpected too",
    )
    fuzz.add_argument(
        "--timeout",
        type=positive,
        default=10,
        help="seconds one input may take before it is a hang finding",
    )
    fuzz.add_argument("libfuzzer", nargs="*", help="libFuzzer flags, after --")


def add_minimize(mini: argparse.ArgumentParser) -> None:
    mini.add_argument("file", metavar="FILE")
    mini.add_argument(
        "--engines", type=list_arg((*ENGINES, *REAL_ENGINES), "engines"), default=None,
        help="one or two engines (default: reference,core; reference alone for two profiles); "
        "with a real engine (linux, wine) every candidate is rerun on it",
    )  # fmt: skip
    mini.add_argument(
        "--profiles", type=list_arg(tuple(PROFILES), "profiles"), default=None,
        help="one or two profiles (default: the file's @profile)",
    )  # fmt: skip
    mini.add_argument("-o", "--output", type=Path, help="write the reproducer here")


def add_corpus(corpus: argparse.ArgumentParser) -> None:
    corpus.add_argument("action", choices=("check", "update", "export"))
    corpus.add_argument("dir", type=Path, metavar="DIR")
    corpus.add_argument(
        "--engines", type=list_arg(ENGINES, "engines"), default=None,
        help="check: the engines (default: reference,core; reference alone without the core)",
    )  # fmt: skip
    corpus.add_argument("--out", type=Path, help="export: the folder for the binary seeds")
    corpus.add_argument("--zip", type=Path, help="export: also write this seed-corpus zip")


def _sides(engines: list[str] | None, profiles: list[str] | None) -> tuple[object, object]:
    from harness.fuzz.target import side_profile
    from harness.oracle.diff import Side

    (ea, pa), (eb, pb) = sides_from_args(engines, profiles, "documented")
    return Side(ea, side_profile(pa)), Side(eb, side_profile(pb))


def _fuzz_sides(engines: list[str], profiles: list[str] | None) -> tuple[object, object]:
    if len(engines) == 1 and (not profiles or len(profiles) == 1):
        shown = f"--engines {engines[0]}" + (f" --profiles {profiles[0]}" if profiles else "")
        other = "reference" if engines[0] != "reference" else "core"
        raise UsageError(
            f"{shown} gives one side, and a campaign compares two: add an engine "
            f"(--engines {engines[0]},{other}) or a second profile "
            "(--profiles documented,windows)"
        )
    return _sides(engines, profiles)


def _out_folder(flag: str, path: Path | None) -> None:
    if path is not None and path.exists() and not path.is_dir():
        raise UsageError(
            f"{flag} {path}: exists and is not a folder (the campaign keeps its corpus, "
            "findings and reproducers in it): give a new or existing folder"
        )


def cmd_fuzz(args: argparse.Namespace) -> int:
    from harness.fuzz.campaign import Campaign, Config

    try:
        import atheris  # noqa: F401
    except ImportError:
        raise HarnessError(
            "atheris is not installed: `pip install atheris` (or `make fuzz`)"
        ) from None
    if args.profiles and "any" in args.profiles and len(args.profiles) > 1:
        raise HarnessError("--profiles any compares engines under one profile: give it alone")
    real = real_side(args.engines, args.profiles)
    if real is not None and args.native:
        raise UsageError("--native instruments the core; a real engine has no core side")
    engines = args.engines or (
        [default_engine(), "reference"]
        if not args.profiles or len(args.profiles) == 1
        else ["reference"]
    )
    if engines == ["reference", "reference"]:
        engines = ["reference"]
    if real is not None:
        from harness.fuzz.target import side_profile
        from harness.oracle.diff import Side

        a: object = Side(real[0], side_profile(real[1]))
        b: object = Side("reference", side_profile(real[1]))
    else:
        a, b = _fuzz_sides(engines, args.profiles)
    _out_folder("--out", args.out)
    _out_folder("--corpus", args.corpus)
    time_budget = None if args.runs else (args.time or DEFAULT_TIME)
    cfg = Config(
        sides=(a, b),  # type: ignore[arg-type]
        out=args.out,
        corpus=args.corpus,
        time=time_budget,
        runs=args.runs,
        jobs=args.jobs,
        max_steps=args.max_steps,
        seeds=seeds.path if (seeds := resources.seeds()) is not None else None,
        extra=[f for f in args.libfuzzer],
        strict=args.strict,
        timeout=args.timeout,
        reference=args.reference,
    )
    bad = [f for f in cfg.extra if not f.startswith("-")]
    if bad:
        raise HarnessError(f"libFuzzer flags must start with '-': {' '.join(bad)}")
    if args.native:
        from harness.fuzz import native

        if "core" not in (a.engine, b.engine):  # type: ignore[attr-defined]
            raise HarnessError("--native instruments the core: give --engines with core")
        print(f"building the native-coverage core in {native.build_dir('coverage')}", flush=True)
        native.build("coverage")
        cfg.env = {CORE_DIR_ENV: str(native.core_dir("coverage"))}
    summary = Campaign(cfg).run()
    return summary.exit_code


def cmd_minimize(args: argparse.Namespace) -> int:
    from harness.oracle.diff import diff
    from harness.oracle.faults import DEFAULT_TIMEOUT, EngineFault
    from harness.oracle.reproducers import build, build_fault, write

    program = load_program(args.file)
    real = real_side(args.engines, args.profiles)
    if real is not None:
        return _minimize_real(program, *real, args.output)
    engines = args.engines or (["reference"] if args.profiles and len(args.profiles) == 2 else None)
    a, b = _sides(engines, args.profiles or [program.profile.name])  # type: ignore[attr-defined]
    try:
        d = diff(program, a, b, DEFAULT_TIMEOUT)  # type: ignore[arg-type]
    except EngineFault as exc:  # a crash, hang or bad trace: minimize that instead
        fault = exc.fault
        side, other = (a, b) if fault.engine == a.engine else (b, a)  # type: ignore[attr-defined]
        repro = build_fault(program, side, fault, other, None, isolate=True)  # type: ignore[arg-type]
    else:
        if d is None:
            raise HarnessError(f"{args.file}: the two sides agree; there is nothing to minimize")
        repro = build(program, a, b, d.signature, None)  # type: ignore[arg-type]
    print(
        f"{args.file}: {len(program.steps)} -> {len(repro.program.steps)} steps, "  # type: ignore[attr-defined]
        f"signature kept: {repro.signature}",
        file=sys.stderr,
    )
    if args.output:
        write(repro, args.output)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(repro.text, end="")
    return 0


def _minimize_real(program: object, engine: str, profile_name: str, output: Path | None) -> int:
    from harness.fuzz import real
    from harness.vocab.profiles import get_profile

    profile = get_profile(profile_name)
    known = real.load_known_for(engine)
    with real.opened(engine) as eng:
        outcome = real.compare(program, eng, profile, known)  # type: ignore[arg-type]
        if not outcome.differs:
            raise HarnessError(
                f"{program.filename}: {engine} and reference/{profile.name} do not differ "  # type: ignore[attr-defined]
                f"({outcome.verdict.summary()}); there is nothing to minimize"
            )
        repro = real.minimize_real(program, eng, profile, outcome.signature, known)  # type: ignore[arg-type]
    print(
        f"{program.filename}: {len(program.steps)} -> {len(repro.program.steps)} steps "  # type: ignore[attr-defined]
        f"(rerun on {engine} at every step), signature kept: {repro.signature}",
        file=sys.stderr,
    )
    assert repro.real_attribution is not None
    print(f"attribution: {repro.real_attribution.describe()}", file=sys.stderr)
    if output:
        from harness.vocab.fsutil import write_atomic

        write_atomic(output, repro.text)
        print(f"wrote {output}", file=sys.stderr)
    else:
        print(repro.text, end="")
    return 0


def cmd_corpus(args: argparse.Namespace) -> int:
    from harness.fuzz import corpus

    if not args.dir.is_dir():
        raise HarnessError(f"{args.dir}: not a directory")
    if args.action == "export":
        if args.out is None and args.zip is None:
            raise HarnessError("corpus export needs --out DIR and/or --zip FILE")
        return corpus.export(args.dir, args.out, args.zip)
    engines = args.engines or (
        ["reference"] if default_engine() == "reference" else ["reference", "core"]
    )
    if args.action == "check":
        return corpus.check(args.dir, engines)
    return corpus.update(args.dir)
