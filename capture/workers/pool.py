"""Start, feed and replace workers; the driver's only view of the sandbox.

One worker per core (CPU) or per GPU (CUDA). Each worker handles one case at
a time; a worker that dies mid-case turns that case into a `crash` result
("worker died while running X") and is replaced, with restarts capped.
Only plain JSON crosses the process boundary.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from capture.workers.sandbox import SandboxConfig, prepare_dirs, worker_command, worker_env

START_TIMEOUT_S = 180


class WorkerStartFailed(RuntimeError):
    """A worker process did not come up (its stderr tail is in the message)."""


@dataclass
class Reply:
    request: dict[str, Any]
    result: dict[str, Any]


class Worker:
    """One sandboxed worker process speaking JSON lines."""

    def __init__(self, index: int, cfg: SandboxConfig, env_extra: dict[str, str] | None = None) -> None:
        self.index = index
        self.cfg = cfg
        self.log_path = cfg.scratch_root.parent / f"worker-{index}.log"
        env = worker_env(cfg)
        env.update(env_extra or {})
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            worker_command(cfg), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            env=env, cwd=str(cfg.scratch_root), start_new_session=True)
        ready = self._readline(START_TIMEOUT_S)
        if not ready or not json.loads(ready).get("ready"):
            tail = self.log_path.read_bytes()[-2000:].decode("utf-8", "replace")
            self.kill()
            raise WorkerStartFailed(f"worker {index} did not start: {tail.strip() or 'no output'}")

    def _readline(self, timeout: float) -> str | None:
        assert self.proc.stdout is not None
        result: list[bytes] = []
        t = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive() or not result or not result[0]:
            return None
        return result[0].decode()

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one case; the worker enforces the case's timeout, we add a margin."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return _worker_died(request, "worker was not running")
        line = self._readline(reply_timeout_s(request))
        if line is None:
            self.kill()
            return _worker_died(request, "worker stopped answering")
        try:
            return json.loads(line)["result"]
        except (ValueError, KeyError):
            self.kill()
            return _worker_died(request, f"worker sent garbage: {line[:200]!r}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self._log.close()

    def close(self) -> None:
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.kill()


def reply_timeout_s(request: dict[str, Any]) -> float:
    """How long to wait for a worker's reply: its wall backstop, twice when a failure may be
    confirmed by a rerun (capture/workers/confirm.py), plus a margin."""
    from capture.workers.worker import HARD_WALL_FACTOR, wall_limit_s
    runs = 2 if request.get("confirm", True) else 1
    return runs * HARD_WALL_FACTOR * wall_limit_s(request) + 60


def _worker_died(request: dict[str, Any], why: str) -> dict[str, Any]:
    return {"status": "crash", "stage": "unknown", "error_type": "WorkerDied",
            "error_msg": f"{why} while running {request.get('case_id')}"}


class WorkerPool:
    """N workers fed from one queue; replies are handed to `on_reply` in the caller's thread."""

    def __init__(self, size: int, cfg: SandboxConfig, *, max_restarts: int = 20,
                 env_per_worker: Callable[[int], dict[str, str]] | None = None) -> None:
        self.size = max(1, size)
        self.cfg = cfg
        self.max_restarts = max_restarts
        self.restarts = 0
        self.env_per_worker = env_per_worker or (lambda i: {})
        prepare_dirs(cfg)

    def _scratch_for(self, case_id: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in case_id)[-120:]
        return self.cfg.scratch_root / f"{safe}-{os.getpid()}-{time.monotonic_ns()}"

    def start(self) -> None:
        """Start the serving threads; workers themselves start on first use."""
        self._todo: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._done: queue.Queue[Reply | BaseException] = queue.Queue()
        self.in_flight = 0
        self._workers: dict[int, Worker] = {}
        self._threads = [threading.Thread(target=self._serve, args=(i, self._todo, self._done),
                                          daemon=True) for i in range(self.size)]
        for t in self._threads:
            t.start()

    def submit(self, request: dict[str, Any]) -> None:
        self.in_flight += 1
        self._todo.put(request)

    def next_reply(self, timeout: float | None = None) -> Reply | None:
        """The next finished case, or None after `timeout` seconds."""
        try:
            item = self._done.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        self.in_flight -= 1
        return item

    def stop(self) -> None:
        while True:  # drop what was never started
            try:
                self._todo.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            self._todo.put(None)
        for t in self._threads:
            t.join(timeout=30)

    def __enter__(self) -> "WorkerPool":
        self.start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:  # interrupted: don't wait for cases in flight
            for worker in list(self._workers.values()):
                worker.kill()
        self.stop()

    def map(self, requests: Iterable[dict[str, Any]], on_reply: Callable[[Reply], None]) -> None:
        """Run every request; `on_reply` is called in this thread, one at a time (single writer)."""
        with self:
            for req in requests:
                self.submit(req)
            while self.in_flight:
                reply = self.next_reply()
                if reply is not None:
                    on_reply(reply)

    def _serve(self, index: int, todo: queue.Queue, done: queue.Queue) -> None:
        worker: Worker | None = None
        try:
            while True:
                req = todo.get()
                if req is None:
                    break
                if worker is None or not worker.alive():
                    if worker is not None:
                        self.restarts += 1
                        if self.restarts > self.max_restarts:
                            raise WorkerStartFailed(f"workers died {self.restarts} times; giving up")
                    worker = Worker(index, self.cfg, self.env_per_worker(index))
                    self._workers[index] = worker
                req = dict(req, scratch=str(self._scratch_for(req["case_id"])))
                result = worker.run(req)
                shutil.rmtree(req["scratch"], ignore_errors=True)
                done.put(Reply(req, result))
        except BaseException as exc:  # noqa: BLE001 - surfaced in the caller's thread
            done.put(exc)
        finally:
            if worker is not None:
                worker.close()
