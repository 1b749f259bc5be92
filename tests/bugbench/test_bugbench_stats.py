"""Kaplan-Meier, median and restricted mean time (harness.bugbench.stats)."""

from __future__ import annotations

import pytest

from harness.bugbench.stats import km_curve, km_median, rmst, survival_at


def test_no_censoring_is_the_empirical_survival() -> None:
    assert km_curve([3.0, 1.0, 2.0, 4.0], [True] * 4) == [
        (1.0, 0.75),
        (2.0, 0.5),
        (3.0, 0.25),
        (4.0, 0.0),
    ]


def test_censoring_shrinks_the_risk_set() -> None:
    # classic textbook case: 6 subjects, censored at 2 and 4
    times = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    events = [True, False, True, False, True, True]
    curve = km_curve(times, events)
    expected = [(1.0, 5 / 6), (3.0, 5 / 6 * 3 / 4), (5.0, 5 / 6 * 3 / 4 * 1 / 2), (6.0, 0.0)]
    assert [t for t, _ in curve] == [t for t, _ in expected]
    for (_, got), (_, want) in zip(curve, expected, strict=True):
        assert got == pytest.approx(want)


def test_events_come_before_censorings_at_the_same_time() -> None:
    # at t=2: one detection and one miss; the miss is still at risk for the event
    assert km_curve([2.0, 2.0], [True, False]) == [(2.0, 0.5)]


def test_rmst_without_censoring_is_the_mean_of_min_t_tau() -> None:
    times = [1.0, 2.0, 8.0]
    assert rmst(times, [True] * 3, 10.0) == pytest.approx((1 + 2 + 8) / 3)
    # tau cuts the late detection short
    assert rmst(times, [True] * 3, 5.0) == pytest.approx((1 + 2 + 5) / 3)


def test_rmst_counts_a_miss_as_the_whole_budget() -> None:
    assert rmst([60.0, 60.0], [False, False], 60.0) == pytest.approx(60.0)
    assert rmst([0.5, 60.0], [True, False], 60.0) == pytest.approx((0.5 + 60.0) / 2)


def test_rmst_with_early_censoring_uses_the_km_curve() -> None:
    # S = 1 on [0,1), 1 on [1,3) (censoring at 1 does not drop it), 0 after 3
    assert rmst([1.0, 3.0], [False, True], 10.0) == pytest.approx(3.0)


def test_median() -> None:
    assert km_median([1.0, 2.0, 3.0], [True] * 3) == 2.0
    assert km_median([1.0, 2.0, 3.0, 4.0], [True] * 4) == 2.0
    assert km_median([1.0, 60.0, 60.0], [True, False, False]) is None
    assert km_median([], []) is None


def test_survival_at() -> None:
    curve = km_curve([1.0, 2.0], [True, True])
    assert survival_at(curve, 0.5) == 1.0
    assert survival_at(curve, 1.0) == 0.5
    assert survival_at(curve, 5.0) == 0.0


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        km_curve([1.0], [True, False])
    with pytest.raises(ValueError):
        km_curve([-1.0], [True])
    with pytest.raises(ValueError):
        rmst([1.0], [True], 0.0)
