"""The fuzz campaign driver behind ``wsa-harness fuzz`` and ``make fuzz``.

It runs the atheris target under libFuzzer in a child process, shows live
progress (executions, exec/s, coverage, corpus size, findings), minimizes each
distinct finding into a readable reproducer as soon as it appears, groups the
findings by root cause, and prints a summary.  Ctrl-C or SIGTERM stops the
child cleanly; every finding already recorded is still minimized and saved,
and the corpus stays usable for a later run with the same ``--out``/``--corpus``.

Findings are divergences between the sides, violated invariants, and engine
faults (:mod:`harness.oracle.faults`): an exception, runaway settling work,
a malformed trace, and, through libFuzzer's crash files, a fatal signal, a
hang (``-timeout``) or running out of memory (``-rss_limit_mb``).  After such
a crash file the child is restarted for the rest of the budget.

Root causes (one reproducer each, the smallest; the signatures it covers are
listed under it with their counts): between two profiles, the switch or
switch set whose flip removes the divergence; between engines, the first
divergent call and the rules the reference applied there; for a fault, its
kind, engine, what and the call.  The exit status (:attr:`Summary.exit_code`):
0 nothing unexpected, 1 an unexpected finding (between engines every finding
is unexpected; between profiles one that known switches do not explain, or
any with ``strict``), 130 interrupted (findings saved).

A campaign holds a lock on its output folder; the same ``-seed`` and
``-runs`` give the same findings (the child's hash seed is fixed).
"""

from __future__ import annotations

import ctypes
import dataclasses
import fcntl
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

from harness.fuzz.policy import DEFAULT_POLICY, Checked
from harness.fuzz.real import CampaignSide, NotReproduced, reach_line, read_reach
from harness.fuzz.target import (
    CHECKED_FILE,
    COUNTS_FILE,
    DEFAULT_MAX_STEPS,
    FINDINGS_ENV,
    INITIAL_ENV,
    JOB_ENV,
    MAX_STEPS_ENV,
    POLICY_ENV,
    SIDES_ENV,
    job_file,
    resolve_sides,
    signature_key,
)
from harness.lang.encoding import FULL, Grammar, NotRepresentable, decode, encode
from harness.lang.parser import parse_file
from harness.lang.program import Program
from harness.lang.render import format_program
from harness.oracle import reproducers
from harness.oracle.diff import Side
from harness.oracle.faults import DEFAULT_TIMEOUT, Fault, fault_of
from harness.vocab import resources
from harness.vocab.errors import HarnessError
from harness.vocab.fsutil import write_atomic

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parents[1]
_STAT = re.compile(
    r"#(\d+)\s*:?\s+\S*\s*cov: (\d+) ft: (\d+) corp: (\d+)(?:/\S+)?.*?exec/s:? (\d+)"
)
_FINAL = re.compile(r"stat::(\w+):\s+(\d+)")
_INITED = re.compile(r"INITED cov: (\d+) ft: (\d+)")
EXIT_CLEAN, EXIT_FINDING, EXIT_INTERRUPTED = 0, 1, 130
#: how often the child may be restarted after a crash file in one campaign
MAX_RESTARTS = 20
#: libFuzzer's crash files, by prefix: the fault each one stands for
ARTIFACTS = {"crash-": "crash", "timeout-": "hang", "oom-": "oom", "leak-": "crash"}
LOCK_FILE = ".lock"
#: seconds a stopped child has to end before it is killed
KILL_AFTER = 10
_T = TypeVar("_T")
CAUSES_FILE = "causes.json"


@dataclass
class Config:
    sides: tuple[Side, Side]
    out: Path
    corpus: Path | None = None
    time: int | None = 60
    runs: int | None = None
    jobs: int = 1
    max_steps: int = DEFAULT_MAX_STEPS
    seeds: Path | None = None
    extra: list[str] = field(default_factory=list)
    #: extra environment for the fuzzing child only (e.g. an instrumented core)
    env: dict[str, str] = field(default_factory=dict)
    #: between profiles: count every finding as unexpected
    strict: bool = False
    #: seconds one input may take (libFuzzer's -timeout; a hang finding past it)
    timeout: float = DEFAULT_TIMEOUT
    #: libFuzzer's -rss_limit_mb (an oom finding past it)
    rss_limit_mb: int = 2048
    #: when the reference runs (harness.fuzz.policy.POLICIES)
    reference: str = DEFAULT_POLICY


@dataclass
class Cause:
    """One root cause: its smallest reproducer and the signatures it covers."""

    key: str
    #: the reproducer's path, relative to the output folder
    reproducer: str
    steps: int
    expected: bool
    kind: str
    signatures: dict[str, int] = field(default_factory=dict)
    #: with a real side: explained, known or new (harness.fuzz.real)
    attribution: str = ""


