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
    """How an engine's cost per unit grows: ``suite`` over ``base``."""

    label: str
    suite: str
    base: str
    engine: str
    target: str
    #: a suite whose cost per unit is taken off both first (a fixed overhead)
    minus: str | None = None

    def value(self, speed: Speed) -> float | None:
        top, base = speed.per_unit(self.suite, self.engine), speed.per_unit(self.base, self.engine)
        if top is None or base is None:
            return None
        if self.minus is not None:
            off = speed.per_unit(self.minus, self.engine)
            if off is None:
                return None
            top, base = top - off, base - off
        return top / base if top > 0 and base > 0 else None


@dataclass
class Speed:
    """Everything the benchmarks recorded in this session."""

    rows: dict[tuple[str, str], Row] = field(default_factory=dict)
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

    def skip(self, suite: str, engine: str, reason: str, target: str | None = None) -> None:
        self._suite(suite, target)
        self.not_run[suite, engine] = reason

    def growth(
        self, label: str, suite: str, base: str, engine: str, target: str,
        minus: str | None = None,
    ) -> None:  # fmt: skip
        if all(g.label != label for g in self.growths):
            self.growths.append(Growth(label, suite, base, engine, target, minus))

    # --- results --------------------------------------------------------------------

    def per_unit(self, suite: str, engine: str) -> float | None:
        row = self.rows.get((suite, engine))
        return None if row is None else row.per_unit_ns

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
            value, row = g.value(self), self.rows.get((g.suite, g.engine))
            if value is not None and row is not None:
                row.extra_info[g.label] = value

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
            value = g.value(self)
            shown = f"{value:.2f}x" if value is not None else "not measured"
            if value is None and g.minus is not None and (g.suite, g.engine) in self.rows:
                shown = "n/a (a churn row is within the call overhead's noise)"
            lines.append(f"{g.label}: {shown}  (target {g.target})")
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
