"""Corpus folders: replay and check, regenerate expectations, export to binary."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from harness.lang.encoding import NotRepresentable, encode
from harness.lang.parser import parse_file
from harness.lang.render import update_text, with_expectations
from harness.oracle.diff import Side, diff
from harness.oracle.run import NOTHING_CHECKED, nothing_checked, run
from harness.oracle.run import check as check_program
from harness.vocab.errors import HarnessError
from harness.vocab.fsutil import write_atomic


def _files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.wsa"))
    if not files:
        raise HarnessError(f"{folder}: no .wsa files")
    return files


def check(folder: Path, engines: list[str]) -> int:
    """Every file passes --check on every engine, and the engines agree."""
    failures = 0
    files = _files(folder)
    for path in files:
        try:
            program = parse_file(path)
        except HarnessError as exc:  # bad text, or a file that cannot be read: go on
            print(exc)
            failures += 1
            continue
        if nothing_checked(program):
            print(f"{path}: FAIL")
            print(f"{path}: {NOTHING_CHECKED}; `wsa-harness corpus update` fills them in")
            failures += 1
            continue
        problems = []
        for engine in engines:
            problems += [m.render(str(path)) for m in check_program(program, run(program, engine))]
        if len(engines) == 2:
            d = diff(program, Side(engines[0], program.profile), Side(engines[1], program.profile))
            if d is not None:
                problems.append(d.render())
        print(f"{path}: {'ok' if not problems else 'FAIL'}")
        for p in problems:
            print(p)
        failures += bool(problems)
    print(f"{len(files)} file(s), {failures} failing, engines {','.join(engines)}")
    return 1 if failures else 0


def update(folder: Path) -> int:
    """Rewrite every file's expectations from the reference model."""
    for path in _files(folder):
        program = parse_file(path)
        filled = with_expectations(program, run(program, "reference"))
        write_atomic(path, update_text(program, filled))
        print(f"{path}: updated")
    return 0


def export(folder: Path, out: Path | None, zip_path: Path | None) -> int:
    """Encode every representable program as a binary fuzzer seed."""
    written: dict[str, bytes] = {}
    for path in _files(folder):
        try:
            data = encode(parse_file(path))
        except NotRepresentable as exc:
            print(f"{path}: skipped, {exc}")
            continue
        written[f"{path.stem}.bin"] = data
        if out is not None:
            write_atomic(out / f"{path.stem}.bin", data)
    if zip_path is not None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in sorted(written.items()):
                z.writestr(name, data)
        write_atomic(zip_path, buf.getvalue())
    print(f"exported {len(written)} of {len(_files(folder))} programs")
    return 0
