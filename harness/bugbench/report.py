"""Summaries, the markdown table, the JSON record and the survival plot."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.bugbench.mutants import Mutant
from harness.bugbench.stats import km_curve, km_median, rmst
from harness.bugbench.trials import TOOLS, Trial
from harness.vocab.errors import HarnessError
from harness.vocab.fsutil import write_atomic

#: the plot's time axis is logarithmic from here (earlier kills show at it)
LOG_FLOOR = 0.05


@dataclass(frozen=True)
class Cell:
    """One tool on one mutant, over its trials."""

    kills: int
    trials: int
    median_s: float | None
    median_execs: float | None
    rmst_s: float


def cell(trials: Sequence[Trial], budget: float) -> Cell:
    times = [t.seconds for t in trials]
    events = [t.detected for t in trials]
    known = [t for t in trials if t.execs >= 0]
    med_x = km_median([float(t.execs) for t in known], [t.detected for t in known])
    return Cell(
        sum(events), len(trials), km_median(times, events), med_x, rmst(times, events, budget)
    )


@dataclass(frozen=True)
class ToolSummary:
    tool: str
    mutants: int
    mutants_killed: int  # in at least one trial
    mutants_always_killed: int
    trials: int
    trials_killed: int
    median_s: float | None  # pooled over every trial
    median_execs: float | None
    mean_rmst_s: float  # the mean over mutants of each mutant's RMST

    @property
    def kill_rate(self) -> float:
        return self.mutants_killed / self.mutants if self.mutants else 0.0


def summarize(
    trials: Sequence[Trial], mutants: Sequence[str], budget: float
) -> dict[str, ToolSummary]:
    out: dict[str, ToolSummary] = {}
    for tool in TOOLS:
        mine = [t for t in trials if t.tool == tool]
        if not mine:
            continue
        cells = [cell([t for t in mine if t.mutant == m], budget) for m in mutants]
        cells = [c for c in cells if c.trials]
        known = [t for t in mine if t.execs >= 0]
        out[tool] = ToolSummary(
            tool, len(cells), sum(c.kills > 0 for c in cells),
            sum(c.kills == c.trials for c in cells), len(mine), sum(t.detected for t in mine),
            km_median([t.seconds for t in mine], [t.detected for t in mine]),
            km_median([float(t.execs) for t in known], [t.detected for t in known]),
            sum(c.rmst_s for c in cells) / len(cells),
        )  # fmt: skip
    return out


def _num(x: float | None, fmt: str = "{:.2f}", missing: str = "—") -> str:
    return missing if x is None else fmt.format(x)


def markdown(
    mutants: Sequence[Mutant],
    trials: Sequence[Trial],
    params: dict[str, object],
    budget: float,
    controls: Sequence[Trial] = (),
) -> str:
    tools = [t for t in TOOLS if any(x.tool == t for x in trials)]
    lines = ["# Bug-finding benchmark: hand-written mutants", ""]
    lines += [f"- {k}: {v}" for k, v in params.items()]
    lines += ["", "Times are seconds from the trial process's start to the first divergence; "
              f"a miss is censored at the budget ({budget:g} s). Medians are Kaplan-Meier "
              f"(— when more than half the trials missed); RMST is the restricted mean time "
              f"to detection up to the budget (a miss counts as {budget:g} s).", ""]  # fmt: skip
    head = ["mutant", "rule", "profile"]
    for tool in tools:
        head += [f"{tool} kills", f"{tool} median s"]
        head += [f"{tool} median execs"] if tool.startswith("harness") else []
        head += [f"{tool} RMST s"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in mutants:
        row = [m.name, m.rule, m.profile]
        for tool in tools:
            c = cell([t for t in trials if t.tool == tool and t.mutant == m.name], budget)
            row += [f"{c.kills}/{c.trials}", _num(c.median_s)]
            row += [_num(c.median_execs, "{:.0f}")] if tool.startswith("harness") else []
            row += [_num(c.rmst_s)]
        lines.append("| " + " | ".join(row) + " |")
    summary = summarize(trials, [m.name for m in mutants], budget)
    base = summary.get("harness")
    lines += ["", "| tool | mutants killed | killed in every trial | trials killed | "
              "median s | median execs | mean RMST s | RMST / harness RMST |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for tool, s in summary.items():
        ratio = s.mean_rmst_s / base.mean_rmst_s if base and base.mean_rmst_s > 0 else None
        lines.append(
            f"| {tool} | {s.mutants_killed}/{s.mutants} ({100 * s.kill_rate:.0f}%) | "
            f"{s.mutants_always_killed}/{s.mutants} | {s.trials_killed}/{s.trials} | "
            f"{_num(s.median_s)} | {_num(s.median_execs, '{:.0f}')} | {s.mean_rmst_s:.2f} | "
            f"{_num(ratio, '{:.1f}×')} |"
        )
    reasons = {
        tool: Counter(t.reason for t in trials if t.tool == tool and t.detected and t.reason)
        for tool in tools
    }
    if any(reasons.values()):
        lines += [
            "",
            "Why the reference ran on each detecting input (harness.fuzz.policy: start = the "
            "initial corpus, new-step = a core step record not seen before, sample = the "
            "1-in-16 CRC sample, core = the core alone faulted):",
            "",
        ]
        for tool, got in reasons.items():
            if got:
                shown = ", ".join(f"{r} {n}" for r, n in sorted(got.items()))
                lines.append(f"- {tool}: {shown}")
    if controls:
        by_tool = [f"{tool} {sum(t.detected for t in controls if t.tool == tool)}/"
                   f"{sum(t.tool == tool for t in controls)}" for tool in tools]  # fmt: skip
        lines += ["", "False alarms on the unmodified core, built and run the same way "
                  f"(detections / trials): {', '.join(by_tool)}."]  # fmt: skip
    lines += ["", "![survival](survival.png)", "", "## Mutants", ""]
    lines += [f"- **{m.name}** ({m.rule}, {m.profile}): {m.description}" for m in mutants]
    return "\n".join(lines) + "\n"


def survival_png(trials: Sequence[Trial], budget: float, title: str) -> bytes:
    """Pooled Kaplan-Meier curves, one per tool: the share of (mutant, trial)
    pairs still undetected at each time."""
    try:
        import matplotlib
    except ImportError:
        raise HarnessError(
            "the survival plot needs matplotlib: `make` installs it, or pip install '.[bench]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for tool in TOOLS:
        mine = [t for t in trials if t.tool == tool]
        if not mine:
            continue
        xs, ys = [LOG_FLOOR], [1.0]
        for t, s in km_curve([x.seconds for x in mine], [x.detected for x in mine]):
            xs.append(max(t, LOG_FLOOR))
            ys.append(s)
        xs.append(budget)
        ys.append(ys[-1])
        ax.step(xs, ys, where="post", label=f"{tool} ({sum(x.detected for x in mine)}/{len(mine)})")
    ax.set_xscale("log")
    ax.set_xlim(LOG_FLOOR, budget)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("seconds from the trial's start (log scale)")
    ax.set_ylabel("share of mutant trials still undetected")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def write_results(
    out: Path, stem: str, text: str, record: dict[str, object], png: bytes | None
) -> list[Path]:
    paths = [out / f"{stem}.md", out / f"{stem}.json"]
    write_atomic(paths[0], text)
    write_atomic(paths[1], json.dumps(record, indent=1) + "\n")
    if png is not None:
        paths.append(out / "survival.png")
        write_atomic(paths[-1], png)
    return paths
