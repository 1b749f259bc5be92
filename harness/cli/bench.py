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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.bugbench.mutants import Mutant, MutantError, core_sources, load_mutants
from harness.cli.common import HelpFormatter, examples, positive, positive_float
from harness.vocab.errors import HarnessError

#: the default --out: a folder in the current directory that .gitignore lists,
#: so a run never rewrites the committed results (bench/results: give it as --out)
DEFAULT_OUT = Path("bench-out")
CONTROL = "00-control"
NATIVE_HELP = (
    "build the campaign tools' cores without clang's native coverage (by default they use "
    "it when clang is installed, as make fuzz does)"
)
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
        "--tools", default="harness,harness-every,random,hypothesis", help="comma-separated: "
        "harness (core-led campaign), harness-every (--reference every), "
        "harness-noseeds, harness-every-noseeds (empty corpus), random, hypothesis",
    )  # fmt: skip
    bugs.add_argument("--no-native", action="store_true", help=NATIVE_HELP)
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
    mut.add_argument(
        "--tools", default="harness", help="comma-separated campaign tools, of: harness, "
        "harness-every, harness-noseeds, harness-every-noseeds",
    )  # fmt: skip
    mut.add_argument("--no-native", action="store_true", help=NATIVE_HELP)
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
TOOL_MODULES = {
    "harness": "atheris", "harness-every": "atheris", "harness-noseeds": "atheris",
    "harness-every-noseeds": "atheris", "hypothesis": "hypothesis",
}  # fmt: skip


def _native(args: argparse.Namespace, tools: list[str]) -> bool:
    """Whether the campaign tools get native-coverage cores: clang is there."""
    import shutil

    from harness.bugbench.trials import CAMPAIGNS

    return not args.no_native and any(t in CAMPAIGNS for t in tools) and bool(shutil.which("clang"))


def _tools(text: str, known: Iterable[str]) -> list[str]:
    """The tools ``--tools`` names, each one of ``known``, whose modules import."""
    names = tuple(known)
    tools = [t.strip() for t in text.split(",") if t.strip()]
    if not tools or any(t not in names for t in tools):
        raise HarnessError(f"--tools: expected some of {', '.join(names)}, got {text!r}")
    _require_modules(tools)
    return tools


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


def _build_all(mutants: list[Mutant], native: bool = False) -> dict[str, Path]:
    from harness.bugbench.build import build
    from harness.bugbench.mutants import mutant_sources

    base = core_sources()
    out: dict[str, Path] = {}
    for m in mutants:
        started = time.monotonic()
        b = build(mutant_sources(m, base), native=native)
        how = "cached" if b.cached else f"built in {time.monotonic() - started:.0f} s"
        if b.module is None:
            last = b.log.strip().splitlines()[-1:] or ["?"]
            raise HarnessError(f"{m.path}:1: the mutant does not compile: {last[0]}")
        _say(f"  {m.name}{' (native coverage)' if native else ''}: {how}")
        out[m.name] = b.module
    return out


def _bugs(args: argparse.Namespace) -> int:
    from harness.bugbench.report import summarize
    from harness.bugbench.trials import CAMPAIGNS, TOOLS, Trial, run_trial

    tools = _tools(args.tools, TOOLS)
    mutants = load_mutants(only=[m.strip() for m in args.mutants.split(",") if m.strip()])
    started = time.monotonic()
    control = Mutant(CONTROL, "-", "documented", "the unmodified core", sources=core_sources())
    runs = mutants + ([control] if args.control else [])
    native = _native(args, tools)
    _say(f"building {len(runs)} core(s)")
    plain = _build_all(runs) if any(t not in CAMPAIGNS for t in tools) or not native else {}
    natives = _build_all(runs, native=True) if native else {}
    budget = float(args.budget)
    trials: list[Trial] = []
    for m in runs:
        for tool in tools:
            use_native = native and tool in CAMPAIGNS
            module = (natives if use_native else plain)[m.name]
            for i in range(args.trials):
                t = run_trial(tool, m.name, module, m.profile, args.seed + i, budget,
                              runs=args.runs, native=use_native)  # fmt: skip
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
        "campaign cores": "native coverage (clang -fsanitize=fuzzer-no-link)"
        if native else "gcc, no native coverage",
        "machine": _machine(args.note),
        "wall time": f"{time.monotonic() - started:.0f} s",
    }  # fmt: skip
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
    from harness.bugbench.trials import CAMPAIGNS

    tools = _tools(args.tools, CAMPAIGNS)
    native = _native(args, tools)
    started = time.monotonic()
    base = core_sources()
    chosen = sample(base, args.sample, args.seed)
    rows: list[dict[str, object]] = []
    for n, (site, mutant) in enumerate(chosen, 1):
        b = build(mutant.sources or {}, native=native)
        row: dict[str, object] = {"site": site.name, "file": site.file, "line": site.line,
                                  "operator": site.operator, "original": site.original.strip(),
                                  "mutated": site.mutated.strip()}  # fmt: skip
        rows.append(row)
        if b.module is None:
            row["result"] = "no-build"
            _say(f"[{n}/{len(chosen)}] {site.name}: does not compile")
            continue
        per_tool: dict[str, dict[str, object]] = {}
        for tool in tools:
            per_tool[tool] = _mutation_trials(args, tool, mutant.name, b.module, native)
            shown = per_tool[tool]
            _say(f"[{n}/{len(chosen)}] {site.name} {tool}: {shown['result']}"
                 + (f" at {shown['seconds']:.2f} s ({shown['kind']})"
                    if shown["result"] == "killed" else ""))  # fmt: skip
        row["tools"] = per_tool
        row.update(per_tool[tools[0]])  # the first tool's, for one-tool readers
    text, params = _mutation_markdown(rows, args, tools, time.monotonic() - started, native)
    for path in write_results(
        args.out, "mutation", text, {"params": params, "mutants": rows}, None
    ):
        _say(f"wrote {path}")
    return 0


