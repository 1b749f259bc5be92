"""Bad input never gives a traceback.

Every malformed program, corpus file or argument gives ``FILE:LINE: message``
(or a precise one-line usage error) and a non-zero exit: end to end through
the ``wsa-harness`` command, for every entry of the parser's malformed-program
table, and for random argument lists (Hypothesis).  The parser fuzz target
runs a bounded smoke campaign, and the byte decoder is total.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from examples import MALFORMED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli.main import main
from harness.lang.encoding import decode
from harness.vocab.profiles import PROFILES

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "harness"]
GOOD = (
    "t0: startup 2.2 -> 0\nt0: s1 = socket stream -> 4\nt0: closesocket s1 -> 0\n"
    "  ! socket 1 destroyed\n"
)
BAD = "t0: startup 2.2\nt0: s1 = socket stream\nt0: clozesocket s1\n"
BAD_LINE = "3: unknown step 'clozesocket' (did you mean 'closesocket'?)"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def wsa(*args: str | Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, env=_env(), timeout=timeout
    )


def assert_clean(out: subprocess.CompletedProcess[str], status: int) -> None:
    assert "Traceback" not in out.stderr + out.stdout, out.stderr
    assert out.returncode == status, (out.returncode, out.stdout, out.stderr)


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    """A good program, a malformed one, garbage, a directory and a missing path."""
    paths = {
        "good": tmp_path / "good.wsa",
        "bad": tmp_path / "bad.wsa",
        "binary": tmp_path / "binary.wsa",
        "utf8": tmp_path / "utf8.wsa",
        "nul": tmp_path / "nul.wsa",
        "dir": tmp_path / "folder.wsa",
        "missing": tmp_path / "missing.wsa",
        "badcorpus": tmp_path / "badcorpus",
    }
    paths["good"].write_text(GOOD)
    paths["bad"].write_text(BAD)
    paths["binary"].write_bytes(bytes(range(256)) * 4)
    paths["utf8"].write_bytes(b"t0: startup 2.2\n# fine\nt0: getmessage \xc3\x28\n")
    paths["nul"].write_bytes(b"\x00\x01\x02\x7f")
    paths["dir"].mkdir()
    paths["badcorpus"].mkdir()
    (paths["badcorpus"] / "a-good.wsa").write_text(GOOD)
    (paths["badcorpus"] / "b-bad.wsa").write_text(BAD)
    return paths


# --- end to end, one subprocess per case ----------------------------------------------


@pytest.mark.parametrize("command", ["run", "diff", "minimize", "rules"])
def test_file_problems(files: dict[str, Path], command: str) -> None:
    for key, message in [
        ("missing", "No such file or directory"),
        ("dir", "is a directory"),
        ("binary", "3: invalid UTF-8"),  # byte 0x80 is on line 3 (0x0a, 0x0d end lines, D39)
        ("utf8", "3: invalid UTF-8"),
        ("nul", r"1: unknown step '\x00\x01\x02\x7f'"),  # escaped, never raw
        ("bad", BAD_LINE),
    ]:
        path = files[key]
        if command == "rules":
            out = wsa("rules", "--coverage", path)
            if key in ("missing", "dir", "binary", "utf8", "nul", "bad"):
                want = "not a directory" if key != "dir" else "no .wsa files"
                assert_clean(out, 1)
                assert out.stderr == f"wsa-harness rules: {path}: {want}\n"
            continue
        out = wsa(command, path)
        assert_clean(out, 1)
        sep = ": " if key in ("missing", "dir") else ":"
        assert f"{path}{sep}{message}\n" in out.stderr, out.stderr
        assert len(out.stderr.splitlines()) == 1, out.stderr
        assert "\x00" not in out.stderr


def test_corpus_check_reports_each_bad_file(files: dict[str, Path]) -> None:
    out = wsa("corpus", "check", files["badcorpus"], "--engines", "reference")
    assert_clean(out, 1)
    assert f"{files['badcorpus'] / 'a-good.wsa'}: ok" in out.stdout
    assert f"{files['badcorpus'] / 'b-bad.wsa'}:{BAD_LINE}\n" in out.stdout
    assert "2 file(s), 1 failing" in out.stdout
    for key in ("missing", "good"):  # not a folder
        out = wsa("corpus", "check", files[key])
        assert_clean(out, 1)
        assert out.stderr == f"wsa-harness corpus: {files[key]}: not a directory\n"
    out = wsa("corpus", "check", files["dir"])  # a folder without programs
    assert_clean(out, 1)
    assert out.stderr == f"wsa-harness corpus: {files['dir']}: no .wsa files\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--profile", "nosuch", "GOOD"],
         "wsa-harness run: argument --profile: unknown profile 'nosuch' (known: documented, "
         "windows, linux, wine, lwip)"),
        (["diff", "--engines", "core,foo", "GOOD"],
         "wsa-harness diff: argument --engines: expected one or two engines separated by a "
         "comma from: reference, core, linux, wine, lwip"),
        (["diff", "--engines", "linux,core", "GOOD"],
         "wsa-harness diff: --engines linux,core: a real engine is compared with the "
         "reference model: give --engines linux,reference"),
        (["fuzz", "--engines", "wine", "--profiles", "documented,windows"],
         "wsa-harness fuzz: --profiles documented,windows: wine is compared with the model "
         "under one named profile (default: its own, wine)"),
        (["minimize", "--engines", "linux,wine", "GOOD"],
         "wsa-harness minimize: --engines linux,wine: a real engine is compared with the "
         "reference model: give --engines linux,reference"),
        (["diff", "--profiles", "documented,windows,documented", "GOOD"],
         "wsa-harness diff: argument --profiles: expected one or two profiles separated by a "
         "comma from: documented, windows, linux, wine, lwip"),
        (["fuzz", "--runs", "0"],
         "wsa-harness fuzz: argument --runs: expected a positive number, got 0"),
        (["fuzz", "--runs", "many"],
         "wsa-harness fuzz: argument --runs: expected a whole number, got 'many'"),
        (["fuzz", "--runs", "5", "--time", "5"],
         "wsa-harness fuzz: argument --time: not allowed with argument --runs"),
        (["fuzz", "--jobs", "-1"],
         "wsa-harness fuzz: argument --jobs: expected a positive number, got -1"),
        (["frobnicate"],  # the list of commands goes on after these
         "wsa-harness: argument command: invalid choice: 'frobnicate' (choose from 'run', "
         "'rules', 'diff', 'fuzz', 'minimize', 'corpus'"),
        ([], "wsa-harness: the following arguments are required: command"),
        (["run"], "wsa-harness run: the following arguments are required: FILE"),
        (["corpus", "prune", "DIR"],
         "wsa-harness corpus: argument action: invalid choice: 'prune' (choose from 'check', "
         "'update', 'export')"),
        (["run", "--engine", "fast", "GOOD"],
         "wsa-harness run: argument --engine: invalid choice: 'fast' (choose from 'reference', "
         "'core')"),
        (["diff", "--engines", "reference", "GOOD"],
         "wsa-harness diff: a diff needs two sides: give two engines, two profiles, or both"),
        (["fuzz", "--engines", "core", "--runs", "1"],
         "wsa-harness fuzz: --engines core gives one side, and a campaign compares two: add an "
         "engine (--engines core,reference) or a second profile (--profiles documented,windows)"),
        (["fuzz", "--runs", "1", "--out", "/dev/null"],
         "wsa-harness fuzz: --out /dev/null: exists and is not a folder (the campaign keeps its "
         "corpus, findings and reproducers in it): give a new or existing folder"),
    ],
)  # fmt: skip
def test_usage_errors(files: dict[str, Path], args: list[str], message: str) -> None:
    real = [str(files["good"]) if a == "GOOD" else str(files["dir"]) if a == "DIR" else a
            for a in args]  # fmt: skip
    out = wsa(*real)
    assert_clean(out, 2)
    if args == ["frobnicate"]:
        assert out.stderr.startswith(message) and out.stderr.endswith(")\n")
    else:
        assert out.stderr == message + "\n"
    assert out.stderr.count("\n") == 1
    assert out.stdout == ""


def test_fuzz_flag_errors(files: dict[str, Path]) -> None:
    out = wsa("fuzz", "--runs", "1", "--corpus", files["good"], "--engines", "reference",
              "--profiles", "documented,windows")  # fmt: skip
    assert_clean(out, 2)
    assert out.stderr.startswith(f"wsa-harness fuzz: --corpus {files['good']}: exists and is "
                                 "not a folder"), out.stderr  # fmt: skip
    out = wsa("fuzz", "--runs", "1", "--out", files["dir"], "--", "notaflag")
    assert_clean(out, 1)
    assert out.stderr == "wsa-harness fuzz: libFuzzer flags must start with '-': notaflag\n"


def test_unwritable_outputs(files: dict[str, Path]) -> None:
    nowhere = files["good"] / "x.bin"  # a path under a regular file
    out = wsa("corpus", "export", REPO / "corpus" / "seeds", "--out", nowhere.parent / "sub")
    assert_clean(out, 1)
    assert "Not a directory" in out.stderr and len(out.stderr.splitlines()) == 1


def _malformed_files(folder: Path) -> list[tuple[Path, str]]:
    folder.mkdir()
    out = []
    for ident, text, message in MALFORMED:
        path = folder / f"{ident}.wsa"
        path.write_text(text)
        out.append((path, message))
    return out


@pytest.mark.parametrize("command", ["run", "diff"])
def test_every_malformed_program_through_the_cli(tmp_path: Path, command: str) -> None:
    """The parser table's exact messages, as the command prints them."""
    cases = _malformed_files(tmp_path / "malformed")
    out = wsa(command, *(p for p, _ in cases))
    assert_clean(out, 1)
    assert out.stderr.splitlines() == [f"{p}:{m}" for p, m in cases]


