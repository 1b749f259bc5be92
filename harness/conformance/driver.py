"""The driver processes of the Wine and lwIP engines.

A driver (``conformance/wine/driver.c``, ``conformance/lwip/driver.c``) is a
long-lived process that makes the calls; the harness asks it over its pipes in
the line protocol of :mod:`harness.conformance.protocol`, whose answers and
request parsing both drivers take from ``conformance/protocol.h``.  This module builds
it (:func:`ensure_built`), runs it (:class:`DriverProcess`) and replaces it
after a failure (:class:`DriverBackend`); each engine says what to start.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from pathlib import Path

from harness.conformance.protocol import END, ProtocolError, Response, parse_response
from harness.conformance.session import EngineFailure, Raw
from harness.vocab.errors import HarnessError

REPO = Path(__file__).resolve().parents[2]
#: Where the drivers are built (and Wine's prefix made).
BUILD = Path(os.environ.get("WSA_CONFORMANCE_BUILD", REPO / "build" / "conformance"))


#: The drivers' side of the line protocol, included by both drivers' sources.
PROTOCOL_HEADER = REPO / "conformance" / "protocol.h"


def ensure_built(driver: Path, source: Path, target: str, what: str) -> Path:
    """Build ``driver`` with ``make TARGET`` when it is missing or older than
    ``source`` or :data:`PROTOCOL_HEADER`; ``what`` names it (and what it
    needs) in the error."""
    built = driver.stat().st_mtime if driver.exists() else None
    if built is not None and all(built >= p.stat().st_mtime for p in (source, PROTOCOL_HEADER)):
        return driver
    proc = subprocess.run(["make", "-s", "-C", str(REPO), target], capture_output=True, text=True)
    if proc.returncode != 0 or not driver.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise HarnessError(f"cannot build {what}: " + " | ".join(tail))
    return driver


class DriverProcess:
    """One driver process and its request/response channel.

    ``name`` names it in failures (``the NAME driver did not answer``); its
    first response must be ``ready READY``, within ``start_timeout`` seconds.
    A request may take its own wait plus ``answer_slack`` seconds."""

    def __init__(
        self,
        argv: list[str],
        name: str,
        ready: str,
        start_timeout: float,
        answer_slack: float,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self._slack = answer_slack
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"wsa-{name}")
        self._reader.start()
        if self._answer(start_timeout).ready != ready:
            raise EngineFailure(f"the {name} driver did not start")

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line.rstrip("\r\n"))
        self._lines.put(None)

    def _exited(self) -> EngineFailure:
        return EngineFailure(f"the {self.name} driver exited ({self._proc.poll()})")

    def _answer(self, timeout: float) -> Response:
        lines: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise EngineFailure(f"the {self.name} driver did not answer") from None
            if line is None:
                raise self._exited()
            if line == END:
                try:
                    return parse_response(lines)
                except ProtocolError as exc:
                    raise EngineFailure(str(exc)) from None
            lines.append(line)

    def ask(self, line: str, wait: float = 0.0) -> Response:
        """Send one request line and return its response; a refusal fails."""
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(line)
            self._proc.stdin.flush()
        except OSError:
            raise self._exited() from None
        resp = self._answer(wait + self._slack)
        if resp.refused:
            raise EngineFailure(f"the {self.name} driver refused {line.strip()!r}: {resp.refused}")
        return resp

    def stop(self, kill: bool = False) -> None:
        """End the process: asked to quit (up to 5 s), or at once with ``kill``
        (it hung, or answered out of turn)."""
        try:
            if not kill and self._proc.stdin is not None:
                self._proc.stdin.write("quit\n")
                self._proc.stdin.flush()
                self._proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(5)
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


def result(resp: Response, what: str) -> Raw:
    """The ``R`` line of a response (``what`` names the request in the failure)."""
    if resp.result is None:
        raise EngineFailure(f"no result for {what}")
    return resp.result


class DriverBackend:
    """What a backend of driver processes does after a failure.

    A request that fails (no answer in time, a dead process, a refusal) marks
    the backend broken: the next reset kills its processes and starts them
    afresh, and so does a reset that fails (a thread stuck in a call, a dead
    driver), so a hung program costs its own steps and one restart.  A
    subclass says how to stop its processes (:meth:`_stop`) and what a reset
    asks them (:meth:`_reset`); it starts them on first use."""

    def __init__(self) -> None:
        self._broken = False
        #: restarts after a failure (reported by ``conformance``)
        self.restarts = 0

    def _stop(self, kill: bool) -> None:
        """Stop the processes (killed at once with ``kill``) and forget them."""
        raise NotImplementedError

    def _reset(self) -> None:
        """The requests of one reset, made on the processes (started if need be)."""
        raise NotImplementedError

    def _ask_on(self, driver: DriverProcess, line: str, wait: float) -> Response:
        try:
            return driver.ask(line, wait)
        except EngineFailure:
            self._broken = True
            raise

    def restart(self, kill: bool = False) -> None:
        """Stop the processes; the next request starts them afresh."""
        self._stop(kill)
        self._broken = False

    def reset(self) -> None:
        if self._broken:
            self.restarts += 1
            self.restart(kill=True)
        try:
            self._reset()
        except EngineFailure:
            self.restarts += 1
            self.restart(kill=True)
            self._reset()

    def close(self) -> None:
        self.restart(kill=self._broken)

    def leaked(self) -> int:
        return 0  # a stuck thread makes the reset fail, and the process is replaced

    def quiet(self) -> bool:
        return False  # the driver does not say what would wake its blocked calls
