"""The core-versus-reference table: what the benchmarks measured, the
speed-ups (reference time over core time per unit of work) and growth ratios.

bench/conftest.py keeps one :class:`Speed` per session, writes its figures
into every benchmark's ``extra_info`` before pytest-benchmark saves its JSON,
and prints :meth:`Speed.table` in the terminal summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    """One measured (suite, engine): its best round and what it did."""

    suite: str
    engine: str
    seconds: float
    units: int
    unit: str
    extra_info: dict[str, Any]

    @property
    def per_unit_ns(self) -> float:
        return self.seconds / self.units * 1e9


@dataclass
class Growth:
    """How the core's cost per unit grows: ``suite`` over ``base``."""

    label: str
    suite: str
    base: str
    engine: str
    target: str


@dataclass
class Speed:
    """Everything the benchmarks recorded in this session."""

    rows: dict[tuple[str, str], Row] = field(default_factory=dict)
    #: (suite, engine) -> seconds of a prefix to subtract from the best round
    derived: dict[tuple[str, str], float] = field(default_factory=dict)
    not_run: dict[tuple[str, str], str] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)
    growths: list[Growth] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def _suite(self, suite: str, target: str | None) -> None:
        if suite not in self.order:
            self.order.append(suite)
        if target:
            self.targets[suite] = target

    def record(
        self, benchmark: Any, suite: str, engine: str, units: int, unit: str,
        target: str | None = None,
    ) -> Row:  # fmt: skip
        """Record ``benchmark``'s best round as ``units`` units of work."""
        self._suite(suite, target)
        best = float(benchmark.stats.stats.min)
        row = Row(suite, engine, best, units, unit, benchmark.extra_info)
        self.rows[suite, engine] = row
        benchmark.extra_info.update(
            suite=suite, engine=engine, units=units, unit=unit, per_unit_ns=row.per_unit_ns
        )
        return row

    def record_difference(
        self, benchmark: Any, suite: str, engine: str, prefix_seconds: float, units: int,
        unit: str, target: str | None = None,
    ) -> None:  # fmt: skip
        """``benchmark`` ran a prefix and then ``units`` units of work; what is
        reported is its best round less ``prefix_seconds`` (the prefix alone)."""
        self._suite(suite, target)
        self.rows[suite, engine] = Row(
            suite, engine, float(benchmark.stats.stats.min), units, unit, benchmark.extra_info
        )
        self.derived[suite, engine] = prefix_seconds
        benchmark.extra_info.update(suite=suite, engine=engine, units=units, unit=unit)

    def skip(self, suite: str, engine: str, reason: str, target: str | None = None) -> None:
        self._suite(suite, target)
        self.not_run[suite, engine] = reason

    def growth(self, label: str, suite: str, base: str, engine: str, target: str) -> None:
        if all(g.label != label for g in self.growths):
            self.growths.append(Growth(label, suite, base, engine, target))

    # --- results --------------------------------------------------------------------

    def per_unit(self, suite: str, engine: str) -> float | None:
        row = self.rows.get((suite, engine))
        if row is None:
            return None
        if (suite, engine) in self.derived:
            return (row.seconds - self.derived[suite, engine]) / row.units * 1e9
        return row.per_unit_ns

    def speedup(self, suite: str) -> float | None:
        ref, core = self.per_unit(suite, "reference"), self.per_unit(suite, "core")
        return ref / core if ref and core and core > 0 else None

    def finish(self) -> None:
        """Write the derived figures into the benchmarks' extra_info."""
        for (suite, engine), row in self.rows.items():
            per = self.per_unit(suite, engine)
            if per is not None:
                row.extra_info["per_unit_ns"] = per
            if (s := self.speedup(suite)) is not None:
                row.extra_info["core_speedup"] = s
        for g in self.growths:
            top, base = self.per_unit(g.suite, g.engine), self.per_unit(g.base, g.engine)
            row = self.rows.get((g.suite, g.engine))
            if top and base and row is not None:
                row.extra_info[f"growth vs {g.base}"] = top / base

    def table(self) -> list[str]:
        head = f"{'suite':<46} {'unit':<8} {'reference':>11} {'core':>11} {'speed-up':>9}  target"
        lines = [head, "-" * len(head)]
        for suite in self.order:
            ref = self._cell(suite, "reference")
            core = self._cell(suite, "core")
            s = self.speedup(suite)
            unit = next((r.unit for (su, _), r in self.rows.items() if su == suite), "")
            ratio = f"{s:,.0f}x" if s is not None else "-"
            lines.append(
                f"{suite:<46} {unit:<8} {ref:>11} {core:>11} {ratio:>9}  "
                f"{self.targets.get(suite, '')}"
            )
        for g in self.growths:
            top, base = self.per_unit(g.suite, g.engine), self.per_unit(g.base, g.engine)
            value = f"{top / base:.2f}x" if top and base else "not measured"
            lines.append(f"{g.label}: {value}  (target {g.target})")
        for (suite, engine), reason in self.not_run.items():
            lines.append(f"not run: {suite} on {engine}: {reason}")
        lines += self.notes
        return lines

    def _cell(self, suite: str, engine: str) -> str:
        if (suite, engine) in self.not_run:
            return "not run"
        per = self.per_unit(suite, engine)
        if per is None:
            return "-"
        if per >= 1e6:
            return f"{per / 1e6:,.2f} ms"
        if per >= 1e3:
            return f"{per / 1e3:,.2f} us"
        return f"{per:,.1f} ns"
