"""One real thread per model thread, so that blocking calls can block.

A :class:`Workers` set runs each job on the thread it names and waits a
bounded time for it: a job still running then counts as *blocked*, and
:meth:`Workers.poll` later collects it when it completes.  Threads are
daemons, made fresh for every program, so a call that never returns can
leave a thread behind but never hangs the harness.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Job(Generic[T]):
    def __init__(self, fn: Callable[[], T], any_done: threading.Event) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None
        self._any_done = any_done

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:  # reported to the caller, never lost
            self.error = exc
        self.done.set()
        self._any_done.set()

    def value(self) -> T:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class Workers(Generic[T]):
    """``count`` worker threads; each runs the jobs given to it, in order."""

    def __init__(self, count: int, name: str = "wsa-worker") -> None:
        self._queues: list[queue.Queue[Job[T] | None]] = [queue.Queue() for _ in range(count)]
        self._pending: dict[int, Job[T]] = {}
        self._any_done = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(q,), name=f"{name}-t{i}", daemon=True)
            for i, q in enumerate(self._queues)
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def _loop(jobs: queue.Queue[Job[T] | None]) -> None:
        while (job := jobs.get()) is not None:
            job.run()

    def busy(self, thread: int) -> bool:
        return thread in self._pending

    def call(self, thread: int, fn: Callable[[], T], wait: float) -> T | None:
        """Run ``fn`` on ``thread``; its result, or None if it is still running
        after ``wait`` seconds (it is then pending)."""
        if thread in self._pending:
            raise RuntimeError(f"t{thread} is blocked")
        job = Job(fn, self._any_done)
        self._queues[thread].put(job)
        if job.done.wait(wait):
            return job.value()
        self._pending[thread] = job
        return None

    def poll(self, wait: float, want: int = -1) -> list[tuple[int, T]]:
        """Collect the pending jobs that complete within ``wait`` seconds, waiting
        only until ``want`` of them did (-1: until none is pending)."""
        out: list[tuple[int, T]] = []
        deadline = time.monotonic() + wait
        while self._pending:
            self._any_done.clear()
            for thread, job in sorted(self._pending.items()):
                if job.done.is_set():
                    out.append((thread, job.value()))
                    del self._pending[thread]
            left = deadline - time.monotonic()
            if not self._pending or left <= 0 or (want >= 0 and len(out) >= want):
                break
            self._any_done.wait(left)
        return out

    def stop(self, wait: float) -> int:
        """Ask every thread to finish; how many are still blocked after ``wait``
        (they are daemons, left behind)."""
        for q in self._queues:
            q.put(None)
        deadline = time.monotonic() + wait
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return sum(t.is_alive() for t in self._threads)