def _mutation_trials(
    args: argparse.Namespace, tool: str, name: str, module: Path, native: bool
) -> dict[str, object]:
    """Up to ``--trials`` trials of one tool, to the first kill."""
    from harness.bugbench.trials import Trial, run_trial

    trials: list[Trial] = []
    try:
        for i in range(args.trials):
            trials.append(run_trial(tool, name, module, "documented", args.seed + i,
                                    float(args.budget), native=native))  # fmt: skip
            if trials[-1].detected:
                break
    except RuntimeError as exc:  # the trial, not the mutant, failed: list it apart
        return {"result": "error", "seconds": None, "kind": "",
                "signature": str(exc).splitlines()[0]}  # fmt: skip
    hit = next((t for t in trials if t.detected), None)
    return {"result": "killed" if hit else "survived", "seconds": hit.seconds if hit else None,
            "kind": hit.kind if hit else "", "signature": hit.signature if hit else ""}  # fmt: skip


def _mutation_markdown(
    rows: list[dict[str, object]], args: argparse.Namespace, tools: list[str], wall: float,
    native: bool,
) -> tuple[str, dict[str, object]]:  # fmt: skip
    def results(tool: str) -> list[tuple[dict[str, object], dict[str, object]]]:
        return [(r, r["tools"][tool]) for r in rows if isinstance(r.get("tools"), dict)]  # type: ignore[index]

    params: dict[str, object] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "wsa-harness bench mutation " + shlex.join(sys.argv[3:]),
        "sampled": len(rows), "site seed": args.seed,
        "budget": f"{args.budget:g} s per trial, up to {args.trials} trial(s)",
        "tools": ", ".join(tools),
        "campaign cores": "native coverage (clang -fsanitize=fuzzer-no-link)"
        if native else "gcc, no native coverage",
        "machine": _machine(args.note), "wall time": f"{wall:.0f} s",
    }  # fmt: skip
    lines = ["# Automatic mutation score of the harness campaign", ""]
    lines += [f"- {k}: {v}" for k, v in params.items()]
    no_build = sum(r.get("result") == "no-build" for r in rows)
    lines.append("")
    for tool in tools:
        got = results(tool)
        built = [x for _, x in got if x["result"] in ("killed", "survived")]
        killed = [x for x in built if x["result"] == "killed"]
        errors = [x for _, x in got if x["result"] == "error"]
        share = 100 * len(killed) / len(built) if built else 0.0
        lines.append(
            f"- **{tool}: {len(killed)}/{len(built)} built mutants killed ({share:.0f}%)**; "
            f"{len(errors)} had a trial error (not counted)"
        )
    lines += ["", f"{no_build} mutant(s) did not compile.", ""]
    head = " | ".join(f"{t} | {t} s" for t in tools)
    lines += [f"| site | operator | {head} | original | mutated |",
              "|---|---|" + "---|---|" * len(tools) + "---|---|"]  # fmt: skip
    for r in rows:
        cells = []
        for tool in tools:
            x = r["tools"][tool] if isinstance(r.get("tools"), dict) else {"result": r["result"]}  # type: ignore[index]
            secs = x.get("seconds")
            cells.append(f"{x['result']} | {'' if secs is None else f'{secs:.2f}'}")
        lines.append(
            f"| {r['site']} | {r['operator']} | {' | '.join(cells)} | "
            f"`{r['original']}` | `{r['mutated']}` |"
        )
    lines += ["", "## Survivors (judge each: equivalent or a gap)", ""]
    survivors = [(r, t) for t in tools for r, x in results(t) if x["result"] == "survived"]
    lines += [f"- {t}: `{r['file']}:{r['line']}` ({r['operator']}): `{r['original']}` → "
              f"`{r['mutated']}`" for r, t in survivors] or ["- none"]  # fmt: skip
    return "\n".join(lines) + "\n", params
