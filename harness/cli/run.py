"""``wsa-harness run``, ``rules`` and ``diff``: programs on one engine, the
rule table, and programs on two sides."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    REAL_ENGINES,
    list_arg,
    load_all,
    positive,
    profile_arg,
    real_side,
    sides_from_args,
)
from harness.engines import ENGINES, default_engine
from harness.oracle.faults import EngineFault
from harness.vocab.errors import HarnessError
from harness.vocab.profiles import PROFILES, get_profile


def add_run(run: argparse.ArgumentParser) -> None:
    run.add_argument("files", nargs="+", metavar="FILE")
    run.add_argument(
        "--engine", choices=ENGINES, default=None,
        help="the engine (default: core; reference when WSA_HARNESS_NO_CORE=1)",
    )  # fmt: skip
    run.add_argument("--profile", type=profile_arg, help="override the files' @profile")
    run.add_argument("--check", action="store_true", help="compare with the expectations")
    run.add_argument("--update", action="store_true", help="rewrite the expectations")
    run.add_argument(
        "--explain", action="store_true",
        help="show the rules behind each step (always the reference model's: the core "
        "records no rules)",
    )  # fmt: skip
    run.add_argument("--invariants", action="store_true", help="check invariants every step")
    _timeout_arg(run)


#: --explain always runs the reference model: only it records rule ids (engines.md)
EXPLAIN_NOTE = "--explain runs the reference model; the core records no rules"


def add_rules(rules: argparse.ArgumentParser) -> None:
    rules.add_argument(
        "--coverage", metavar="DIR", help="which .wsa files in DIR exercise each rule (exit 1 "
        "if a rule has none)"
    )  # fmt: skip


def add_diff(diff: argparse.ArgumentParser) -> None:
    diff.add_argument("files", nargs="+", metavar="FILE")
    diff.add_argument(
        "--engines", type=list_arg((*ENGINES, *REAL_ENGINES), "engines"), default=None,
        help="one or two engines (default: reference,core; reference alone for two profiles); "
        "a real engine (linux, wine) is compared with the reference under its own profile "
        "unless --profiles names one",
    )  # fmt: skip
    diff.add_argument(
        "--profiles", type=list_arg(tuple(PROFILES), "profiles"), default=None,
        help="one or two profiles (default: each file's @profile)",
    )  # fmt: skip
    _timeout_arg(diff)


def _timeout_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=positive,
        default=10,
        help="seconds an engine may take on one program; each run is in a child process, "
        "so a hang or a crash is reported, not suffered",
    )


def cmd_run(args: argparse.Namespace) -> int:
    from harness.api import run
    from harness.lang.render import format_program, update_text, with_expectations
    from harness.oracle.run import NOTHING_CHECKED, check, nothing_checked
    from harness.vocab.fsutil import write_atomic

    engine = args.engine or default_engine()
    if args.explain and args.engine not in (None, "reference"):
        print(f"wsa-harness run: {EXPLAIN_NOTE} (--engine {args.engine} applies to --check, "
              "--update and --invariants)", file=sys.stderr)  # fmt: skip
    profile = get_profile(args.profile) if args.profile else None
    programs, failures = load_all(args.files)
    for program in programs:
        name = program.filename  # type: ignore[attr-defined]
        if args.explain:
            _print_explained(program, profile)
        if args.invariants:
            failures += _report_invariants(program, profile, engine)
        try:
            result = run(program, engine, profile, args.timeout)  # type: ignore[arg-type]
        except EngineFault as exc:
            print(f"{name}: {exc}")
            failures += 1
            continue
        if args.check and nothing_checked(program):  # type: ignore[arg-type]
            print(f"{name}: {NOTHING_CHECKED}; `wsa-harness run --update` fills them in")
            failures += 1
        elif args.check:
            mismatches = check(program, result)  # type: ignore[arg-type]
            for m in mismatches:
                print(m.render(name))
            print(f"{name}: {'ok' if not mismatches else f'{len(mismatches)} mismatched step(s)'}")
            failures += bool(mismatches)
        filled = with_expectations(program, result)  # type: ignore[arg-type]
        if args.update:
            try:
                text = update_text(program, filled)  # type: ignore[arg-type]
            except HarnessError as exc:
                print(exc, file=sys.stderr)
                failures += 1
                continue
            write_atomic(name, text)
            print(f"{name}: updated")
        elif not (args.check or args.explain or args.invariants):
            if len(programs) > 1:
                print(f"### {name}")
            print(format_program(filled), end="")
    return EXIT_FAIL if failures else EXIT_OK


def _print_explained(program: object, profile: object) -> None:
    from harness.lang.render import format_step
    from harness.oracle.run import explain
    from harness.vocab.rules import describe

    print(f"### {program.filename} (reference model)")  # type: ignore[attr-defined]
    for s in explain(program, profile):  # type: ignore[arg-type]
        print(f"{format_step(s.step):32} -> {s.result}")
        print(f"      rules: {' '.join(s.result_rules) or '-'}")
        for text, rule in s.events:
            print(f"  ! {text:40} [{rule}]")
        for rule in s.result_rules:
            print(f"      {describe(rule)}")
        for v in s.invariant_violations:
            print(f"      INVARIANT VIOLATED: {v}")


def _report_invariants(program: object, profile: object, engine: str) -> int:
    from harness.engines import load_engine
    from harness.oracle.run import stepwise

    prog = program
    module = load_engine(engine)
    eng = module.Engine(profile or prog.profile, prog.limits)  # type: ignore[attr-defined]
    bad = 0
    for step, _ in stepwise(prog, eng):  # type: ignore[arg-type]
        for v in eng.check_invariants():
            print(f"{prog.filename}:{step.line}: invariant {v}")  # type: ignore[attr-defined]
            bad += 1
    if not bad:
        print(f"{prog.filename}: invariants hold after every step ({engine})")  # type: ignore[attr-defined]
    return bool(bad)


def cmd_rules(args: argparse.Namespace) -> int:
    from harness.vocab.rules import RULES

    if not args.coverage:
        for r in RULES.values():
            print(f"{r.id:8} {r.section:28} {r.source:9} {r.text}")
        return EXIT_OK
    from harness.oracle.run import rules_fired

    folder = Path(args.coverage)
    if not folder.is_dir():
        raise HarnessError(f"{folder}: not a directory")
    files = sorted(folder.glob("*.wsa"))
    if not files:
        raise HarnessError(f"{folder}: no .wsa files")
    programs, failures = load_all([str(f) for f in files])
    by_rule: dict[str, list[str]] = {rid: [] for rid in RULES}
    for program in programs:
        for rid in sorted(rules_fired(program)):  # type: ignore[arg-type]
            by_rule.setdefault(rid, []).append(Path(program.filename).name)  # type: ignore[attr-defined]
    uncovered = [rid for rid, names in by_rule.items() if not names]
    for rid, names in by_rule.items():
        shown = ", ".join(names[:4]) + (f" (+{len(names) - 4} more)" if len(names) > 4 else "")
        print(f"{rid:8} {len(names):3}  {shown or 'UNCOVERED'}")
    print(f"{len(by_rule) - len(uncovered)}/{len(by_rule)} rules covered by {len(programs)} files")
    if uncovered:
        print(f"uncovered: {' '.join(uncovered)}")
    return EXIT_FAIL if uncovered or failures else EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from harness.api import diff

    programs, failures = load_all(args.files)
    real = real_side(args.engines, args.profiles)
    if real is not None:
        return _diff_real(programs, *real, failures)
    diverged = 0
    for program in programs:
        (ea, pa), (eb, pb) = sides_from_args(args.engines, args.profiles, program.profile.name)  # type: ignore[attr-defined]
        name = program.filename  # type: ignore[attr-defined]
        try:
            d = diff(program, (ea, pa), (eb, pb), args.timeout)  # type: ignore[arg-type]
        except EngineFault as exc:
            diverged += 1
            print(f"{name}: FAULT {exc}")
            continue
        if d is None:
            print(f"{name}: agree [{ea}/{pa}|{eb}/{pb}]")
        else:
            diverged += 1
            print(f"{name}: DIVERGE")
            print(d.render())
    print(f"{len(programs)} program(s), {diverged} divergent, {failures} unreadable")
    return EXIT_FAIL if diverged or failures else EXIT_OK


def _diff_real(programs: list[object], engine: str, profile_name: str, failures: int) -> int:
    """Each program on a real engine and on the model: the first difference,
    attributed (explained by a switch, known, or new)."""
    from harness.fuzz import real

    profile = get_profile(profile_name)
    known = real.load_known_for(engine)
    diverged = 0
    with real.opened(engine) as eng:
        for program in programs:
            name = program.filename  # type: ignore[attr-defined]
            outcome = real.compare(program, eng, profile, known)  # type: ignore[arg-type]
            label = f"[{outcome.label}]"
            if not outcome.differs:
                print(f"{name}: {outcome.verdict.summary()} {label}")
                continue
            attribution = real.attribute(outcome, eng)
            unexpected = not real.expected(attribution, outcome)
            diverged += unexpected
            print(f"{name}: {'DIVERGE' if unexpected else 'expected'} {label}")
            print(outcome.render())
            print(f"  signature: {outcome.signature}")
            print(f"  attribution: {attribution.describe()}")
    print(f"{len(programs)} program(s), {diverged} unexpectedly divergent, {failures} unreadable")
    return EXIT_FAIL if diverged or failures else EXIT_OK
