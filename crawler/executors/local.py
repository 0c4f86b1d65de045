"""The single-machine executor: clones a few repos ahead in threads, cases on one WorkerPool."""
from __future__ import annotations

import socket
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

from capture.workers.pool import Reply, WorkerPool
from capture.workers.sandbox import SandboxConfig
from crawler.clone import Checkout, CloneFailed
from crawler.config import CrawlConfig, default_workers
from crawler.executors.base import Recorder
from crawler.prepare import checkout_info, needs_scan, prepare_checkout, scan_info


class LocalExecutor:
    name = "local"

    def __init__(self, cfg: CrawlConfig) -> None:
        self.cfg = cfg

    def _checkouts(self, crawl: Recorder, repos: list[dict[str, Any]]
                   ) -> Iterator[tuple[dict[str, Any], Checkout | CloneFailed]]:
        """Clones run several at once, a few repos ahead of validation."""
        jobs = max(1, self.cfg.clone_jobs)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            ahead: list[tuple[dict[str, Any], Future]] = []
            it = iter(repos)
            for repo in it:
                ahead.append((repo, pool.submit(prepare_checkout, repo, crawl.workdir, self.cfg)))
                if len(ahead) >= jobs * 2:
                    break
            while ahead:
                repo, fut = ahead.pop(0)
                nxt = next(it, None)
                if nxt is not None:
                    ahead.append((nxt, pool.submit(prepare_checkout, nxt, crawl.workdir, self.cfg)))
                yield repo, fut.result()

    def run(self, crawl: Recorder, run_id: str, repos: list[dict[str, Any]]) -> int:
        cfg = self.cfg
        workers = cfg.workers or default_workers(cfg.device)
        sandbox = SandboxConfig(scratch_root=crawl.workdir / ".scratch" / "cases",
                                cache_dir=crawl.workdir / ".cache", readonly=[crawl.workdir],
                                unsafe=cfg.unsafe_no_sandbox, gpu=cfg.device.startswith("cuda"))
        per_worker_env = (lambda i: {"CUDA_VISIBLE_DEVICES": str(i)}) if cfg.device.startswith("cuda") else None
        pool = WorkerPool(workers, sandbox, env_per_worker=per_worker_env)
        node = {"node_id": None, "host": socket.gethostname(), "workers": workers}
        crawl.record_nodes(run_id, self.name, [node])
        written = 0
        open_cases: dict[str, int] = {}
        checkouts: dict[str, Path] = {}

        def handle(reply: Reply) -> None:
            nonlocal written
            req = reply.request
            written += crawl.record_reply(run_id, req, reply.result, node)
            open_cases[req["repo_id"]] -= 1
            if open_cases[req["repo_id"]] == 0:  # forget finished repos: the driver's memory stays flat
                del open_cases[req["repo_id"]]
                path = checkouts.pop(req["repo_id"])
                if cfg.delete_checkouts:
                    crawl.remove_checkout(path)

        with pool:
            for repo, co in self._checkouts(crawl, repos):
                if isinstance(co, CloneFailed):
                    crawl.record_clone_failed(repo, co.status, str(co))
                    continue
                scan = scan_info(co.path) if (needs_scan(repo) or repo.get("sha") != co.sha) else None
                repo = crawl.record_checkout(repo, checkout_info(co), scan)
                requests = crawl.requests_for(run_id, repo["id"], co.path)
                crawl.emit("repo", repo_id=repo["id"], status=repo["status"], cases=len(requests))
                if requests:
                    open_cases[repo["id"]] = len(requests)
                    checkouts[repo["id"]] = co.path
                for req in requests:
                    pool.submit(req)
                    # Keep the queue short so results stream into the db while cloning goes on.
                    while pool.in_flight > workers * 2:
                        reply = pool.next_reply()
                        if reply:
                            handle(reply)
                if not requests and cfg.delete_checkouts:
                    crawl.remove_checkout(co.path)
            while pool.in_flight:
                reply = pool.next_reply()
                if reply:
                    handle(reply)
        return written
