"""Automatic mutants of the compiled core: simple operators at random sites.

Operators, each a one-line textual change of ``harness/_core.pyx`` or a
``.pxi`` include:

* ``cmp``: a comparison flipped (``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``);
* ``bool``: ``and`` <-> ``or``, a ``not`` dropped, ``True`` <-> ``False``;
* ``const``: an integer literal off by one (``n + 1``, ``n - 1``);
* ``arith``: ``+`` <-> ``-`` (also ``+=`` <-> ``-=``);
* ``delete``: a simple statement replaced by ``pass``.

Sites are code lines inside functions.  Left out, because no differential
campaign can observe them by design: declarations, comments, docstrings,
struct and enum blocks, the invariant checker (``_check_invariants`` and the
``WSA_DEBUG`` lines: the campaign checks invariants on the reference model),
the stepwise API that campaigns do not call (``Engine.step``, ``snapshot``,
``check_invariants``, ``_set_full_settle``), the core's ``decode_bytes``
(campaigns decode through ``run_bytes``) and memory teardown
(``__dealloc__``, ``*_free``).  A mutant that does not compile is skipped and
counted apart; each survivor is listed with its site so a person can judge
whether it is equivalent.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from harness.bugbench.mutants import Mutant

EXCLUDED_FUNCTIONS = frozenset(
    {"_check_invariants", "step", "snapshot", "check_invariants", "_set_full_settle",
     "decode_bytes", "_bin_lowered", "__dealloc__", "tab_free", "buf_free"}
)  # fmt: skip
EXCLUDED_WORDS = ("WSA_DEBUG", "_check_invariants", "AssertionError")
_FUNC = re.compile(r"^(\s*)(?:cdef|cpdef|def)\b[^=]*?\b(\w+)\s*\(")
_BLOCK = re.compile(r"^(cdef\s+(struct|enum|extern|class)|ctypedef)\b")
_CMP = re.compile(r"(?<=\s)(<=|>=|==|!=|<|>)(?=\s)")
_CMP_SWAP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
_BOOL = re.compile(r"\b(and|or|True|False)\b|\bnot\s+")
_BOOL_SWAP = {"and": "or", "or": "and", "True": "False", "False": "True"}
_INT = re.compile(r"(?<![\w.])\d+(?![\w.])")
_ARITH = re.compile(r"(?<=\s)(\+=|-=|\+|-)(?=\s)")
_ARITH_SWAP = {"+": "-", "-": "+", "+=": "-=", "-=": "+="}
_NO_DELETE = re.compile(r"^(cdef|return|pass|break|continue|else|elif|if|while|for|try|finally|"
                        r"except|with|raise|global|nonlocal|include|from|import)\b")  # fmt: skip


@dataclass(frozen=True)
class Site:
    file: str  # harness/NAME
    line: int  # 1-based
    operator: str
    original: str
    mutated: str

    @property
    def name(self) -> str:
        return f"{self.file.removeprefix('harness/')}:{self.line}:{self.operator}"


def split_comment(line: str) -> tuple[str, str]:
    """(code, comment) of a line; a '#' inside a string literal is not a comment."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i], line[i:]
    return line, ""


def eligible_lines(text: str) -> list[tuple[int, str, bool]]:
    """(line number, code part, simple statement?) for every mutable line."""
    out: list[tuple[int, str, bool]] = []
    funcs: list[tuple[int, str]] = []  # (indent, name) of enclosing defs
    in_doc = ""
    in_block = False
    depth = 0
    for number, raw in enumerate(text.splitlines(), 1):
        code, _ = split_comment(raw)
        stripped = code.strip()
        if in_doc:
            if in_doc in raw:
                in_doc = ""
            continue
        if stripped.startswith(('"""', "'''")):
            quote = stripped[:3]
            if stripped.count(quote) == 1:
                in_doc = quote
            continue
        if not stripped:
            continue
        indent = len(code) - len(code.lstrip())
        if depth == 0:
            funcs = [(i, n) for i, n in funcs if i < indent]
            if indent == 0:
                in_block = bool(_BLOCK.match(stripped)) and not stripped.startswith("cdef class")
            if m := _FUNC.match(code):
                funcs.append((len(m.group(1)), m.group(2)))
                depth += code.count("(") - code.count(")")
                continue
        starts_stmt = depth == 0
        depth = max(
            0, depth + code.count("(") + code.count("[") - code.count(")") - code.count("]")
        )
        if in_block or not funcs or any(n in EXCLUDED_FUNCTIONS for _, n in funcs):
            continue
        if any(w in raw for w in EXCLUDED_WORDS):
            continue
        if starts_stmt and stripped.startswith("cdef ") and "=" not in stripped:
            continue  # a declaration
        simple = starts_stmt and depth == 0 and not stripped.endswith(":")
        simple = simple and not _NO_DELETE.match(stripped)
        out.append((number, code, simple))
    return out


def _site(
    rel: str, number: int, raw: str, code: str, op: str, span: tuple[int, int], new: str
) -> Site:
    mutated = code[: span[0]] + new + code[span[1] :] + raw[len(code) :]
    return Site(rel, number, op, raw, mutated)


def sites(sources: dict[str, str]) -> list[Site]:
    """Every mutation site in the core's sources, in file and line order."""
    found: list[Site] = []
    for rel in sorted(sources):
        lines = sources[rel].splitlines()
        for number, code, simple in eligible_lines(sources[rel]):
            raw = lines[number - 1]
            here = (rel, number, raw, code)
            for m in _CMP.finditer(code):
                found.append(_site(*here, "cmp", m.span(), _CMP_SWAP[m.group(1)]))
            for m in _BOOL.finditer(code):
                word = m.group(1)
                found.append(_site(*here, "bool", m.span(), _BOOL_SWAP[word] if word else ""))
            if not code.lstrip().startswith("cdef "):
                for m in _INT.finditer(code):
                    n = int(m.group())
                    found.append(_site(*here, "const", m.span(), str(n + 1)))
                    if n > 0:
                        found.append(_site(*here, "const", m.span(), str(n - 1)))
            for m in _ARITH.finditer(code):
                found.append(_site(*here, "arith", m.span(), _ARITH_SWAP[m.group(1)]))
            if simple:
                indent = code[: len(code) - len(code.lstrip())]
                found.append(Site(rel, number, "delete", raw, f"{indent}pass"))
    return found


def apply_site(sources: dict[str, str], site: Site) -> dict[str, str]:
    lines = sources[site.file].split("\n")
    if lines[site.line - 1] != site.original:
        raise ValueError(f"{site.name}: the line has changed")
    lines[site.line - 1] = site.mutated
    return {**sources, site.file: "\n".join(lines)}


def sample(sources: dict[str, str], k: int, seed: int) -> list[tuple[Site, Mutant]]:
    """``k`` distinct random sites (seeded), each as a mutant with its sources."""
    every = sites(sources)
    chosen = random.Random(seed).sample(every, min(k, len(every)))
    return [
        (s, Mutant(f"auto-{s.name}", "-", "documented", f"{s.original.strip()} -> "
                   f"{s.mutated.strip()}", sources=apply_site(sources, s)))
        for s in chosen
    ]  # fmt: skip
