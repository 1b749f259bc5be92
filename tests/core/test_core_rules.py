"""The compiled core tags, at its code, exactly the rules the reference applies.

The reference model records every rule that decides a step (``w.apply("CS-9e")``,
``ok(w, t, 0, "SU-2")``, ``fail(...)``, ``complete(..., "ST-2")``, the rule passed
with an event).  The core is written independently, so nothing links its code to
those ids but a tag comment: an id of harness/vocab/rules.py in square brackets,
``# [CS-9e]`` (several on a line: ``# [CS-9e] [PF-4a]``), at the code that
implements it.  harness/_core.pyx documents the syntax at its top.

Which ids count:

* the reference's: every string literal in harness/reference/*.py (an ast walk,
  so comments and docstrings do not count) that is an id of harness/vocab/rules.py.
  That is how rules reach ``apply``: as literal ids, at the call or through a
  ``rule`` parameter whose callers pass literals.  A literal that looks like a
  rule id but is not one fails ``test_reference_names_no_unknown_rule``.
* the core's: every bracketed id in a comment of harness/_core*.pyx/pxi.

The two sets must be equal, and the test fails in either direction: an id the
reference applies and the core does not tag (the core's code for it cannot be
found), and an id the core tags that the reference never applies.  A tag for
such an id fails even when it is a real id of harness/vocab/rules.py: a rule the
reference does not apply means the engines disagree on what decides a step (or
the tag is stale), which is the drift this test exists to catch.  A tag that is
no id of harness/vocab/rules.py at all (a typo) fails on its own, with its place.

Reads only files in the repository; imports nothing of the engines.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from harness.bugbench.automut import split_comment
from harness.vocab.rules import RULES

REPO = Path(__file__).resolve().parents[2]
REFERENCE_SOURCES = sorted((REPO / "harness" / "reference").glob("*.py"))
CORE_SOURCES = sorted(
    [*(REPO / "harness").glob("_core*.pyx"), *(REPO / "harness").glob("_core*.pxi")]
)
#: What a rule id looks like: CS-E1, CS-9e, CS-D, ST-1R, PF-12a, WSEND-2 ...
RULE_ID = r"[A-Z]+-(?:[A-Z]?[0-9]+[a-zR]?|[A-Z])"
TAG = re.compile(rf"\[({RULE_ID})\]")
LOOKS_LIKE_ID = re.compile(RULE_ID)


def reference_literals() -> dict[str, list[str]]:
    """Every string literal of the reference that looks like a rule id -> FILE:LINE."""
    found: dict[str, list[str]] = {}
    for path in REFERENCE_SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and LOOKS_LIKE_ID.fullmatch(node.value)
            ):
                found.setdefault(node.value, []).append(f"{path.name}:{node.lineno}")
    return found


def reference_ids() -> set[str]:
    """The rule ids the reference model applies."""
    return {lit for lit in reference_literals() if lit in RULES}


def comment_of(line: str) -> str:
    """The comment part of a Cython line ('' if none); a '#' in a string is not one."""
    return split_comment(line)[1]


def core_tags() -> dict[str, list[str]]:
    """Every id tagged in a comment of the core's sources -> FILE:LINE."""
    found: dict[str, list[str]] = {}
    for path in CORE_SOURCES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for rule in TAG.findall(comment_of(line)):
                found.setdefault(rule, []).append(f"{path.name}:{number}")
    return found


def test_the_sources_are_there() -> None:
    assert len(REFERENCE_SOURCES) >= 5, REFERENCE_SOURCES
    assert any(p.name == "_core.pyx" for p in CORE_SOURCES), CORE_SOURCES


def test_reference_names_no_unknown_rule() -> None:
    unknown = {lit: where for lit, where in reference_literals().items() if lit not in RULES}
    assert not unknown, f"the reference applies ids harness/vocab/rules.py does not know: {unknown}"


def test_core_tags_name_known_rules() -> None:
    unknown = {rule: where for rule, where in core_tags().items() if rule not in RULES}
    assert not unknown, f"core tags that are no rule id of harness/vocab/rules.py: {unknown}"


def test_core_tags_exactly_the_rules_the_reference_applies() -> None:
    applied = reference_ids()
    tags = core_tags()
    tagged = set(tags)
    missing = sorted(applied - tagged)
    extra = sorted(tagged - applied)
    print(f"reference applies {len(applied)} ids; the core tags {len(tagged)}")
    print(f"missing in the core: {missing}")
    print(f"tagged but never applied by the reference: {extra}")
    assert not missing, (
        f"rules the reference applies that the core tags nowhere ({len(missing)}): {missing}"
    )
    assert not extra, "rules the core tags that the reference never applies: " + ", ".join(
        f"{rule} ({', '.join(tags[rule])})" for rule in extra
    )


def test_the_tag_syntax_is_what_the_core_documents() -> None:
    """_core.pyx's docstring documents the tag form this test reads."""
    head = (REPO / "harness" / "_core.pyx").read_text()[:3000]
    assert "# [CS-9e]" in head
    assert TAG.findall(comment_of("    x = 1  # [CS-9e] [PF-4a] prose CS-9 [ev A6]")) == [
        "CS-9e",
        "PF-4a",
    ]
    assert comment_of('    s = "#[CS-9e]"') == ""
