"""Faults, campaign side (issue 17, points 2, 3 and 7): a full disk, an I/O
error, a SIGKILL of the driver and damaged findings never hang a campaign,
lose what it found, or leave it writing.

* a log that cannot grow (RLIMIT_FSIZE: EFBIG, the same OSError path as
  ENOSPC) and a real full disk (a small tmpfs, when this test may mount one)
  stop the libFuzzer child; the campaign names the file, exits 1 within
  seconds, and leaves no zero-byte corpus file;
* seeding on a full disk names the file, and the next run writes the seeds
  that are missing;
* a SIGKILL of the driver leaves no child writing the corpus;
* a corrupt findings record, a missing input and an empty input are each
  skipped with a warning naming the file, and the resume goes on.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.fuzz import campaign
from harness.fuzz.campaign import Campaign, Config, export_seeds
from harness.fuzz.target import DifferentialTarget
from harness.oracle.diff import Side
from harness.vocab.fsutil import write_atomic
from harness.vocab.profiles import DOCUMENTED, WINDOWS

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "corpus" / "seeds"
SIDES = ["--engines", "reference", "--profiles", "documented,windows"]
FUZZ = [sys.executable, "-m", "harness", "fuzz", *SIDES]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _limited(fsize: int) -> object:
    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return setup


def _descendants(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            out += [int(child), *_descendants(int(child))]
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


# --- writes that fail ---------------------------------------------------------------


def test_a_failed_atomic_write_names_the_file_and_leaves_nothing(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from harness.vocab.fsutil import write_atomic\n"
        "try:\n"
        "    write_atomic(sys.argv[1], b'x' * 100000)\n"
        "except OSError as exc:\n"
        "    print(exc.errno, exc.filename)\n"
    )
    target = tmp_path / "out.bin"
    done = subprocess.run(
        [sys.executable, "-c", script, str(target)], capture_output=True, text=True,
        env=_env(), preexec_fn=_limited(1000), timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout.split() == [str(errno.EFBIG), str(target)]
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


@pytest.mark.fuzz
def test_a_log_that_cannot_grow_stops_the_campaign(tmp_path: Path) -> None:
    """The log thread used to die on the write; the progress line then
    repeated forever and SIGTERM was ignored."""
    pytest.importorskip("atheris")
    out = tmp_path / "out"
    started = time.monotonic()
    done = subprocess.run(
        [*FUZZ, "--time", "600", "--out", str(out)], capture_output=True, text=True,
        env=_env(), preexec_fn=_limited(20000), timeout=300,
    )  # fmt: skip
    took = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    log = out / "libfuzzer.log"
    assert f"error while writing the libFuzzer log: {log}: File too large" in done.stdout
    assert f"failed write      {log}: File too large" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert took < 240, took  # stopped long before its 600 s budget
    assert not [p for p in (out / "corpus").iterdir() if p.stat().st_size == 0]
    assert json.loads((out / "causes.json").read_text()) is not None  # saved


def _can_mount(where: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(where)],
                        capture_output=True).returncode == 0  # fmt: skip
    return ok


@pytest.mark.fuzz
def test_a_full_disk_stops_the_campaign(tmp_path: Path) -> None:
    """A real ENOSPC: the campaign's output folder on a 300 KiB tmpfs."""
    pytest.importorskip("atheris")
    disk = tmp_path / "disk"
    if not _can_mount(disk):
        pytest.skip("mounting a tmpfs needs root; the RLIMIT_FSIZE test covers the code path")
    try:
        out = disk / "out"
        proc = subprocess.Popen(
            [*FUZZ, "--time", "600", "--out", str(out)], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 1, stdout + stderr
        assert "No space left on device; stopping the campaign" in stdout, stdout
        assert f"failed write      {out}" in stdout, stdout
        assert "Traceback" not in stdout + stderr
        assert not [p for p in (out / "corpus").iterdir() if p.stat().st_size == 0]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_seeding_on_a_full_disk_names_the_file_and_the_next_run_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills after 20 seeds: the message names the 21st, and the next
    run (whose corpus is not empty) writes the rest instead of resuming."""
    out = tmp_path / "out"
    corpus = out / "corpus"
    corpus.mkdir(parents=True)
    writes = []

    def full_after_20(path: Path, data: bytes | str) -> None:
        writes.append(path)
        if len(writes) > 20:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        write_atomic(path, data)

    monkeypatch.setattr(campaign, "write_atomic", full_after_20)
    cfg = Config(sides=(Side("reference", DOCUMENTED), Side("reference", WINDOWS)), out=out,
                 seeds=SEEDS, runs=1)  # fmt: skip
    lines: list[str] = []

    class Stream:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

        def isatty(self) -> bool:
            return False

    first = Campaign(cfg, stream=Stream())  # type: ignore[arg-type]
    assert first._seed(corpus) is False
    text = "".join(lines)
    assert f"error while seeding the corpus: {writes[-1]}: No space left on device" in text
    assert "20 seed(s) are in" in text
    assert len(list(corpus.iterdir())) == 20

    monkeypatch.setattr(campaign, "write_atomic", write_atomic)
    lines.clear()
    assert Campaign(cfg, stream=Stream())._seed(corpus) is True  # type: ignore[arg-type]
    want = export_seeds(SEEDS, tmp_path / "all")
    assert len(list(corpus.iterdir())) == want
    assert f"reseeded {want - 20} seed program(s) missing" in "".join(lines)


# --- the driver killed ----------------------------------------------------------------


@pytest.mark.fuzz
def test_sigkill_of_the_driver_stops_all_writing_to_the_corpus(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*FUZZ, "--time", "600", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    children: list[int] = []
    while time.monotonic() < deadline and not children:
        time.sleep(0.2)
        children = _descendants(proc.pid)
    assert children, "the campaign started no child"
    time.sleep(2)  # libFuzzer at work
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(c) for c in children):
        time.sleep(0.1)
    assert not [c for c in children if _alive(c)], "a child outlived the campaign"
    before = sorted(p.name for p in (out / "corpus").iterdir())
    time.sleep(2)
    assert sorted(p.name for p in (out / "corpus").iterdir()) == before


# --- damaged findings -----------------------------------------------------------------


@pytest.mark.fuzz
def test_a_resume_skips_damaged_findings_and_goes_on(tmp_path: Path) -> None:
    """Real findings (the target on the seeds), three of them damaged: a
    corrupt record, a missing input, an empty input."""
    pytest.importorskip("atheris")
    out = tmp_path / "out"
    findings = out / "findings"
    target = DifferentialTarget((Side("reference", DOCUMENTED), Side("reference", WINDOWS)),
                                findings=findings)  # fmt: skip
    export_seeds(SEEDS, tmp_path / "seeds")
    for seed in sorted((tmp_path / "seeds").iterdir()):
        target(seed.read_bytes())
    keys = sorted(p.stem for p in findings.glob("*.json"))
    assert len(keys) >= 4, keys
    corrupt, missing, empty, *good = keys
    (findings / f"{corrupt}.json").write_text('{"signature": "closesocket ev')
    (findings / f"{missing}.bin").unlink()
    (findings / f"{empty}.bin").write_bytes(b"")
    done = subprocess.run([*FUZZ, "--runs", "1", "--out", str(out)], capture_output=True,
                          text=True, env=_env(), timeout=600)  # fmt: skip
    text = done.stdout + done.stderr
    assert done.returncode == 0, text  # between profiles: the known switches explain them
    assert "Traceback" not in text
    warn = "warning: damaged finding skipped: "
    assert f"{warn}{findings / corrupt}.json: unreadable" in text
    assert f"{warn}{findings / missing}.bin: No such file or directory" in text
    assert f"{warn}{findings / empty}.bin: empty input" in text
    assert {p.stem for p in findings.glob("*.done")} == set(good)  # the others all done
    assert json.loads((out / "causes.json").read_text())  # with their root causes


# --- a child that will not stop -------------------------------------------------------

STUBBORN = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "while True:\n"
    "    print('#100 NEW cov: 1 ft: 1 corp: 1/1b exec/s: 1', file=sys.stderr, flush=True)\n"
    "    time.sleep(0.05)\n"
)


class _Quiet:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize("fault", ["sigterm", "full-log"])
def test_a_child_that_ignores_sigint_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """A SIGTERM, or a log that cannot be written, stops the child; one that
    ignores the SIGINT is killed KILL_AFTER seconds later (here 1), so the
    campaign always ends."""
    import threading

    monkeypatch.setattr(campaign, "KILL_AFTER", 1)
    monkeypatch.setattr(campaign, "command", lambda *a, **k: [sys.executable, "-c", STUBBORN])
    out = tmp_path / "out"
    cfg = Config(sides=(Side("reference", DOCUMENTED), Side("reference", WINDOWS)), out=out,
                 time=600)  # fmt: skip
    if fault == "sigterm":
        threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    else:

        def fail_after_a_while(self: campaign._Log, text: str) -> None:
            if self.path.stat().st_size > 2000:
                self._fail(OSError(errno.EIO, "Input/output error"))
            elif self._file is not None:
                self._file.write(text)
                self._file.flush()

        monkeypatch.setattr(campaign._Log, "write", fail_after_a_while)
    started = time.monotonic()
    summary = Campaign(cfg, stream=_Quiet()).run()  # type: ignore[arg-type]
    assert time.monotonic() - started < 30
    if fault == "sigterm":
        assert summary.interrupted and summary.exit_code == 130
    else:
        assert summary.io_error == f"{out / 'libfuzzer.log'}: Input/output error"
        assert summary.exit_code == 1
    assert summary.child_status == -signal.SIGKILL  # it had to be killed
