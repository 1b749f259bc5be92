"""``wsa-harness fuzz``, ``minimize`` and ``corpus``: campaigns, reproducers
and corpus folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.common import list_arg, load_program, positive, sides_from_args
from harness.engines import CORE_DIR_ENV, ENGINES, default_engine
from harness.vocab.errors import HarnessError
from harness.vocab.profiles import PROFILES

REPO_SEEDS = Path(__file__).resolve().parents[2] / "corpus" / "seeds"


FUZZ_EPILOG = """\
exit status:
  0    nothing unexpected was found
  1    an unexpected finding: between two engines every finding (a divergence, an
       invariant, a crash, a hang, a malformed trace, runaway work); between two
       profiles one that the known switches do not explain, or any with --strict
  2    a usage or input error
  130  interrupted (Ctrl-C, SIGTERM): the findings so far are saved

findings are grouped by root cause in OUT/causes.json, one reproducer each in
OUT/reproducers/.

example:
  wsa-harness fuzz --time 60 --engines core,reference --profiles any
"""


def add_fuzz(fuzz: argparse.ArgumentParser) -> None:
    fuzz.formatter_class = argparse.RawDescriptionHelpFormatter
    fuzz.epilog = FUZZ_EPILOG
    budget = fuzz.add_mutually_exclusive_group()
    budget.add_argument("--time", type=positive, help="seconds to fuzz (default 60)")
    budget.add_argument("--runs", type=positive, help="number of executions instead of a time")
    fuzz.add_argument(
        "--engines", type=list_arg(ENGINES, "engines"), default=None, help="default: core,reference"
    )
    fuzz.add_argument(
        "--profiles",
        type=list_arg((*PROFILES, "any"), "profiles"),
        default=None,
        help="default: documented; 'any': each input under the profile its first byte names",
    )
    fuzz.add_argument("--jobs", type=positive, default=1, help="parallel workers (fork mode)")
    fuzz.add_argument("--corpus", type=Path, help="corpus folder (default OUT/corpus)")
    fuzz.add_argument("--out", type=Path, default=Path("fuzz-out"), help="output folder")
    fuzz.add_argument("--max-steps", type=positive, default=None, help="steps per program")
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
        help="seconds one input may take before it is a hang finding (default 10)",
    )
    fuzz.add_argument("libfuzzer", nargs="*", help="libFuzzer flags, after --")


def add_minimize(mini: argparse.ArgumentParser) -> None:
    mini.add_argument("file", metavar="FILE")
    mini.add_argument("--engines", type=list_arg(ENGINES, "engines"), default=None)
    mini.add_argument("--profiles", type=list_arg(tuple(PROFILES), "profiles"), default=None)
    mini.add_argument("-o", "--output", type=Path, help="write the reproducer here")


def add_corpus(corpus: argparse.ArgumentParser) -> None:
    corpus.add_argument("action", choices=("check", "update", "export"))
    corpus.add_argument("dir", type=Path, metavar="DIR")
    corpus.add_argument(
        "--engines", type=list_arg(ENGINES, "engines"), default=None, help="default: reference,core"
    )
    corpus.add_argument("--out", type=Path, help="export: the folder for the binary seeds")
    corpus.add_argument("--zip", type=Path, help="export: also write this seed-corpus zip")


def _sides(engines: list[str] | None, profiles: list[str] | None) -> tuple[object, object]:
    from harness.fuzz.target import side_profile
    from harness.oracle.diff import Side

    (ea, pa), (eb, pb) = sides_from_args(engines, profiles, "documented")
    return Side(ea, side_profile(pa)), Side(eb, side_profile(pb))


def cmd_fuzz(args: argparse.Namespace) -> int:
    from harness.fuzz.campaign import Campaign, Config
    from harness.fuzz.target import DEFAULT_MAX_STEPS

    try:
        import atheris  # noqa: F401
    except ImportError:
        raise HarnessError(
            "atheris is not installed: `pip install atheris` (or `make fuzz`)"
        ) from None
    if args.profiles and "any" in args.profiles and len(args.profiles) > 1:
        raise HarnessError("--profiles any compares engines under one profile: give it alone")
    engines = args.engines or (
        [default_engine(), "reference"]
        if not args.profiles or len(args.profiles) == 1
        else ["reference"]
    )
    if engines == ["reference", "reference"]:
        engines = ["reference"]
    a, b = _sides(engines, args.profiles)
    time_budget = None if args.runs else (args.time or 60)
    cfg = Config(
        sides=(a, b),  # type: ignore[arg-type]
        out=args.out,
        corpus=args.corpus,
        time=time_budget,
        runs=args.runs,
        jobs=args.jobs,
        max_steps=args.max_steps or DEFAULT_MAX_STEPS,
        seeds=REPO_SEEDS if REPO_SEEDS.is_dir() else None,
        extra=[f for f in args.libfuzzer],
        strict=args.strict,
        timeout=args.timeout,
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
