"""Results of calls (SEMANTICS.md section 4): a success clears the thread's
last error, a failure sets it; both record the rule that decided them.

Results are ``harness.vocab.trace`` tuples: ``(rkind, r1, r2, r3)``.
"""

from __future__ import annotations

from harness.reference import effects
from harness.reference.world import Thread, World
from harness.vocab import trace

Result = trace.Result
BLOCKED: Result = (trace.R_BLOCKED, 0, 0, 0)


def ok(w: World, t: Thread, value: int, rule: str) -> Result:
    """A successful call: last_error becomes 0 (section 4)."""
    w.apply(rule)
    effects.clear_last_error(w, t)
    return (trace.R_VALUE, value, 0, 0)


def fail(w: World, t: Thread, err: int, rule: str, kind: int = trace.R_SOCKET_ERROR) -> Result:
    """A failed call: last_error becomes its error (section 4)."""
    w.apply(rule)
    t.last_error = err
    return (kind, err, 0, 0)
