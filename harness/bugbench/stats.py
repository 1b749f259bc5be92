"""Right-censored time to detection: Kaplan-Meier survival, median and RMST.

A trial either detects the mutant at time ``t`` (an *event*) or ends without
detecting it at ``t`` (*censored*, normally at the budget).  The survival
function S(t) is the chance that the mutant is still undetected at ``t``;
Kaplan-Meier estimates it from the trials, and the *restricted mean*
``RMST(tau)`` is the area under S from 0 to ``tau``: the expected time to
detection when a miss counts as ``tau``.  Lower is better.  The median is
the first time S drops to 0.5 or below (None when it never does).  At equal
times, events come before censorings (the usual convention).
"""

from __future__ import annotations

from collections.abc import Sequence


def km_curve(times: Sequence[float], events: Sequence[bool]) -> list[tuple[float, float]]:
    """The steps of the Kaplan-Meier estimate: ``(t, S(t))`` at every event
    time, ascending, S right after the drop.  S is 1 before the first."""
    if len(times) != len(events):
        raise ValueError("times and events differ in length")
    if any(t < 0 for t in times):
        raise ValueError("negative time")
    order = sorted(range(len(times)), key=lambda i: (times[i], not events[i]))
    at_risk = len(times)
    survival = 1.0
    out: list[tuple[float, float]] = []
    i = 0
    while i < len(order):
        t = times[order[i]]
        deaths = censored = 0
        while i < len(order) and times[order[i]] == t:
            if events[order[i]]:
                deaths += 1
            else:
                censored += 1
            i += 1
        if deaths:
            survival *= 1.0 - deaths / at_risk
            out.append((t, survival))
        at_risk -= deaths + censored
    return out


def survival_at(curve: Sequence[tuple[float, float]], t: float) -> float:
    """S(t) from a :func:`km_curve` (right-continuous)."""
    s = 1.0
    for when, value in curve:
        if when > t:
            break
        s = value
    return s


def rmst(times: Sequence[float], events: Sequence[bool], tau: float) -> float:
    """The restricted mean time to detection: the integral of S over [0, tau]."""
    if tau <= 0:
        raise ValueError("tau must be positive")
    if not times:
        raise ValueError("no trials")
    area, last_t, last_s = 0.0, 0.0, 1.0
    for t, s in km_curve(times, events):
        if t >= tau:
            break
        area += last_s * (t - last_t)
        last_t, last_s = t, s
    return area + last_s * (tau - last_t)


def km_median(times: Sequence[float], events: Sequence[bool]) -> float | None:
    """The first time the Kaplan-Meier S(t) is at or below 0.5, else None."""
    for t, s in km_curve(times, events):
        if s <= 0.5 + 1e-12:
            return t
    return None
