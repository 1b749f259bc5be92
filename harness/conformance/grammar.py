"""Engine-aware generation: the fuzzer's grammar for a real engine.

A real engine declares what it can run in its :class:`Capabilities` (steps,
threads, descriptor forms, datagram transfer, duplicate targets, counts, the
limits it can follow; ``advance`` is not limited: one longer than the engine
sleeps during a blocked close ends the comparison there).  :func:`grammar_of` turns that
declaration into a :class:`harness.lang.encoding.Grammar`, so that the bytes a
campaign mutates decode only to programs the engine can run: every input
reaches the engine, instead of being skipped at a step it has no counterpart
for.  Tests check that no program decoded under an engine's grammar has a
step :func:`harness.conformance.session.unsupported` refuses.
"""

from __future__ import annotations

from harness.conformance.engine import DGRAM, RAW, Capabilities
from harness.lang.encoding import LIMIT_PRESETS, Grammar


def grammar_of(name: str, caps: Capabilities) -> Grammar:
    """The grammar of the programs an engine with ``caps`` can run."""
    return Grammar(
        name=name,
        ops=caps.ops,
        threads=tuple(sorted(caps.threads)),
        raw_descriptors=RAW in caps.descriptor_forms,
        datagram_transfer=DGRAM in caps.transfer_types,
        pids=tuple(sorted(caps.duplicate_pids)),
        max_count=caps.max_count,
        limits=caps.limits or LIMIT_PRESETS,
    )


def engine_grammar(name: str) -> Grammar:
    """The grammar of the real engine ``name`` (its capabilities; nothing is started)."""
    return grammar_of(name, capabilities(name))


def capabilities(name: str) -> Capabilities:
    """The declaration of the real engine ``name``, without starting it."""
    from harness.conformance import capabilities_of

    return capabilities_of(name)
