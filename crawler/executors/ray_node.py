"""What runs on one Ray node: clone, scan and a local sandboxed WorkerPool.

One `NodeWorker` actor per node (pinned there by the driver). It clones the
repos it is handed at their pinned sha under its own directory, scans them,
and runs their cases on a WorkerPool sized to the node (bwrap workers, a fork
per case, the limits of the request), with its own compile cache. It never
touches the database or GitHub: every method returns plain data. This module
imports no Ray at import time, so it is also usable (and testable) as a
plain object.
"""
from __future__ import annotations

import itertools
import os
import socket
import threading
from concurrent.futures import Future
from dataclasses import fields
from pathlib import Path
from typing import Any

from capture.workers.pool import WorkerPool
from capture.workers.sandbox import INSTALL_HINT, SandboxConfig, bwrap_problem
from crawler.clone import CloneFailed
from crawler.config import CrawlConfig
from crawler.prepare import checkout_info, prepare_checkout, scan_info


def config_to_dict(cfg: CrawlConfig) -> dict[str, Any]:
    """The settings a node needs, as plain data (Paths as strings)."""
    return {f.name: (str(v) if isinstance(v := getattr(cfg, f.name), Path) else v) for f in fields(cfg)}


def _node_id() -> str | None:
    try:
        import ray
        return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - outside Ray (plain object in a test)
        return None


class NodeWorker:
    """The per-node half of the Ray executor."""

    def __init__(self, cfg: dict[str, Any], workers: int) -> None:
        self.cfg = CrawlConfig(**{**cfg, "db_path": Path(cfg["db_path"]), "workdir": Path(cfg["workdir"])})
        self.node_id = _node_id()
        self.host = socket.gethostname()
        self.workers = max(1, workers)
        # Nodes of one machine (tests, a big box split in several) must not share checkouts.
        self.workdir = Path(self.cfg.workdir).resolve() / f"node-{(self.node_id or 'local')[:12]}"
        self.refused = None if self.cfg.unsafe_no_sandbox else bwrap_problem()
        self._pool: WorkerPool | None = None
        self._waiting: dict[int, Future] = {}
        self._tickets = itertools.count()
        self._lock = threading.Lock()

    def hello(self) -> dict[str, Any]:
        """Who this node is, and whether it can run crawled code at all."""
        info = {"node_id": self.node_id, "host": self.host, "workers": self.workers, "pid": os.getpid()}
        if self.refused:
            info["refused"] = f"{self.refused}; {INSTALL_HINT}"
        return info

    def prepare(self, repo: dict[str, Any], scan: bool) -> dict[str, Any]:
        """Clone `repo` here at its pinned sha (and scan it when asked); plain data back."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        co = prepare_checkout(repo, self.workdir, self.cfg)
        if isinstance(co, CloneFailed):
            return {"failed": {"status": co.status, "reason": co.reason, "message": str(co)}}
        scan = scan or (repo.get("sha") != co.sha)
        return {"checkout": checkout_info(co), "scan": scan_info(co.path) if scan else None}

    def run_case(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run one case on this node's pool; blocks (in one of the actor's threads) until done."""
        if self.refused:
            raise RuntimeError(f"node {self.host} refuses crawled code: {self.refused}; {INSTALL_HINT}")
        fut: Future = Future()
        with self._lock:
            pool = self._ensure_pool()
            ticket = next(self._tickets)
            self._waiting[ticket] = fut
            pool.submit(dict(request, ticket=ticket))
        return fut.result()

    def remove(self, path: str) -> None:
        from crawler.clone import remove_checkout
        try:
            remove_checkout(Path(path))
        except (ValueError, OSError):
            pass

    def stop(self) -> None:
        if self._pool is not None:
            for worker in list(self._pool._workers.values()):
                worker.kill()
            self._pool.stop()

    def _ensure_pool(self) -> WorkerPool:
        if self._pool is None:
            cfg = self.cfg
            sandbox = SandboxConfig(scratch_root=self.workdir / ".scratch" / "cases",
                                    cache_dir=self.workdir / ".cache", readonly=[self.workdir],
                                    unsafe=cfg.unsafe_no_sandbox, gpu=cfg.device.startswith("cuda"))
            per_worker_env = (lambda i: {"CUDA_VISIBLE_DEVICES": str(i)}) if cfg.device.startswith("cuda") else None
            self._pool = WorkerPool(self.workers, sandbox, env_per_worker=per_worker_env)
            self._pool.start()
            threading.Thread(target=self._dispatch, daemon=True).start()
        return self._pool

    def _dispatch(self) -> None:
        """Hand each finished case to the call waiting for it."""
        assert self._pool is not None
        while True:
            try:
                reply = self._pool.next_reply(timeout=1.0)
            except BaseException as exc:  # noqa: BLE001 - a pool that gave up fails every waiting call
                self.refused = f"its workers do not start: {exc}"
                with self._lock:
                    waiting, self._waiting = self._waiting, {}
                for fut in waiting.values():
                    fut.set_exception(exc)
                return
            if reply is None:
                continue
            with self._lock:
                fut = self._waiting.pop(reply.request["ticket"], None)
            if fut is not None:
                fut.set_result(reply.result)
