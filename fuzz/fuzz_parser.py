#!/usr/bin/env python3
"""Program-text parser fuzz target (libFuzzer via atheris), OSS-Fuzz style.

Invariant: for every byte string, reading it as a program file (UTF-8, as
harness.lang.parser.parse_file does) either gives a Program or raises
ProgramError (or another HarnessError) with a one-line ``FILE:LINE: message``;
no other exception escapes.  A program that parses prints
(harness.lang.render.format_program) to text that parses again to the same steps,
headers and expectations, and printing that again gives the same text (the
printer keeps each comment on one line, so a comment holding a line-breaking
control character such as form feed comes back with a space there).

    ./fuzz/fuzz_parser.py -runs=10000 corpus_dir
"""

import dataclasses
import sys

import atheris

with atheris.instrument_imports(
    include=[
        "harness.lang.parser",
        "harness.lang.syntax",
        "harness.lang.expectations",
        "harness.lang.render",
    ]
):
    from harness.lang.parser import parse
    from harness.lang.program import Program
    from harness.lang.render import format_program, same_program
    from harness.vocab.errors import HarnessError, ProgramError

FILENAME = "fuzz.wsa"


def read_program(data: bytes) -> object:
    """Bytes as parse_file reads them: UTF-8, or a ProgramError naming the line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProgramError(FILENAME, data[: exc.start].count(b"\n") + 1, "invalid UTF-8") from None
    return parse(text, FILENAME)


def without_comments(program: Program) -> Program:
    steps = tuple(dataclasses.replace(s, comment=None, comments_before=()) for s in program.steps)
    return dataclasses.replace(program, steps=steps, header_comments=(), trailing_comments=())


def test_one_input(data: bytes) -> None:
    try:
        program = read_program(data)
    except ProgramError as exc:
        message = str(exc)
        if not message.startswith(f"{FILENAME}:{exc.line}: ") or "\n" in message:
            raise AssertionError(f"malformed error message {message!r} for {data!r}") from None
        return
    except HarnessError:
        return
    assert isinstance(program, Program)
    text = format_program(program)
    again = parse(text, FILENAME)
    if not same_program(without_comments(again), without_comments(program)):
        raise AssertionError(f"printed program does not parse back:\n{data!r}\n---\n{text}")
    if format_program(again) != text:
        raise AssertionError(f"printing is not stable:\n{data!r}\n---\n{text}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