@dataclass
class Summary:
    execs: int = 0
    exec_per_sec: int = 0
    cov: int = 0
    ft: int = 0
    corpus: int = 0
    divergences: int = 0
    reproducers: list[Path] = field(default_factory=list)
    interrupted: bool = False
    final: dict[str, int] = field(default_factory=dict)
    child_status: int = 0
    causes: dict[str, Cause] = field(default_factory=dict)
    restarts: int = 0
    #: coverage of the final corpus replayed by one process (comparable across --jobs)
    replayed: tuple[int, int] | None = None
    #: the write that failed and stopped the campaign ("PATH: No space left on device")
    io_error: str | None = None
    #: how many inputs the reference checked during fuzzing, and why
    checked: Checked = field(default_factory=Checked)
    #: inputs of the final corpus replayed on both sides (core-led), or None
    final_checked: int | None = None
    #: with a real side: findings whose program showed another outcome on every
    #: rerun (key -> how many reruns agreed), counted apart from the root causes
    unreproduced: dict[str, int] = field(default_factory=dict)

    @property
    def unexpected(self) -> list[Cause]:
        return [c for c in self.causes.values() if not c.expected]

    @property
    def exit_code(self) -> int:
        if self.io_error is not None:
            return EXIT_FINDING  # a failure of the run
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FINDING if self.unexpected else EXIT_CLEAN


def export_seeds(
    seeds: Path,
    corpus: Path,
    skipped: list[str] | None = None,
    *,
    missing_only: bool = False,
    grammar: Grammar = FULL,
) -> int:
    """Encode every seed program representable under ``grammar`` into ``corpus``
    (as binary); ``skipped`` collects ``NAME: reason`` for each one that has no
    binary form.  With ``missing_only``, a seed already in the corpus (a
    non-empty ``seed-NAME.bin``) is left alone: a seeding cut short (a full
    disk) is finished by the next run.  A write that fails raises OSError
    naming the file; what was written before it stays."""
    count = 0
    for path in sorted(seeds.glob("*.wsa")):
        target = corpus / f"seed-{path.stem}.bin"
        if missing_only and _size(target) > 0:
            continue
        try:
            data = encode(parse_file(path), grammar)
        except (NotRepresentable, HarnessError) as exc:
            if skipped is not None:
                skipped.append(f"{path.name}: {exc}")
            continue
        write_atomic(target, data)
        count += 1
    return count


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _launcher(out: Path) -> Path:
    """An executable that runs the target with this interpreter, so that
    libFuzzer's fork mode can re-execute it."""
    path = out / "fuzz_differential"
    text = f"#!{sys.executable}\nfrom harness.fuzz.entry import main\nmain()\n"
    if not path.exists() or path.read_text() != text:
        write_atomic(path, text)
        path.chmod(0o755)
    return path


def command(
    cfg: Config, corpus: Path, runs: int | None = None, seconds: int | None = None
) -> list[str]:
    """The child's command line; ``runs``/``seconds`` (the rest of the budget
    after a restart) override the configured budget."""
    cmd = [str(_launcher(cfg.out)), str(corpus)]
    runs = cfg.runs if runs is None else runs
    seconds = cfg.time if seconds is None else seconds
    if runs is not None:
        cmd.append(f"-runs={runs}")
    if seconds is not None:
        cmd.append(f"-max_total_time={seconds}")
    cmd += [
        f"-max_len={1 + 4 * cfg.max_steps}",
        "-print_final_stats=1",
        f"-artifact_prefix={cfg.out / 'crashes'}/",
        f"-timeout={max(1, round(cfg.timeout))}",
        f"-rss_limit_mb={cfg.rss_limit_mb}",
    ]
    if cfg.jobs == 1:
        # libFuzzer rereads the folder every second by default and runs what it
        # finds there again: when that happens depends on the clock, so one job
        # would not give the same files for the same -seed and -runs.  Only
        # jobs sharing a folder need it.
        cmd.append("-reload=0")
    dictionary = PACKAGE / "fuzz_differential.dict"
    if dictionary.exists():
        cmd.append(f"-dict={dictionary}")
    return cmd + cfg.extra


def job_command(cmd: list[str], job: int) -> list[str]:
    """Job ``job``'s command line: its own ``-seed`` (the given one plus
    ``job``) when one is given, else libFuzzer picks one."""
    seeds = [a for a in cmd if a.startswith("-seed=")]
    if job == 0 or not seeds or not seeds[-1][6:].isdigit():
        return cmd
    return [*cmd, f"-seed={int(seeds[-1][6:]) + job}"]


