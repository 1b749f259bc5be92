"""Every rule has a seed that exercises it, and every rule names a source."""

from __future__ import annotations

import re
from pathlib import Path

from harness.lang.parser import parse_file
from harness.oracle.run import rules_fired
from harness.vocab.rules import RULES

SEEDS = sorted((Path(__file__).resolve().parents[2] / "corpus" / "seeds").glob("*.wsa"))
SPEC_IDS = re.compile(r"\b(CS-(?:E[1-4]|[5-9][a-f]?|D)|MS-1)\b")


def test_every_rule_has_a_seed() -> None:
    fired: set[str] = set()
    for path in SEEDS:
        fired |= rules_fired(parse_file(path))
    missing = sorted(set(RULES) - fired)
    assert not missing, f"rules no seed exercises: {missing}"


def test_rules_cover_every_spec_id() -> None:
    spec = Path(__file__).resolve().parents[2] / "shared" / "spec" / "SEMANTICS.md"
    ids = set(SPEC_IDS.findall(spec.read_text())) if spec.exists() else set()
    ids |= {"CS-E1", "CS-E2", "CS-E3", "CS-E4", "CS-5", "CS-6", "CS-7", "CS-8", "CS-9",
            "CS-9a", "CS-9b", "CS-9c", "CS-9d", "CS-9e", "CS-9f", "CS-D", "MS-1"}  # fmt: skip
    assert ids <= set(RULES)


def test_seed_headers_name_rules_that_exist_and_fire() -> None:
    for path in SEEDS:
        header = [ln for ln in path.read_text().splitlines() if ln.startswith("# rules:")]
        assert header, f"{path.name}: no '# rules:' header comment"
        named = set(header[0].split(":", 1)[1].split())
        assert named <= set(RULES), f"{path.name}: unknown rule ids {named - set(RULES)}"
        fired = rules_fired(parse_file(path))
        assert named <= fired, f"{path.name}: names rules it does not exercise: {named - fired}"
