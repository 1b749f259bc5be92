"""``wsa-harness bench bugs`` and ``wsa-harness bench mutation``."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from harness.bugbench.mutants import Mutant, MutantError, core_sources, load_mutants
from harness.cli.common import HelpFormatter, examples, positive, positive_float
from harness.vocab.errors import HarnessError

#: the default --out: a folder in the current directory that .gitignore lists,
#: so a run never rewrites the committed results (bench/results: give it as --out)
DEFAULT_OUT = Path("bench-out")
CONTROL = "00-control"
OUT_HELP = "results folder (the committed ones are in bench/results: name it to rewrite them)"


def add_arguments(bench: argparse.ArgumentParser) -> None:
    sub = bench.add_subparsers(dest="bench_command", required=True, parser_class=type(bench))
    bugs = sub.add_parser(
        "bugs", help="time to detection of the hand-written mutants",
        description="Time to detection of the hand-written mutants, per tool.",
        formatter_class=HelpFormatter,
        epilog=examples(
            "wsa-harness bench bugs --trials 1 --budget 5 --mutants 01 --tools harness",
            "wsa-harness bench bugs --control --out bench/results   # rewrites the committed ones",
        ),
    )  # fmt: skip
    bugs.add_argument("--trials", type=positive, default=5, help="trials per mutant and tool")
    bugs.add_argument("--budget", type=positive_float, default=60.0, help="seconds per trial")
    bugs.add_argument("--runs", type=positive, help="bound each trial by programs, not --budget")
    bugs.add_argument(
        "--tools", default="harness,random,hypothesis", help="comma-separated, of: "
        "harness, harness-noseeds (the campaign from an empty corpus), random, hypothesis",
    )  # fmt: skip
    bugs.add_argument(
        "--mutants", default="", help="names or numbers, comma-separated (default: all)"
    )
    bugs.add_argument("--seed", type=int, default=1, help="trial i uses seed SEED + i")
    bugs.add_argument("--out", type=Path, default=DEFAULT_OUT, help=OUT_HELP)
    bugs.add_argument("--note", default="", help="a line for the results (e.g. machine load)")
    bugs.add_argument(
        "--control", action="store_true",
        help="also run the unmodified core, built the same way: any detection is a false alarm",
    )  # fmt: skip

    rep = sub.add_parser(
        "report", help="rewrite bugs.md and survival.png from bugs.json",
        description="Rewrite bugs.md and survival.png from the bugs.json in --out.",
        formatter_class=HelpFormatter,
        epilog=examples("wsa-harness bench report --out bench/results"),
    )  # fmt: skip
    rep.add_argument("--out", type=Path, default=DEFAULT_OUT, help=OUT_HELP)

    mut = sub.add_parser(
        "mutation", help="automatic mutation score of the harness campaign",
        description="Automatic mutation score of the harness campaign.",
        formatter_class=HelpFormatter,
        epilog=examples("wsa-harness bench mutation --sample 20 --budget 60"),
    )  # fmt: skip
    mut.add_argument("--sample", type=positive, default=20, help="mutants to draw")
    mut.add_argument("--budget", type=positive_float, default=60.0, help="seconds per trial")
    mut.add_argument("--trials", type=positive, default=1, help="trials per mutant")
    mut.add_argument("--seed", type=int, default=1, help="picks the sites; trial i: SEED + i")
    mut.add_argument("--out", type=Path, default=DEFAULT_OUT, help=OUT_HELP)
    mut.add_argument("--note", default="", help="a line for the results (e.g. machine load)")


def _say(text: str) -> None:
    print(text, flush=True)


def _machine(note: str) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = f"{platform.machine()}, {os.cpu_count()} cores, load {load:.1f} at start"
    return f"{text}; {note}" if note else text


def cmd_bench(args: argparse.Namespace) -> int:
    try:
        if args.bench_command == "bugs":
            return _bugs(args)
        if args.bench_command == "report":
            return _report(args)
        return _mutation(args)
    except MutantError as exc:
        raise HarnessError(str(exc)) from None


#: the module each tool's trials import
TOOL_MODULES = {"harness": "atheris", "harness-noseeds": "atheris", "hypothesis": "hypothesis"}


def _require_modules(tools: list[str]) -> None:
    import importlib.util

    missing = sorted(
        {TOOL_MODULES[t] for t in tools if t in TOOL_MODULES}
        - {m for m in set(TOOL_MODULES.values()) if importlib.util.find_spec(m) is not None}
    )
    if missing:
        raise HarnessError(
            f"--tools {','.join(tools)} needs {' and '.join(missing)}: "
            "pip install 'wsa-harness[bench]' (a checkout's `make` installs them)"
        )


def _build_all(mutants: list[Mutant]) -> dict[str, Path]:
    from harness.bugbench.build import build
    from harness.bugbench.mutants import mutant_sources

    base = core_sources()
    out: dict[str, Path] = {}
    for m in mutants:
        started = time.monotonic()
        b = build(mutant_sources(m, base))
        how = "cached" if b.cached else f"built in {time.monotonic() - started:.0f} s"
        if b.module is None:
            last = b.log.strip().splitlines()[-1:] or ["?"]
            raise HarnessError(f"{m.path}:1: the mutant does not compile: {last[0]}")
        _say(f"  {m.name}: {how}")
        out[m.name] = b.module
    return out


def _bugs(args: argparse.Namespace) -> int:
    from harness.bugbench.report import summarize
    from harness.bugbench.trials import TOOLS, Trial, run_trial

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    bad = [t for t in tools if t not in TOOLS]
    if bad or not tools:
        raise HarnessError(f"--tools: expected some of {', '.join(TOOLS)}, got {args.tools!r}")
    _require_modules(tools)
    mutants = load_mutants(only=[m.strip() for m in args.mutants.split(",") if m.strip()])
    started = time.monotonic()
    control = Mutant(CONTROL, "-", "documented", "the unmodified core", sources=core_sources())
    runs = mutants + ([control] if args.control else [])
    _say(f"building {len(runs)} core(s)")
    modules = _build_all(runs)
    budget = float(args.budget)
    trials: list[Trial] = []
    for m in runs:
        for tool in tools:
            for i in range(args.trials):
                t = run_trial(tool, m.name, modules[m.name], m.profile, args.seed + i, budget,
                              runs=args.runs)  # fmt: skip
                trials.append(t)
                found = f"detected at {t.seconds:.2f} s, {t.execs} execs ({t.kind}: {t.signature})"
                _say(f"{m.name} {tool} #{i + 1}: {found if t.detected else 'not detected'}")
    controls = [t for t in trials if t.mutant == CONTROL]
    trials = [t for t in trials if t.mutant != CONTROL]
    if args.runs:
        budget = max([t.seconds for t in trials] + [1e-3])
    params: dict[str, object] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "wsa-harness bench bugs " + shlex.join(sys.argv[3:]),
        "trials per mutant and tool": args.trials,
        "budget": f"{args.runs} programs per trial" if args.runs else f"{budget:g} s per trial",
        "seeds": f"{args.seed}..{args.seed + args.trials - 1} (trial i: libFuzzer -seed, "
        "random and Hypothesis seeds)",
        "machine": _machine(args.note),
        "wall time": f"{time.monotonic() - started:.0f} s",
    }
    record = {"params": params, "budget": budget, "trials_per": args.trials,
              "mutants": [{"name": m.name, "rule": m.rule, "profile": m.profile,
                           "description": m.description} for m in mutants],
              "trials": [t.to_json() for t in trials],
              "control": [t.to_json() for t in controls]}  # fmt: skip
    _write_bugs(args.out, record)
    summary = summarize(trials, [m.name for m in mutants], budget)
    for s in summary.values():
        _say(
            f"{s.tool}: {s.mutants_killed}/{s.mutants} mutants killed, "
            f"mean RMST {s.mean_rmst_s:.2f} s"
        )
    return 0


def _write_bugs(out: Path, record: dict[str, Any]) -> None:
    from harness.bugbench.report import markdown, survival_png, write_results
    from harness.bugbench.trials import Trial

    mutants = [Mutant(m["name"], m["rule"], m["profile"], m["description"])
               for m in record["mutants"]]  # fmt: skip
    trials = [Trial.from_json(t) for t in record["trials"]]
    controls = [Trial.from_json(t) for t in record.get("control", [])]
    budget = float(record["budget"])
    text = markdown(mutants, trials, record["params"], budget, controls)
    per = record.get("trials_per") or record["params"].get("trials per mutant and tool", "?")
    title = f"{len(mutants)} mutants × {per} trials"
    for path in write_results(out, "bugs", text, record, survival_png(trials, budget, title)):
        _say(f"wrote {path}")


def _report(args: argparse.Namespace) -> int:
    source = args.out / "bugs.json"
    try:
        record = json.loads(source.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{source}: cannot read it ({exc})") from None
    try:
        _write_bugs(args.out, record)
    except (KeyError, TypeError, ValueError) as exc:
        raise HarnessError(f"{source}: not a bench bugs record ({exc!r})") from None
    return 0


def _mutation(args: argparse.Namespace) -> int:
    from harness.bugbench.automut import sample
    from harness.bugbench.build import build
    from harness.bugbench.report import write_results
    from harness.bugbench.trials import Trial, run_trial

    started = time.monotonic()
    base = core_sources()
    chosen = sample(base, args.sample, args.seed)
    rows: list[dict[str, object]] = []
    for n, (site, mutant) in enumerate(chosen, 1):
        b = build(mutant.sources or {})
        row: dict[str, object] = {"site": site.name, "file": site.file, "line": site.line,
                                  "operator": site.operator, "original": site.original.strip(),
                                  "mutated": site.mutated.strip()}  # fmt: skip
        if b.module is None:
            row["result"] = "no-build"
            _say(f"[{n}/{len(chosen)}] {site.name}: does not compile")
            rows.append(row)
            continue
        trials: list[Trial] = []
        try:
            for i in range(args.trials):
                trials.append(run_trial("harness", mutant.name, b.module, "documented",
                                        args.seed + i, float(args.budget)))  # fmt: skip
                if trials[-1].detected:
                    break
        except RuntimeError as exc:  # the trial, not the mutant, failed: list it apart
            row["result"] = "error"
            row["signature"] = str(exc).splitlines()[0]
            _say(f"[{n}/{len(chosen)}] {site.name}: trial error: {row['signature']}")
            rows.append(row)
            continue
        hit = next((t for t in trials if t.detected), None)
        row["result"] = "killed" if hit else "survived"
        row["seconds"] = hit.seconds if hit else None
        row["kind"] = hit.kind if hit else ""
        row["signature"] = hit.signature if hit else ""
        rows.append(row)
        _say(f"[{n}/{len(chosen)}] {site.name}: {row['result']}"
             + (f" at {hit.seconds:.2f} s ({hit.kind})" if hit else ""))  # fmt: skip
    text, params = _mutation_markdown(rows, args, time.monotonic() - started)
    for path in write_results(
        args.out, "mutation", text, {"params": params, "mutants": rows}, None
    ):
        _say(f"wrote {path}")
    return 0


def _mutation_markdown(
    rows: list[dict[str, object]], args: argparse.Namespace, wall: float
) -> tuple[str, dict[str, object]]:
    built = [r for r in rows if r["result"] in ("killed", "survived")]
    errors = [r for r in rows if r["result"] == "error"]
    killed = [r for r in built if r["result"] == "killed"]
    survivors = [r for r in built if r["result"] == "survived"]
    share = 100 * len(killed) / len(built) if built else 0.0
    params: dict[str, object] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "wsa-harness bench mutation " + shlex.join(sys.argv[3:]),
        "sampled": len(rows), "site seed": args.seed,
        "budget": f"{args.budget:g} s per trial, up to {args.trials} trial(s)",
        "machine": _machine(args.note), "wall time": f"{wall:.0f} s",
    }  # fmt: skip
    lines = ["# Automatic mutation score of the harness campaign", ""]
    lines += [f"- {k}: {v}" for k, v in params.items()]
    no_build = sum(r["result"] == "no-build" for r in rows)
    lines += ["", f"**{len(killed)}/{len(built)} built mutants killed ({share:.0f}%)**; "
              f"{no_build} did not compile and {len(errors)} had a trial error (not counted).", "",
              "| site | operator | result | seconds | original | mutated |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        secs = r.get("seconds")
        lines.append(
            f"| {r['site']} | {r['operator']} | {r['result']} | "
            f"{'' if secs is None else f'{secs:.2f}'} | `{r['original']}` | `{r['mutated']}` |"
        )
    lines += ["", "## Survivors (judge each: equivalent or a gap)", ""]
    lines += [f"- `{r['file']}:{r['line']}` ({r['operator']}): `{r['original']}` → `{r['mutated']}`"
              for r in survivors] or ["- none"]  # fmt: skip
    return "\n".join(lines) + "\n", params
