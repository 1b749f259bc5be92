"""The bug-finding benchmark: how fast does the harness find planted bugs?

Theory of operation
-------------------
* **Mutants** (:mod:`.mutants`).  ``bench/mutants/NN-name.patch`` (in a
  wheel, ``harness/data/mutants``) are hand-written close-path bugs in the
  compiled core, each a unified diff against ``harness/_core.pyx`` and its
  ``.pxi`` includes, with a header naming the SEMANTICS.md rule it breaks and
  the profile that shows it.  :mod:`.automut` makes more, automatically,
  with simple mutation operators.
* **Builds** (:mod:`.build`).  A mutant's sources are patched in a temporary
  copy and compiled there; the module lands in a cache keyed by the hash of
  the patched sources.  The working tree and its ``harness/_core*.so`` are
  never touched.  A campaign loads the mutant through
  ``WSA_HARNESS_CORE_DIR`` (:mod:`harness.engines`).
* **Trials** (:mod:`.trials`, :mod:`.worker`).  One trial is one tool run
  against one mutant with one seed, in its own process, until the first
  divergence from the reference model or the budget.  Tools: ``harness``
  (the atheris campaign, with the campaign's own libFuzzer flags and a fresh
  corpus seeded from ``corpus/seeds``, or a wheel's ``harness/data/seeds``),
  ``random`` (the same decoder on random bytes, no feedback) and
  ``hypothesis`` (the lockstep ``RuleBasedStateMachine`` of
  :mod:`harness.library.lockstep`, the one the test suite runs, on the
  mutant's profile).
* **Statistics** (:mod:`.stats`).  Time to detection is right-censored at
  the budget: Kaplan-Meier medians and the restricted mean (RMST), so a
  miss counts as the whole budget.
* **Report** (:mod:`.report`).  A markdown table, a JSON record and a
  survival plot in the ``--out`` folder (``bench-out/`` in the current
  directory, ignored by git; the committed results are ``bench/results/``).
"""
