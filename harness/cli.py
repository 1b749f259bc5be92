"""The ``wsa-harness`` command (also ``python -m harness``).

Every error the harness reports on purpose is printed as one precise line
(``FILE:LINE: message`` for program text) with a non-zero exit status; no
traceback reaches the user.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from harness import __version__
from harness.engines import ENGINES, default_engine
from harness.errors import HarnessError, ProgramError
from harness.profiles import PROFILES, get_profile

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(HarnessError):
    """Bad command-line arguments."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _profile_arg(value: str) -> str:
    if value not in PROFILES:
        raise argparse.ArgumentTypeError(
            f"unknown profile {value!r} (known: {', '.join(PROFILES)})"
        )
    return value


def _list_arg(known: Sequence[str], what: str) -> Callable[[str], list[str]]:
    def parse(value: str) -> list[str]:
        items = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in items if v not in known]
        if bad or not 1 <= len(items) <= 2:
            raise argparse.ArgumentTypeError(
                f"expected one or two {what} separated by a comma from: {', '.join(known)}"
            )
        return items

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="wsa-harness", description="Winsock closesocket conformance harness.")
    p.add_argument("--version", action="version", version=f"wsa-harness {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run programs and print, check or update their traces")
    run.add_argument("files", nargs="+", metavar="FILE")
    run.add_argument("--engine", choices=ENGINES, default=None)
    run.add_argument("--profile", type=_profile_arg, help="override the files' @profile")
    run.add_argument("--check", action="store_true", help="compare with the expectations")
    run.add_argument("--update", action="store_true", help="rewrite the expectations")
    run.add_argument("--explain", action="store_true", help="show the rules behind each step")
    run.add_argument("--invariants", action="store_true", help="check invariants every step")

    rules = sub.add_parser("rules", help="list the rules, optionally with corpus coverage")
    rules.add_argument("--coverage", metavar="DIR", help="which .wsa files exercise each rule")

    diff = sub.add_parser("diff", help="run programs on two sides and report divergences")
    diff.add_argument("files", nargs="+", metavar="FILE")
    diff.add_argument("--engines", type=_list_arg(ENGINES, "engines"), default=None)
    diff.add_argument("--profiles", type=_list_arg(tuple(PROFILES), "profiles"), default=None)

    from harness import cli_more

    cli_more.add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        if argv is not None and any("\x00" in a for a in argv):
            # (a real command line cannot hold one; main() called with a list can)
            raise UsageError("wsa-harness: an argument holds a NUL character")
        args = build_parser().parse_args(argv)
        from harness import cli_more

        handler = COMMANDS.get(args.command) or cli_more.COMMANDS[args.command]
        return handler(args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except ProgramError as exc:  # already FILE:LINE: message
        print(exc, file=sys.stderr)
        return EXIT_FAIL
    except HarnessError as exc:
        print(f"wsa-harness: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("wsa-harness: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_FAIL
    except OSError as exc:  # an output file or folder that cannot be written
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"wsa-harness: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAIL


def load_program(path: str) -> object:
    """Parse a file; file-system problems become HarnessErrors."""
    from harness.api import read_program

    return read_program(path)


def _load_all(files: Sequence[str]) -> tuple[list[object], int]:
    programs, failures = [], 0
    for f in files:
        try:
            programs.append(load_program(f))
        except HarnessError as exc:
            print(exc, file=sys.stderr)
            failures += 1
    return programs, failures


def cmd_run(args: argparse.Namespace) -> int:
    from harness.api import run
    from harness.fsutil import write_atomic
    from harness.render import format_program, with_expectations
    from harness.runner import check

    engine = args.engine or default_engine()
    profile = get_profile(args.profile) if args.profile else None
    programs, failures = _load_all(args.files)
    for program in programs:
        name = program.filename  # type: ignore[attr-defined]
        if args.explain:
            _print_explained(program, profile)
        if args.invariants:
            failures += _report_invariants(program, profile, engine)
        result = run(program, engine, profile)  # type: ignore[arg-type]
        if args.check:
            mismatches = check(program, result)  # type: ignore[arg-type]
            for m in mismatches:
                print(m.render(name))
            print(f"{name}: {'ok' if not mismatches else f'{len(mismatches)} mismatched step(s)'}")
            failures += bool(mismatches)
        filled = with_expectations(program, result)  # type: ignore[arg-type]
        if args.update:
            write_atomic(name, format_program(filled))
            print(f"{name}: updated")
        elif not (args.check or args.explain or args.invariants):
            if len(programs) > 1:
                print(f"### {name}")
            print(format_program(filled), end="")
    return EXIT_FAIL if failures else EXIT_OK


def _print_explained(program: object, profile: object) -> None:
    from harness.render import format_step
    from harness.rules import describe
    from harness.runner import explain

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
    from harness.runner import stepwise

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
    from harness.rules import RULES

    if not args.coverage:
        for r in RULES.values():
            print(f"{r.id:8} {r.section:28} {r.source:9} {r.text}")
        return EXIT_OK
    from harness.runner import rules_fired

    folder = Path(args.coverage)
    if not folder.is_dir():
        raise HarnessError(f"{folder}: not a directory")
    files = sorted(folder.glob("*.wsa"))
    if not files:
        raise HarnessError(f"{folder}: no .wsa files")
    programs, failures = _load_all([str(f) for f in files])
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


def sides_from_args(
    engines: list[str] | None, profiles: list[str] | None, header_profile: str
) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two (engine, profile) sides from ``--engines`` and ``--profiles``."""
    engines = engines or (
        ["reference"] if profiles and len(profiles) == 2 else ["reference", "core"]
    )
    profiles = profiles or [header_profile]
    if len(engines) == 1 and len(profiles) == 1:
        raise UsageError("diff needs two sides: give two engines, two profiles, or both")
    e = engines * 2 if len(engines) == 1 else engines
    p = profiles * 2 if len(profiles) == 1 else profiles
    return (e[0], p[0]), (e[1], p[1])


def cmd_diff(args: argparse.Namespace) -> int:
    from harness.api import diff

    programs, failures = _load_all(args.files)
    diverged = 0
    for program in programs:
        (ea, pa), (eb, pb) = sides_from_args(args.engines, args.profiles, program.profile.name)  # type: ignore[attr-defined]
        d = diff(program, (ea, pa), (eb, pb))  # type: ignore[arg-type]
        name = program.filename  # type: ignore[attr-defined]
        if d is None:
            print(f"{name}: agree [{ea}/{pa}|{eb}/{pb}]")
        else:
            diverged += 1
            print(f"{name}: DIVERGE")
            print(d.render())
    print(f"{len(programs)} program(s), {diverged} divergent, {failures} unreadable")
    return EXIT_FAIL if diverged or failures else EXIT_OK


COMMANDS = {"run": cmd_run, "rules": cmd_rules, "diff": cmd_diff}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
