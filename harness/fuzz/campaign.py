"""The fuzz campaign driver behind ``wsa-harness fuzz`` and ``make fuzz``.

It runs the atheris target under libFuzzer in a child process, shows live
progress (executions, exec/s, coverage, corpus size, distinct divergences),
minimizes each distinct divergence into a readable reproducer as soon as it
appears, and prints a summary.  Ctrl-C or SIGTERM stops the child cleanly;
every finding already recorded is still minimized and saved, and the corpus
stays usable for a later run with the same ``--out``/``--corpus``.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from harness.fuzz.target import (
    DEFAULT_MAX_STEPS,
    FINDINGS_ENV,
    MAX_STEPS_ENV,
    SIDES_ENV,
    resolve_sides,
)
from harness.lang.encoding import NotRepresentable, decode, encode
from harness.lang.parser import parse_file
from harness.oracle import reproducers
from harness.oracle.diff import Side
from harness.vocab import resources
from harness.vocab.errors import HarnessError
from harness.vocab.fsutil import write_atomic

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parents[1]
_STAT = re.compile(
    r"#(\d+)\s*:?\s+\S*\s*cov: (\d+) ft: (\d+) corp: (\d+)(?:/\S+)?.*?exec/s:? (\d+)"
)
_FINAL = re.compile(r"stat::(\w+):\s+(\d+)")


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


def export_seeds(seeds: Path, corpus: Path, skipped: list[str] | None = None) -> int:
    """Encode every representable seed program into ``corpus`` (as binary);
    ``skipped`` collects ``NAME: reason`` for each one that has no binary form."""
    count = 0
    for path in sorted(seeds.glob("*.wsa")):
        try:
            data = encode(parse_file(path))
        except (NotRepresentable, HarnessError) as exc:
            if skipped is not None:
                skipped.append(f"{path.name}: {exc}")
            continue
        write_atomic(corpus / f"seed-{path.stem}.bin", data)
        count += 1
    return count


def _launcher(out: Path) -> Path:
    """An executable that runs the target with this interpreter, so that
    libFuzzer's fork mode can re-execute it."""
    path = out / "fuzz_differential"
    text = f"#!{sys.executable}\nfrom harness.fuzz.entry import main\nmain()\n"
    if not path.exists() or path.read_text() != text:
        write_atomic(path, text)
        path.chmod(0o755)
    return path


def command(cfg: Config, corpus: Path) -> list[str]:
    cmd = [str(_launcher(cfg.out)), str(corpus)]
    if cfg.runs is not None:
        cmd.append(f"-runs={cfg.runs}")
    if cfg.time is not None:
        cmd.append(f"-max_total_time={cfg.time}")
    cmd += [
        f"-max_len={1 + 4 * cfg.max_steps}",
        "-print_final_stats=1",
        f"-artifact_prefix={cfg.out / 'crashes'}/",
        "-timeout=20",
    ]
    dictionary = PACKAGE / "fuzz_differential.dict"
    if dictionary.exists():
        cmd.append(f"-dict={dictionary}")
    if cfg.jobs > 1:
        cmd.append(f"-fork={cfg.jobs}")
    return cmd + cfg.extra


