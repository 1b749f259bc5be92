"""The reference model: an executable specification of SEMANTICS.md.

It is written to be read.  ``Engine`` implements the engine interface of
docs/engines.md; every outcome records the rule that produced it.
"""

from harness.reference.engine import Engine, run_engine, run_lowered, set_work_limit

__all__ = ["Engine", "run_engine", "run_lowered", "set_work_limit"]