def test_every_malformed_program_under_corpus_check(tmp_path: Path) -> None:
    cases = _malformed_files(tmp_path / "malformed")
    out = wsa("corpus", "check", tmp_path / "malformed", "--engines", "reference")
    assert_clean(out, 1)
    lines = out.stdout.splitlines()
    for path, message in cases:
        assert f"{path}:{message}" in lines
    assert f"{len(cases)} file(s), {len(cases)} failing" in out.stdout


@pytest.mark.parametrize("index", [0, 11, 40, -1])
def test_malformed_program_under_minimize(tmp_path: Path, index: int) -> None:
    ident, text, message = MALFORMED[index]
    path = tmp_path / f"{ident}.wsa"
    path.write_text(text)
    out = wsa("minimize", path)
    assert_clean(out, 1)
    assert out.stderr == f"{path}:{message}\n"


# --- random argument lists, in process ----------------------------------------------

SUBCOMMANDS = ["run", "diff", "minimize", "corpus", "rules", "check", ""]
OPTIONS = ["--check", "--update", "--explain", "--invariants", "--engine", "--engines",
           "--profile", "--profiles", "--coverage", "--out", "--zip", "-o", "--version",
           "--help", "-h", "--", "-", "--bogus", "-x"]  # fmt: skip
VALUES = ["reference", "core", "documented", "windows", "reference,core", "core,core",
          "documented,windows", "nosuch", ",", "0", "-1", "99999999999999999999", "check",
          "update", "export", "x=y", "\u00e9", "\x00", ""]  # fmt: skip
PATHS = ["good", "bad", "binary", "utf8", "nul", "dir", "missing", "badcorpus", "outdir"]


@contextlib.contextmanager
def _captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_random_argument_lists(files: dict[str, Path], tmp_path: Path, data: st.DataObject) -> None:
    paths = {**{k: str(v) for k, v in files.items()}, "outdir": str(tmp_path / "out")}
    token = st.one_of(
        st.sampled_from(OPTIONS),
        st.sampled_from(VALUES),
        st.sampled_from(PATHS).map(paths.__getitem__),
        st.text(max_size=6).filter(lambda t: t != "fuzz"),  # no real campaigns here
    )
    first = data.draw(st.sampled_from(SUBCOMMANDS), label="command")
    argv = ([first] if first else []) + data.draw(st.lists(token, max_size=6), label="args")
    with _captured() as (out, err):
        try:
            status = main(argv)
        except SystemExit as exc:  # --help and --version exit through argparse
            status = exc.code if isinstance(exc.code, int) else 1
    assert status in (0, 1, 2), (argv, status, err.getvalue())
    assert "Traceback" not in err.getvalue() + out.getvalue(), argv
    if status == 2:  # one line, apart from newlines inside the arguments it quotes
        echoed = sum(a.count("\n") for a in argv)
        assert err.getvalue().count("\n") <= 1 + echoed, (argv, err.getvalue())


# --- the byte decoder and the parser fuzz target ---------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=600),
    profile=st.sampled_from(sorted(PROFILES)),
    max_steps=st.one_of(st.none(), st.integers(0, 40)),
)
def test_decoder_never_raises(data: bytes, profile: str, max_steps: int | None) -> None:
    program = decode(data, PROFILES[profile], max_steps)
    # the header's prelude (two startups, a socket and its connect) is not cut
    assert max_steps is None or len(program.steps) <= max(max_steps, 4)


@pytest.mark.fuzz
def test_parser_fuzz_target_smoke(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted((REPO / "corpus" / "seeds").glob("*.wsa"))[:20]:
        (corpus / path.name).write_bytes(path.read_bytes())
    (corpus / "table").write_text("\n".join(text for _, text, _ in MALFORMED))
    out = subprocess.run(
        [sys.executable, str(REPO / "fuzz" / "fuzz_parser.py"), "-runs=5000", "-seed=1",
         f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, env=_env(), timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Done 5000 runs" in out.stderr
    assert not list(tmp_path.glob("crash-*"))