class Campaign:
    def __init__(self, cfg: Config, stream: TextIO = sys.stdout) -> None:
        self.cfg = cfg
        self.stream = stream
        self.summary = Summary()
        self.findings = cfg.out / "findings"
        self.repro_dir = cfg.out / "reproducers"
        self.done: set[str] = set()
        self._last_print = 0.0

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def run(self) -> Summary:
        cfg = self.cfg
        corpus = cfg.corpus or cfg.out / "corpus"
        for d in (cfg.out, corpus, self.findings, self.repro_dir, cfg.out / "crashes"):
            d.mkdir(parents=True, exist_ok=True)
        if inputs := sum(1 for _ in corpus.iterdir()):
            self.say(f"resuming from {inputs} inputs in {corpus}")
        elif cfg.seeds is not None and cfg.seeds.is_dir():
            skipped: list[str] = []
            n = export_seeds(cfg.seeds, corpus, skipped)
            self.say(
                f"seeding {corpus} with {n} seed programs from {resources.describe(cfg.seeds)}"
            )
            if skipped:
                self.say(f"  {len(skipped)} seed(s) have no binary form and are not fuzzed:")
                for line in skipped:
                    self.say(f"    {line}")
        else:
            self.say(f"starting from an empty corpus in {corpus}: no seed programs given")
        self.done = {p.stem for p in self.repro_dir.glob("*.wsa")}
        a, b = cfg.sides
        env = dict(os.environ)
        env.update(cfg.env)
        env[SIDES_ENV] = f"{a.engine}/{a.profile.name},{b.engine}/{b.profile.name}"
        env[FINDINGS_ENV] = str(self.findings)
        env[MAX_STEPS_ENV] = str(cfg.max_steps)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        budget = f"{cfg.time} s" if cfg.runs is None else f"{cfg.runs} runs"
        self.say(
            f"fuzzing {a.label} vs {b.label} for {budget}, {cfg.jobs} job(s); output in {cfg.out}"
        )
        cmd = command(cfg, corpus)
        log = (cfg.out / "libfuzzer.log").open("w")
        lines: queue.Queue[str | None] = queue.Queue()
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        stop = threading.Event()
        started: list[subprocess.Popen[str]] = []

        def on_signal(signum: int, frame: object) -> None:
            self.summary.interrupted = True
            stop.set()
            for c in started:
                _signal_child(c, signal.SIGINT)

        # The handlers come first: a signal while the child starts must stop it,
        # not leave it running in its own session after this process has gone.
        for s in previous:
            signal.signal(s, on_signal)
        reader = None
        try:
            child = subprocess.Popen(
                cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                errors="replace", start_new_session=True,
            )  # fmt: skip
            started.append(child)
            if stop.is_set():
                _signal_child(child, signal.SIGINT)
            reader = threading.Thread(target=_pump, args=(child.stderr, lines, log), daemon=True)
            reader.start()
            self._watch(child, lines, stop)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            for c in started:
                if c.poll() is None:
                    _signal_child(c, signal.SIGINT)
                    try:
                        c.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        _signal_child(c, signal.SIGKILL)
                        c.wait()
            if reader is not None:
                reader.join(timeout=5)
            for c in started:  # the reader has seen the end of it
                if c.stderr is not None and (reader is None or not reader.is_alive()):
                    c.stderr.close()
            log.close()
        self.summary.child_status = child.returncode
        self._minimize_new()
        self.summary.corpus = max(self.summary.corpus, sum(1 for _ in corpus.iterdir()))
        self._print_summary()
        return self.summary

    def _watch(
        self, child: subprocess.Popen[str], lines: queue.Queue[str | None], stop: threading.Event
    ) -> None:
        next_scan = time.monotonic() + 2
        while True:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                line = ""
            if line is None:
                break
            if line:
                self._parse(line)
            if time.monotonic() >= next_scan and not stop.is_set():
                self._minimize_new()
                next_scan = time.monotonic() + 2
            self._progress()

    def _parse(self, line: str) -> None:
        s = self.summary
        if m := _STAT.search(line):
            s.execs, s.cov, s.ft, s.corpus, s.exec_per_sec = map(int, m.groups())
        elif m := _FINAL.search(line):
            s.final[m.group(1)] = int(m.group(2))
            if m.group(1) == "number_of_executed_units":
                s.execs = int(m.group(2))
            if m.group(1) == "average_exec_per_sec":
                s.exec_per_sec = int(m.group(2))

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_print < (1 if self.stream.isatty() else 5):
            return
        self._last_print = now
        s = self.summary
        s.divergences = len(list(self.findings.glob("*.json")))
        text = (
            f"execs {s.execs:>9}  exec/s {s.exec_per_sec:>6}  cov {s.cov:>5}  ft {s.ft:>5}  "
            f"corpus {s.corpus:>5}  divergences {s.divergences}"
        )
        if self.stream.isatty():
            print(f"\r{text}", end="", file=self.stream, flush=True)
        else:
            self.say(text)

    def _minimize_new(self) -> None:
        for meta_path in sorted(self.findings.glob("*.json")):
            key = meta_path.stem
            if key in self.done:
                continue
            meta = json.loads(meta_path.read_text())
            data = (self.findings / f"{key}.bin").read_bytes()
            a, b = resolve_sides(self.cfg.sides, data)
            program = decode(data, a.profile, self.cfg.max_steps)
            try:
                repro = reproducers.build(program, a, b, meta["signature"], f"{key}.bin")
            except (AssertionError, ValueError):
                continue  # not reproducible outside the target (should not happen)
            path = self.repro_dir / f"{key}.wsa"
            write_atomic(self.repro_dir / f"{key}.bin", data)
            reproducers.write(repro, path)
            self.done.add(key)
            self.summary.reproducers.append(path)
            if self.stream.isatty():
                print(file=self.stream)
            self.say(
                f"new divergence: {meta['signature']} -> {path} ({len(repro.program.steps)} steps)"
            )

    def _print_summary(self) -> None:
        self._progress(force=True)
        if self.stream.isatty():
            print(file=self.stream)
        s = self.summary
        all_repros = sorted(self.repro_dir.glob("*.wsa"))
        self.say("")
        self.say("summary" + (" (interrupted)" if s.interrupted else ""))
        self.say(f"  executions        {s.execs}")
        self.say(f"  exec/s (average)  {s.final.get('average_exec_per_sec', s.exec_per_sec)}")
        self.say(f"  coverage          cov {s.cov}, ft {s.ft}")
        self.say(f"  corpus            {s.corpus} inputs")
        self.say(f"  divergences       {len(all_repros)} distinct")
        for path in all_repros:
            sig = next(
                (ln[13:] for ln in path.read_text().splitlines() if ln.startswith("# signature: ")),
                "?",
            )
            self.say(f"    {path}  {sig}")
        if s.child_status not in (0, None) and not s.interrupted and not all_repros:
            log = self.cfg.out / "libfuzzer.log"
            self.say(f"  libFuzzer exited with status {s.child_status}; see {log}")


def _pump(stream: TextIO | None, lines: queue.Queue[str | None], log: TextIO) -> None:
    assert stream is not None
    for line in stream:
        log.write(line)
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _signal_child(child: subprocess.Popen[str], sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass
