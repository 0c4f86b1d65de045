"""Drive a crawl: repos -> clone@sha -> scan -> cases -> sandboxed workers -> store.

The driver is the single writer of the database. It is resumable at any
moment: repos already scanned are not scanned again, and a case with a result
in this run is never run again (the results primary key enforces it).
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from capture import crawl_env
from capture.pool import Reply, WorkerPool
from capture.sandbox import SandboxConfig
from crawler.clone import Checkout, CloneFailed, clone, remove_checkout
from crawler.repo_ref import RepoRef, parse_repo
from crawler.scan import scan_checkout
from db.store import Store


@dataclass
class CrawlConfig:
    """Everything a crawl needs; the CLI fills it from its options."""

    db_path: Path
    workdir: Path
    repos: list[str] = field(default_factory=list)
    clone_base: str = "https://github.com"
    run_name: str | None = None
    device: str = "cpu"
    backend: str = "inductor"
    compile_mode: str | None = None
    fullgraph: bool = False
    dynamic: bool | None = None
    workers: int | None = None
    timeout_s: float = 300.0
    mem_mb: int = 6144
    cpu_s: int | None = None  # default: 1.5 x timeout_s (one thread per case)
    max_procs: int = 256
    max_file_mb: int = 512
    max_output_mb: int = 50
    deduce_budget_s: float = 60.0
    tol: float = 1e-3
    seed: int = 0
    mode: str = "eval"
    unsafe_no_sandbox: bool = False
    delete_checkouts: bool = False
    clone_timeout_s: float = 300.0
    max_repo_mb: float = 500.0
    clone_jobs: int = 4
    min_free_mb: float = 1024.0
    max_cases: int | None = None
    only_repo_ids: list[str] | None = None


@dataclass
class CrawlSummary:
    run_id: str
    counts: dict[str, int]
    repos: dict[str, int]
    wall_s: float
    new_results: int


def default_run_name(cfg: CrawlConfig, torch_version: str) -> str:
    """Same config on the same torch -> same run (resume); a new torch -> a new run."""
    name = f"torch{torch_version}-{cfg.device}-{cfg.backend}"
    if cfg.compile_mode:
        name += f"-{cfg.compile_mode}"
    if cfg.fullgraph:
        name += "-fullgraph"
    if cfg.dynamic is not None:
        name += "-dynamic" if cfg.dynamic else "-static"
    return name


def probe_environment(device: str) -> dict[str, Any]:
    """torch/triton versions etc., read in a subprocess so the driver never imports torch."""
    code = (
        "import json, sys, torch, platform\n"
        "try:\n import triton; tv = triton.__version__\nexcept Exception: tv = None\n"
        "d = sys.argv[1]\n"
        "name = torch.cuda.get_device_name(0) if d.startswith('cuda') and torch.cuda.is_available() else platform.processor() or platform.machine()\n"
        "print(json.dumps({'torch': torch.__version__, 'triton': tv, 'cuda_available': torch.cuda.is_available(),"
        " 'gpus': torch.cuda.device_count() if torch.cuda.is_available() else 0, 'device_name': name}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, device], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"cannot import torch: {out.stderr.strip()[-500:]}")
    env = json.loads(out.stdout.strip().splitlines()[-1])
    try:
        cc = subprocess.run(["cc", "--version"], capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        cc = None
    env.update(python=platform.python_version(), compiler=cc, host=socket.gethostname(),
               packages=crawl_env.versions())  # the crawl environment, recorded on the run
    return env


class Crawl:
    """One `graphcrawl crawl` invocation."""

    def __init__(self, cfg: CrawlConfig, store: Store, on_event: Callable[..., None] = lambda *a, **k: None):
        self.cfg = cfg
        self.store = store
        self.emit = on_event
        self.workdir = Path(cfg.workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)

    # -- repos ------------------------------------------------------------
    def add_repos(self, specs: list[str]) -> list[str]:
        ids = []
        for spec in specs:
            ref = parse_repo(spec, self.cfg.clone_base)
            owner, _, name = ref.id.partition("/")
            self.store.upsert_repo({"id": ref.id, "url": ref.url, "owner": owner, "name": name,
                                    "source": "user"})
            ids.append(ref.id)
        return ids

    def _prepare(self, repo: dict[str, Any]) -> Checkout | CloneFailed:
        """Clone (or reuse) a repo's checkout, at its recorded sha when it has one."""
        ref = RepoRef(repo["id"], repo["url"])
        try:
            co = clone(ref, self.workdir, timeout_s=self.cfg.clone_timeout_s, max_size_mb=self.cfg.max_repo_mb,
                       min_free_mb=self.cfg.min_free_mb)
        except CloneFailed as exc:
            return exc
        want = repo.get("sha")
        if want and co.sha != want:
            try:
                _checkout_sha(co.path, want, self.cfg.clone_timeout_s)
                co.sha = want
            except RuntimeError as exc:
                return CloneFailed(f"pinned commit {want[:12]} not reachable: {exc}", status="clone_failed", reason="error")
        return co

    def _scan(self, repo: dict[str, Any], co: Checkout) -> None:
        self.store.set_repo_status(repo["id"], repo.get("status") or "discovered", checkout_path=str(co.path),
                                   clone_s=round(co.seconds, 3), disk_bytes=co.disk_bytes)
        if repo.get("sha") == co.sha and repo.get("status") in ("scanned", "no_modules"):
            return  # already scanned at this sha: module ids stay stable
        result = scan_checkout(co.path)
        self.store.replace_modules(repo["id"], co.sha, result.modules)
        if result.errors:
            self.store.set_repo_status(repo["id"], "scanned" if result.modules else "no_modules",
                                       error=f"{len(result.errors)} file(s) not scanned; first: "
                                             f"{result.errors[0][0]}: {result.errors[0][1]}"[:1000])

    def _checkouts(self, repos: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], Checkout | CloneFailed]]:
        """Clones run several at once, a few repos ahead of validation."""
        with ThreadPoolExecutor(max_workers=max(1, self.cfg.clone_jobs)) as pool:
            ahead: list[tuple[dict[str, Any], Future]] = []
            it = iter(repos)
            for repo in it:
                ahead.append((repo, pool.submit(self._prepare, repo)))
                if len(ahead) >= self.cfg.clone_jobs * 2:
                    break
            while ahead:
                repo, fut = ahead.pop(0)
                nxt = next(it, None)
                if nxt is not None:
                    ahead.append((nxt, pool.submit(self._prepare, nxt)))
                yield repo, fut.result()

    # -- the run ------------------------------------------------------------
    def run(self, repo_ids: list[str] | None = None) -> CrawlSummary:
        start = time.monotonic()
        env = probe_environment(self.cfg.device)
        if self.cfg.device.startswith("cuda") and not env["cuda_available"]:
            raise RuntimeError("--device cuda asked for, but torch sees no CUDA GPU here")
        run_id = self.cfg.run_name or default_run_name(self.cfg, env["torch"])
        stored = self.store.run(run_id)
        if stored and stored.get("torch") and stored["torch"] != env["torch"]:
            raise RuntimeError(f"run {run_id!r} was made with torch {stored['torch']}, this is {env['torch']}: "
                               "give a new --run name")
        self.store.start_run({
            "id": run_id, "torch": env["torch"], "triton": env["triton"], "python": env["python"],
            "compiler": env["compiler"], "device": self.cfg.device, "device_name": env["device_name"],
            "backend": self.cfg.backend, "mode": self.cfg.compile_mode or "default",
            "fullgraph": int(self.cfg.fullgraph), "dynamic": None if self.cfg.dynamic is None else int(self.cfg.dynamic),
            "host": env["host"], "config": _config_json(self.cfg),
            "packages": json.dumps(env.get("packages") or {}, sort_keys=True),
        })
        self.emit("run", run_id=run_id, env=env)
        repos = self.store.repos() if repo_ids is None else [r for i in repo_ids if (r := self.store.repo(i))]
        repos = [r for r in repos if r.get("status") not in ("clone_failed", "too_large")
                 or repo_ids is not None]
        new_results = self._validate(run_id, repos)
        self.store.end_run(run_id)
        return CrawlSummary(run_id=run_id, counts=self.store.result_counts(run_id),
                            repos=_repo_counts(self.store, [r["id"] for r in repos]),
                            wall_s=time.monotonic() - start, new_results=new_results)

    def _validate(self, run_id: str, repos: list[dict[str, Any]]) -> int:
        cfg = self.cfg
        workers = cfg.workers or _default_workers(cfg.device)
        sandbox = SandboxConfig(scratch_root=self.workdir / ".scratch" / "cases",
                                cache_dir=self.workdir / ".cache", readonly=[self.workdir],
                                unsafe=cfg.unsafe_no_sandbox, gpu=cfg.device.startswith("cuda"))
        per_worker_env = (lambda i: {"CUDA_VISIBLE_DEVICES": str(i)}) if cfg.device.startswith("cuda") else None
        pool = WorkerPool(workers, sandbox, env_per_worker=per_worker_env)
        written = 0
        submitted = 0
        open_cases: dict[str, int] = {}

        def handle(reply: Reply) -> None:
            nonlocal written
            req, res = reply.request, reply.result
            if res.get("spec") and req.get("spec") is None:
                self.store.set_case_spec(req["case_id"], res["spec"], res.get("found_by"), res.get("stubs"), run_id)
            row = dict(res, run_id=run_id, case_id=req["case_id"], module_id=req["module_id"], repo_id=req["repo_id"])
            if self.store.record_result(row):
                written += 1
            self.emit("result", case_id=req["case_id"], status=res.get("status"), repo_id=req["repo_id"])
            open_cases[req["repo_id"]] -= 1
            if open_cases[req["repo_id"]] == 0 and cfg.delete_checkouts:
                repo = self.store.repo(req["repo_id"])
                if repo and repo.get("checkout_path"):
                    self._remove(Path(repo["checkout_path"]))

        todo = [r for r in repos if self.store.pending_cases(run_id, [r["id"]])
                or r.get("status") not in ("scanned", "no_modules")]
        self.emit("repos", total=len(todo))
        with pool:
            for repo, co in self._checkouts(todo):
                if isinstance(co, CloneFailed):
                    self.store.set_repo_status(repo["id"], co.status, error=str(co)[:2000])
                    self.emit("repo", repo_id=repo["id"], status=co.status, error=str(co))
                    continue
                self._scan(repo, co)
                repo = self.store.repo(repo["id"]) or repo
                cases = self.store.pending_cases(run_id, [repo["id"]])
                if cfg.max_cases is not None:
                    cases = cases[: max(0, cfg.max_cases - submitted)]
                self.emit("repo", repo_id=repo["id"], status=repo["status"], cases=len(cases))
                open_cases[repo["id"]] = len(cases)
                for case in cases:
                    pool.submit(self._request(case, co.path))
                    submitted += 1
                    # Keep the queue short so results stream into the db while cloning goes on.
                    while pool.in_flight > workers * 2:
                        reply = pool.next_reply()
                        if reply:
                            handle(reply)
                if not cases and cfg.delete_checkouts:
                    self._remove(co.path)
            while pool.in_flight:
                reply = pool.next_reply()
                if reply:
                    handle(reply)
        return written

    def _remove(self, path: Path) -> None:
        try:
            remove_checkout(path)
        except (ValueError, OSError) as exc:
            self.emit("warning", message=f"checkout {path} not deleted: {exc}")

    def _request(self, case: dict[str, Any], checkout: Path) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "case_id": case["id"], "module_id": case["module_id"], "repo_id": case["repo_id"],
            "checkout": str(checkout), "path": case["path"], "qualname": case["qualname"],
            "spec": json.loads(case["spec"]) if case.get("spec") else None,
            "stubs": json.loads(case["stubs"]) if case.get("stubs") else None,
            "device": cfg.device, "backend": cfg.backend, "compile_mode": cfg.compile_mode,
            "fullgraph": cfg.fullgraph, "dynamic": cfg.dynamic, "seed": cfg.seed, "mode": cfg.mode,
            "tol": cfg.tol, "deduce_budget_s": cfg.deduce_budget_s, "timeout_s": cfg.timeout_s,
            "mem_mb": cfg.mem_mb, "cpu_s": cfg.cpu_s or int(cfg.timeout_s * 1.5) + 10, "max_procs": cfg.max_procs,
            "max_file_mb": cfg.max_file_mb, "max_output_mb": cfg.max_output_mb,
        }


def _checkout_sha(path: Path, sha: str, timeout: float) -> None:
    for cmd in (["git", "fetch", "--depth", "1", "origin", sha], ["git", "checkout", "--detach", sha]):
        proc = subprocess.run(cmd, cwd=path, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_LFS_SKIP_SMUDGE="1"))
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip()[-300:])


def _default_workers(device: str) -> int:
    if device.startswith("cuda"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
            return max(1, len([line for line in out.splitlines() if line.startswith("GPU")]))
        except (OSError, subprocess.TimeoutExpired):
            return 1
    return max(1, len(os.sched_getaffinity(0)))


def _repo_counts(store: Store, ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for i in ids:
        repo = store.repo(i)
        if repo:
            counts[repo["status"]] = counts.get(repo["status"], 0) + 1
    return counts


def _config_json(cfg: CrawlConfig) -> dict[str, Any]:
    keep = ("timeout_s", "mem_mb", "deduce_budget_s", "tol", "seed", "mode", "unsafe_no_sandbox", "compile_mode")
    return {k: getattr(cfg, k) for k in keep}