class Campaign:
    def __init__(self, cfg: Config, stream: TextIO = sys.stdout) -> None:
        self.cfg = cfg
        self.stream = stream
        self.summary = Summary()
        self.findings = cfg.out / "findings"
        self.repro_dir = cfg.out / "reproducers"
        self.crashes = cfg.out / "crashes"
        self.done: set[str] = set()
        self.triaged: set[str] = set()
        self._last_print = 0.0
        #: the first failed write ("PATH: No space left on device"), if any
        self.io_error: str | None = None
        #: the parent's half of a real side (harness.fuzz.real), if there is one
        self.real = CampaignSide.of(cfg.sides, cfg.max_steps)

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def run(self) -> Summary:
        cfg = self.cfg
        corpus = cfg.corpus or cfg.out / "corpus"
        for d in (cfg.out, corpus, self.findings, self.repro_dir, self.crashes):
            d.mkdir(parents=True, exist_ok=True)
        lock = _lock(cfg.out)
        try:
            return self._run(corpus)
        finally:
            lock.close()
            if self.real is not None:
                self.real.close()

    def _decode(self, data: bytes, side: Side) -> Program:
        if self.real is not None:
            return self.real.decode(data)
        return decode(data, side.profile, self.cfg.max_steps)

    def _seed(self, corpus: Path) -> bool:
        """Seed an empty corpus, or finish a seeding cut short; False when a
        write failed (the message names the file)."""
        cfg = self.cfg
        _drop_empty(corpus)
        inputs = sum(1 for _ in corpus.iterdir())
        if inputs:
            self.say(f"resuming from {inputs} inputs in {corpus}")
        if cfg.seeds is None or not cfg.seeds.is_dir():
            if not inputs:
                self.say(f"starting from an empty corpus in {corpus}: no seed programs given")
            return True
        skipped: list[str] = []
        folders = [cfg.seeds] if self.real is None else self.real.seed_folders(cfg.seeds)
        grammar = FULL if self.real is None else self.real.grammar
        try:
            n = sum(
                export_seeds(f, corpus, skipped, missing_only=bool(inputs), grammar=grammar)
                for f in folders
            )
        except OSError as exc:
            self._io_failed(exc, "seeding the corpus")
            done = sum(1 for _ in corpus.glob("seed-*.bin"))
            self.say(f"  {done} seed(s) are in {corpus}; the next run writes the missing ones")
            return False
        where = " and ".join(resources.describe(f) for f in folders)
        if not inputs:
            self.say(f"seeding {corpus} with {n} seed programs from {where}")
            if skipped:
                self.say(f"  {len(skipped)} seed(s) have no binary form and are not fuzzed:")
                for line in skipped:
                    self.say(f"    {line}")
        elif n:
            self.say(f"  reseeded {n} seed program(s) missing from it ({where})")
        return True

    def _io_failed(self, exc: OSError, doing: str) -> None:
        """Record the first write that failed (a full disk, an I/O error) and say
        so, naming the file; the campaign then stops the child and ends."""
        if self.io_error is not None:
            return
        where = f"{exc.filename}: " if exc.filename else ""
        self.io_error = f"{where}{exc.strerror or exc}"
        if self.stream.isatty():
            print(file=self.stream)
        self.say(f"error while {doing}: {self.io_error}; stopping the campaign")

    def _run(self, corpus: Path) -> Summary:
        cfg = self.cfg
        if not self._seed(corpus):
            self.summary.io_error = self.io_error
            self._print_summary()
            return self.summary
        self._load_causes()
        self.done = {p.stem for p in self.findings.glob("*.done")}
        self.triaged = {p.name for p in self.crashes.iterdir()}
        a, b = cfg.sides
        env = dict(os.environ)
        env.update(cfg.env)
        env[SIDES_ENV] = f"{a.engine}/{a.profile.name},{b.engine}/{b.profile.name}"
        env[FINDINGS_ENV] = str(self.findings)
        env[MAX_STEPS_ENV] = str(cfg.max_steps)
        env.setdefault("PYTHONHASHSEED", "0")  # the same -seed gives the same findings
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env[POLICY_ENV] = cfg.reference
        env[INITIAL_ENV] = str(sum(1 for _ in corpus.iterdir()) + 1)  # and libFuzzer's empty input
        for old in self.findings.glob("*.counted"):  # this run's counts only
            old.unlink(missing_ok=True)
        budget = f"{cfg.time} s" if cfg.runs is None else f"{cfg.runs} runs"
        self.say(
            f"fuzzing {a.label} vs {b.label} for {budget}, {cfg.jobs} job(s), "
            f"reference: {cfg.reference}; output in {cfg.out}"
        )
        log = _Log(cfg.out / "libfuzzer.log")
        try:
            self._fuzz(corpus, env, log)
        finally:
            log.close()
        if log.error is not None:
            self._io_failed(log.error, "writing the libFuzzer log")
        self._saving("saving findings", self._minimize_new)
        self.summary.corpus = max(self.summary.corpus, sum(1 for _ in corpus.iterdir()))
        self.summary.checked = self._read_checked()
        core_led = cfg.reference != "every" and self._has_leader()
        if (core_led or cfg.jobs > 1) and not self.summary.interrupted and self.io_error is None:
            self.summary.replayed = self._replay(corpus, env)
            if core_led:
                self.summary.final_checked = sum(1 for _ in corpus.iterdir())
                self._saving("saving findings", self._minimize_new)
        self.summary.io_error = self.io_error
        self._print_summary()
        return self.summary

    def _has_leader(self) -> bool:
        if self.real is not None:  # a real side and the model run every input
            return False
        a, b = self.cfg.sides
        return (a.engine == "reference") != (b.engine == "reference")

    def _read_checked(self) -> Checked:
        checked = Checked()
        for path in sorted(self.findings.glob(job_file(CHECKED_FILE, "*"))):
            try:
                checked.add(path.read_text())
            except (OSError, ValueError):
                continue
        first = self.findings / CHECKED_FILE
        if first.exists():
            try:
                checked.add(first.read_text())
            except (OSError, ValueError):
                pass
        return checked

    def _fuzz(self, corpus: Path, env: dict[str, str], log: _Log) -> None:
        """Run ``--jobs`` libFuzzer children on one corpus folder to the end of
        the budget (each job reloads the folder, so each sees the others'
        finds); a job that ended on a crash file is restarted for the rest.
        A failed write (the log, a finding, a reproducer) stops them all; one
        that does not end within KILL_AFTER seconds of being stopped is killed."""
        cfg = self.cfg
        started = time.monotonic()
        lines: queue.Queue[tuple[int, str | None]] = queue.Queue()
        jobs = [_Job(k) for k in range(cfg.jobs)]
        stop = threading.Event()
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def halt(sig: int = signal.SIGINT) -> None:
            stop.set()
            for job in jobs:
                if job.child is not None:
                    _signal_child(job.child, sig)

        def on_signal(signum: int, frame: object) -> None:
            # a second signal does not wait for libFuzzer to finish cleanly
            again = self.summary.interrupted
            self.summary.interrupted = True
            halt(signal.SIGKILL if again else signal.SIGINT)

        def start(job: _Job) -> bool:
            share = _share(cfg)
            runs = None if share is None else share - job.done_execs
            seconds = None
            if cfg.time is not None:
                seconds = max(1, round(cfg.time - (time.monotonic() - started)))
            cmd = job_command(command(cfg, corpus, runs, seconds), job.index)
            log.write(
                f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()} "
                f"job {job.index}: {' '.join(cmd)}\n"
            )
            if log.error is not None:
                self._io_failed(log.error, "writing the libFuzzer log")
                return False
            job_env = dict(env)
            job_env[JOB_ENV] = str(job.index)
            job.child = subprocess.Popen(
                cmd, env=job_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                errors="replace", start_new_session=True, preexec_fn=_child_setup,
            )  # fmt: skip
            job.reader = threading.Thread(
                target=_pump, args=(job.child.stderr, lines, log, job.index), daemon=True
            )
            job.reader.start()
            if stop.is_set():
                _signal_child(job.child, signal.SIGINT)
            return True

        # The handlers come first: a signal while a child starts must stop it,
        # not leave it running in its own session after this process has gone.
        for sig in previous:
            signal.signal(sig, on_signal)
        try:
            for job in jobs:
                if not start(job):
                    break
            next_scan = time.monotonic() + 2
            stopped_at: float | None = None
            while any(job.child is not None for job in jobs):
                try:
                    index, line = lines.get(timeout=0.5)
                except queue.Empty:
                    index, line = -1, ""
                if line is None:
                    job = jobs[index]
                    if self._ended(job, corpus, started) and not stop.is_set():
                        self.summary.restarts += 1
                        start(job)
                elif line:
                    self._parse(jobs[index], line)
                    self._total(jobs)
                if log.error is not None:
                    self._io_failed(log.error, "writing the libFuzzer log")
                if time.monotonic() >= next_scan and not stop.is_set():
                    self._saving("saving findings", self._minimize_new)
                    next_scan = time.monotonic() + 2
                if self.io_error is not None and not stop.is_set():
                    halt(signal.SIGINT)
                if stop.is_set():
                    stopped_at = stopped_at or time.monotonic()
                    if time.monotonic() - stopped_at > KILL_AFTER:
                        halt(signal.SIGKILL)
                self._progress()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for job in jobs:
                if job.child is not None:
                    _stop(job)
            self._total(jobs)

    def _ended(self, job: _Job, corpus: Path, started: float) -> bool:
        """A job's stderr has ended: reap it and triage its crash files; True
        when it should be restarted for the rest of the budget."""
        cfg = self.cfg
        assert job.child is not None
        _stop(job)
        status = job.child.returncode
        job.child = None
        self.summary.child_status = status if status else self.summary.child_status
        job.done_execs += job.execs
        job.execs = 0
        _drop_empty(corpus)  # a write the child could not finish
        new_artifacts = self._saving("recording crash files", self._triage) or []
        share = _share(cfg)
        left = (share is None or job.done_execs < share) and (
            cfg.time is None or time.monotonic() - started < cfg.time - 1
        )
        if self.io_error is not None or self.summary.interrupted:
            return False
        if status == 0 or not new_artifacts or not left:
            return False
        if self.summary.restarts >= MAX_RESTARTS:
            self.say(f"stopping job {job.index}: {MAX_RESTARTS} restarts after crash files")
            return False
        self.say(f"restarting libFuzzer (job {job.index}) after {', '.join(new_artifacts)}")
        return True

    def _saving(self, doing: str, action: Callable[[], _T]) -> _T | None:
        """Run ``action``; a failed write is recorded (the campaign stops), not raised."""
        try:
            return action()
        except OSError as exc:
            self._io_failed(exc, doing)
            return None

    def _parse(self, job: _Job, line: str) -> None:
        if m := _STAT.search(line):
            job.execs, job.cov, job.ft, job.corpus, job.exec_per_sec = map(int, m.groups())
        elif m := _FINAL.search(line):
            job.final[m.group(1)] = int(m.group(2))
            if m.group(1) == "number_of_executed_units":
                job.execs = int(m.group(2))
            if m.group(1) == "average_exec_per_sec":
                job.exec_per_sec = int(m.group(2))

    def _total(self, jobs: list[_Job]) -> None:
        """The summary's figures from the jobs': executions and exec/s added up,
        coverage and corpus the largest one job saw."""
        s = self.summary
        s.execs = sum(j.done_execs + j.execs for j in jobs)
        s.exec_per_sec = sum(j.exec_per_sec for j in jobs)
        s.cov = max(s.cov, *(j.cov for j in jobs))
        s.ft = max(s.ft, *(j.ft for j in jobs))
        s.corpus = max(s.corpus, *(j.corpus for j in jobs))
        final: dict[str, int] = {}
        for j in jobs:
            for key, value in j.final.items():
                final[key] = (
                    final.get(key, 0) + value
                    if key != "peak_rss_mb"
                    else max(final.get(key, 0), value)
                )
        s.final = final

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_print < (1 if self.stream.isatty() else 5):
            return
        self._last_print = now
        s = self.summary
        s.divergences = len(list(self.findings.glob("*.json")))
        text = (
            f"execs {s.execs:>9}  exec/s {s.exec_per_sec:>6}  cov {s.cov:>5}  ft {s.ft:>5}  "
            f"corpus {s.corpus:>5}  findings {s.divergences}  causes {len(s.causes)}"
        )
        if self.stream.isatty():
            print(f"\r{text}", end="", file=self.stream, flush=True)
        else:
            self.say(text)

    # --- crash files -------------------------------------------------------------------

    def _triage(self) -> list[str]:
        """Turn libFuzzer's new crash files into findings; their names."""
        new = []
        for path in sorted(self.crashes.iterdir()):
            kind = next((k for prefix, k in ARTIFACTS.items() if path.name.startswith(prefix)), "")
            if not kind or path.name in self.triaged:
                continue
            self.triaged.add(path.name)
            new.append(path.name)
            data = path.read_bytes()
            fault = self._fault_on(data, kind)
            a, b = resolve_sides(self.cfg.sides, data)
            program = self._decode(data, a)
            key = signature_key(fault.signature)
            if (self.findings / f"{key}.json").exists():
                continue
            write_atomic(self.findings / f"{key}.bin", data)
            meta = {
                "signature": fault.signature,
                "kind": fault.kind,
                "sides": [a.label, b.label],
                "report": f"{fault.render()}\nlibFuzzer: {path}\n\n{format_program(program)}",
            }
            write_atomic(self.findings / f"{key}.json", json.dumps(meta, indent=2) + "\n")
        return new

    def _fault_on(self, data: bytes, kind: str) -> Fault:
        """Which side faults on a crash file's input, run apart with a time limit."""
        if self.real is not None:  # a real engine runs in the target's process
            return self.real.fault(kind)
        for side in resolve_sides(self.cfg.sides, data):
            program = decode(data, side.profile, self.cfg.max_steps)
            fault = fault_of(
                program, side.engine, side.profile, isolate=True, timeout=self.cfg.timeout
            )
            if fault is not None:
                return Fault("oom", side.engine) if kind == "oom" else fault
        # neither engine alone: the target itself (e.g. both together past the limit)
        return Fault(kind, "target")

    # --- reproducers and root causes ------------------------------------------------------

    def _minimize_new(self) -> None:
        counts: dict[str, int] = {}
        for path in self.findings.glob("*.counted"):
            if path.name.startswith(COUNTS_FILE.partition(".")[0]):
                for key, n in _read_counts(path).items():
                    counts[key] = counts.get(key, 0) + n

        for meta_path in sorted(self.findings.glob("*.json")):
            key = meta_path.stem
            if key in self.done:
                continue
            loaded = self._load_finding(meta_path)
            if loaded is None:
                self.done.add(key)  # warned once; the files stay for a look
                continue
            meta, data = loaded
            repro = self._reproducer(meta, data, key)
            self.done.add(key)
            write_atomic(self.findings / f"{key}.done", "")
            if repro is None:
                continue
            self._add_cause(repro, str(meta["signature"]), counts.get(key, 1), data, key)
        for cause in self.summary.causes.values():
            for sig in cause.signatures:
                cause.signatures[sig] = max(
                    cause.signatures[sig], counts.get(signature_key(sig), 1)
                )
        self._save_causes()

    def _load_finding(self, meta_path: Path) -> tuple[dict[str, object], bytes] | None:
        """A finding's record and input; None, with a warning naming the file,
        when either is damaged (a resume goes on with the others)."""
        bin_path = meta_path.with_suffix(".bin")
        problem = ""
        try:
            meta = json.loads(meta_path.read_text())
            if not isinstance(meta, dict) or not isinstance(meta.get("signature"), str):
                problem = f"{meta_path}: not a finding record (no signature)"
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problem = f"{meta_path}: unreadable ({getattr(exc, 'strerror', None) or exc})"
        if not problem:
            try:
                data = bin_path.read_bytes()
                if not data:
                    problem = f"{bin_path}: empty input"
            except OSError as exc:
                problem = f"{bin_path}: {exc.strerror or exc}"
        if problem:
            if self.stream.isatty():
                print(file=self.stream)
            self.say(f"warning: damaged finding skipped: {problem}")
            return None
        return meta, data

    def _reproducer(
        self, meta: dict[str, object], data: bytes, key: str
    ) -> reproducers.Reproducer | None:
        a, b = resolve_sides(self.cfg.sides, data)
        kind = str(meta.get("kind", "divergence"))
        try:
            if self.real is not None:
                try:
                    return self.real.reproducer(meta, data, key)
                except NotReproduced as exc:
                    self.summary.unreproduced[key] = exc.agreed
                    self.say(
                        f"finding {meta['signature']} ({key}.bin) does not reproduce outside "
                        f"the target: {exc.describe()} (the engine's outcome changes from "
                        "run to run)"
                    )
                    return None
            program = decode(data, a.profile, self.cfg.max_steps)
            if kind in ("divergence", "invariant"):
                return reproducers.build(program, a, b, str(meta["signature"]), f"{key}.bin")
            isolate = kind in ("hang", "oom") or "signal" in str(meta["signature"])
            for side, other in ((a, b), (b, a)):
                fault = fault_of(
                    program, side.engine, side.profile, isolate=isolate, timeout=self.cfg.timeout
                )
                if fault is not None:
                    return reproducers.build_fault(
                        program, side, fault, other, f"{key}.bin", isolate, self.cfg.timeout
                    )
        except (AssertionError, ValueError) as exc:
            why = f": {exc}" if str(exc) else ""
            sig = meta["signature"]
            self.say(f"finding {sig} ({key}.bin) does not reproduce outside the target{why}")
            return None
        self.say(f"finding {meta['signature']} ({key}.bin) does not reproduce outside the target")
        return None

    def _add_cause(
        self, repro: reproducers.Reproducer, signature: str, count: int, data: bytes, key: str
    ) -> None:
        causes = self.summary.causes
        steps = len(repro.program.steps)
        cause = causes.get(repro.cause)
        expected = repro.expected and not self.cfg.strict
        kind = repro.fault.kind if repro.fault else "divergence"
        attribution = getattr(getattr(repro, "real_attribution", None), "kind", "")
        path = self.repro_dir / f"{signature_key(repro.cause)}.wsa"
        # the smallest wins, ties by text: the choice never depends on the order
        # in which findings came (the same -seed and -runs give the same files)
        if cause is None or (steps, repro.text) < (cause.steps, _text(path)):
            write_atomic(self.repro_dir / f"{signature_key(repro.cause)}.bin", data)
            reproducers.write(repro, path)
            if cause is None:
                where = str(path.relative_to(self.cfg.out))
                cause = causes[repro.cause] = Cause(
                    repro.cause, where, steps, expected, kind, attribution=attribution
                )
                if self.stream.isatty():
                    print(file=self.stream)
                label = "expected" if expected else "NEW"
                how = f" ({attribution})" if attribution else ""
                self.say(f"{label} {kind}{how}: {repro.cause} -> {path} ({steps} steps)")
            cause.steps = steps
        cause.signatures[signature] = count

    def _load_causes(self) -> None:
        path = self.cfg.out / CAUSES_FILE
        if not path.exists():
            return
        try:
            raw = json.loads(path.read_text())
            for item in raw:
                cause = Cause(**item)
                cause.expected = cause.expected and not self.cfg.strict
                self.summary.causes[cause.key] = cause
        except (ValueError, TypeError, KeyError) as exc:
            self.say(f"warning: {path}: unreadable ({exc}); root causes start afresh")

    def _save_causes(self) -> None:
        items = [dataclasses.asdict(c) for c in self.summary.causes.values()]
        write_atomic(self.cfg.out / CAUSES_FILE, json.dumps(items, indent=2) + "\n")

    # --- coverage and summary ---------------------------------------------------------------

    def _replay(self, corpus: Path, env: dict[str, str]) -> tuple[int, int] | None:
        """Replay the final corpus in one process (``-runs=0``) with the
        reference on every input: a core-led campaign's last check, and the
        coverage as one process sees it (comparable across ``--jobs``).  Its
        findings and crash files are triaged like the fuzzing's."""
        cfg = self.cfg
        cmd = [str(_launcher(cfg.out)), str(corpus), "-runs=0",
               f"-max_len={1 + 4 * cfg.max_steps}", f"-artifact_prefix={self.crashes}/",
               f"-timeout={max(1, round(cfg.timeout))}",
               f"-rss_limit_mb={cfg.rss_limit_mb}"]  # fmt: skip
        replay_env = dict(env)
        replay_env[POLICY_ENV] = "every"
        replay_env[JOB_ENV] = "replay"
        try:
            done = subprocess.run(
                cmd, env=replay_env, capture_output=True, text=True, timeout=600, check=False,
                preexec_fn=_child_setup,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            self.say("the final corpus's replay took over 600 s and was stopped")
            return None
        log = _Log(cfg.out / "libfuzzer.log")
        log.write(f"\n=== replay of the final corpus: {' '.join(cmd)}\n{done.stderr}")
        log.close()
        if log.error is not None:
            self._io_failed(log.error, "writing the libFuzzer log")
        _drop_empty(corpus)
        self._saving("recording crash files", self._triage)
        found = _INITED.findall(done.stderr)
        return (int(found[-1][0]), int(found[-1][1])) if found else None

    def _print_summary(self) -> None:
        self._progress(force=True)
        if self.stream.isatty():
            print(file=self.stream)
        s = self.summary
        self.say("")
        note = (
            " (stopped by a failed write)"
            if s.io_error
            else " (interrupted)"
            if s.interrupted
            else ""
        )
        self.say("summary" + note)
        if s.io_error:
            self.say(f"  failed write      {s.io_error}")
        self.say(f"  executions        {s.execs}")
        self.say(f"  exec/s (average)  {s.final.get('average_exec_per_sec', s.exec_per_sec)}")
        if self.cfg.jobs > 1:
            self.say(f"  coverage          cov {s.cov}, ft {s.ft} (the largest one job saw)")
        else:
            self.say(f"  coverage          cov {s.cov}, ft {s.ft}")
        if s.replayed is not None:
            cov, ft = s.replayed
            self.say(f"  coverage, replay  cov {cov}, ft {ft} (the final corpus, one process)")
        self.say(f"  corpus            {s.corpus} inputs")
        if s.checked.executions:
            self.say(f"  reference checked {s.checked.line()}")
        if s.final_checked is not None:
            self.say(f"  final corpus      {s.final_checked} inputs replayed on both sides")

        if s.restarts:
            self.say(f"  restarts          {s.restarts} (after crash files)")
        findings = sum(len(c.signatures) for c in s.causes.values())
        unexpected = s.unexpected
        self.say(
            f"  root causes       {len(s.causes)} ({len(unexpected)} unexpected), "
            f"from {findings} distinct signatures"
        )
        if self.real is not None and (reach := read_reach(self.findings)) is not None:
            self.say(f"  reach             {reach_line(reach)}")
        if s.unreproduced:
            n, agreed = len(s.unreproduced), sum(1 for a in s.unreproduced.values() if a)
            self.say(
                f"  not reproduced    {n} finding(s): {agreed} agreed on a rerun, "
                f"{n - agreed} differed first elsewhere on every rerun (timing of the "
                "real engine; each is named above)"
            )
        for cause in sorted(s.causes.values(), key=lambda c: (c.expected, c.key)):
            label = "expected  " if cause.expected else "UNEXPECTED"
            how = f" ({cause.attribution})" if cause.attribution else ""
            self.say(f"    {label} {cause.key}{how}")
            self.say(f"               {self.cfg.out / cause.reproducer} ({cause.steps} steps)")
            for sig, n in sorted(cause.signatures.items(), key=lambda kv: (-kv[1], kv[0])):
                self.say(f"                 {n:>6} x {sig}")
        status = s.child_status
        if status not in (0, None) and not s.interrupted and not s.causes:
            log = self.cfg.out / "libfuzzer.log"
            self.say(f"  libFuzzer exited with status {status}; see {log}")
        self.say(f"  exit status       {s.exit_code}")


@dataclass
class _Job:
    """One libFuzzer child of a campaign and what its stderr said."""

    index: int
    child: subprocess.Popen[str] | None = None
    reader: threading.Thread | None = None
    #: executions of this job's earlier runs (before a restart)
    done_execs: int = 0
    execs: int = 0
    exec_per_sec: int = 0
    cov: int = 0
    ft: int = 0
    corpus: int = 0
    final: dict[str, int] = field(default_factory=dict)


def _share(cfg: Config) -> int | None:
    """One job's share of a ``--runs`` budget."""
    return None if cfg.runs is None else -(-cfg.runs // cfg.jobs)


def _stop(job: _Job) -> None:
    """Stop a job's child (if it still runs), reap it, close its stderr."""
    child = job.child
    assert child is not None
    if child.poll() is None:
        _signal_child(child, signal.SIGINT)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_child(child, signal.SIGKILL)
            child.wait()
    if job.reader is not None:
        job.reader.join(timeout=5)
    if child.stderr is not None and (job.reader is None or not job.reader.is_alive()):
        child.stderr.close()


_PR_SET_PDEATHSIG = 1
_ADDR_NO_RANDOMIZE = 0x0040000


def _child_setup() -> None:
    """In the fuzzing child before exec (Linux): die with this process, so a
    SIGKILL of the campaign never leaves libFuzzer writing the corpus; and
    run without address randomization, because the instrumented Python code's
    coverage depends on object addresses, and the same -seed must give the
    same findings.  Elsewhere both are skipped."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        current = libc.personality(0xFFFFFFFF)
        if current != -1:
            libc.personality(current | _ADDR_NO_RANDOMIZE)
    except (OSError, AttributeError):
        pass


def _lock(out: Path) -> TextIO:
    """Hold ``OUT/.lock`` for the campaign; a second campaign is refused."""
    path = out / LOCK_FILE
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise HarnessError(
            f"{out}: another campaign (pid {holder}) is using this folder; "
            "wait for it or give another --out"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _read_counts(path: Path) -> dict[str, int]:
    try:
        raw = json.loads(path.read_text())
        return {str(k): int(v) for k, v in raw.items()}
    except (OSError, ValueError, AttributeError):
        return {}


class _Log:
    """``OUT/libfuzzer.log``, appended.  A write that fails (a full disk, an
    I/O error) is kept in ``error`` instead of raised, so the thread that
    copies the child's output never dies on it; the campaign sees it, stops
    the child and ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.error: OSError | None = None
        try:
            self._file: TextIO | None = path.open("a")
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        if self.error is None:
            self.error = OSError(exc.errno, exc.strerror or str(exc), str(self.path))
        f, self._file = self._file, None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass  # the buffered rest cannot be written either

    def write(self, text: str) -> None:
        if self._file is None:
            return
        try:
            self._file.write(text)
            self._file.flush()
        except OSError as exc:
            self._fail(exc)

    def close(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            try:
                f.close()
            except OSError as exc:
                self._fail(exc)


def _pump(
    stream: TextIO | None, lines: queue.Queue[tuple[int, str | None]], log: _Log, job: int
) -> None:
    """Copy a job's output to the log (job N > 0's lines marked ``[job N]``)
    and the queue; the queue always ends with the job's None, whatever happens."""
    assert stream is not None
    try:
        for line in stream:
            log.write(line if job == 0 else f"[job {job}] {line}")
            lines.put((job, line.rstrip("\n")))
    finally:
        lines.put((job, None))


def _drop_empty(corpus: Path) -> None:
    """Remove zero-byte files from the corpus: what a write that failed for
    the child leaves (libFuzzer never adds an empty input)."""
    try:
        entries = list(os.scandir(corpus))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_size == 0:
                os.unlink(entry.path)
        except OSError:
            pass


def _signal_child(child: subprocess.Popen[str], sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass
