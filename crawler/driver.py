"""Drive a crawl: repos -> clone@sha -> scan -> cases -> sandboxed workers -> store.

The driver is the single writer of the database. It is resumable at any
moment: repos already scanned are not scanned again, and a case with a result
in this run is never run again (the results primary key enforces it).
"""
from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from capture.loading import crawl_env
from capture.workers.sandbox import inherited_compiler_env
from crawler.clone import remove_checkout
from crawler.config import CrawlConfig, default_run_name
from crawler.executors import make_executor
from crawler.machine_load import LoadSampler
from crawler.repo_ref import RepoRef, parse_repo
from db.store import Store
from db.traces import save_trace


@dataclass
class CrawlSummary:
    run_id: str
    counts: dict[str, int]
    repos: dict[str, int]
    wall_s: float
    new_results: int


def probe_environment(device: str) -> dict[str, Any]:
    """torch/triton versions etc., read in a subprocess so the driver never imports torch."""
    code = (
        "import json, sys, torch, platform\n"
        "from capture.loading.vision_ops import extension_loads\n"
        "try:\n import triton; tv = triton.__version__\nexcept Exception: tv = None\n"
        "d = sys.argv[1]\n"
        "name = torch.cuda.get_device_name(0) if d.startswith('cuda') and torch.cuda.is_available() else platform.processor() or platform.machine()\n"
        "print(json.dumps({'torch': torch.__version__, 'triton': tv, 'cuda_available': torch.cuda.is_available(),"
        " 'gpus': torch.cuda.device_count() if torch.cuda.is_available() else 0, 'device_name': name,"
        " 'torchvision_ops': extension_loads()}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, device], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"cannot import torch: {out.stderr.strip()[-500:]}")
    env = json.loads(out.stdout.strip().splitlines()[-1])
    try:
        cc = subprocess.run(["cc", "--version"], capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        cc = None
    packages = crawl_env.versions()  # the crawl environment, recorded on the run
    if env.pop("torchvision_ops", None) is False and packages.get("torchvision"):
        packages["torchvision"] = f"{packages['torchvision']} (no C++ ops)"  # capture/loading/vision_ops.py
    env.update(python=platform.python_version(), compiler=cc, host=socket.gethostname(), packages=packages)
    return env


class Crawl:
    """One `graphcrawl crawl` invocation: what is recorded, never where it runs.

    Where repos are cloned and cases run is the executor's job (crawler/executors:
    the local WorkerPool, or one actor per Ray node). Whatever the executor, only
    this object writes the store, through the `record_*` methods, in the
    driver's own thread.
    """

    def __init__(self, cfg: CrawlConfig, store: Store, on_event: Callable[..., None] = lambda *a, **k: None):
        self.cfg = cfg
        self.store = store
        self.emit = on_event
        self.workdir = Path(cfg.workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._load = LoadSampler()
        self.submitted = 0  # cases handed to an executor in this invocation (for --max-cases)

    # -- repos ------------------------------------------------------------
    def add_repos(self, specs: list[str]) -> list[str]:
        ids = []
        for spec in specs:
            ref = parse_repo(spec, self.cfg.clone_base)
            if ref.id.startswith("local/"):  # a database made before local ids carried a hash keeps its id
                ref = RepoRef(known_local_id(self.store, ref), ref.url)
            owner, _, name = ref.id.partition("/")
            self.store.upsert_repo({"id": ref.id, "url": ref.url, "owner": owner, "name": name,
                                    "source": "user", "selected": 1})
            ids.append(ref.id)
        return ids

    # -- the run ------------------------------------------------------------
    def run(self, repo_ids: list[str] | None = None) -> CrawlSummary:
        start = time.monotonic()
        env = probe_environment(self.cfg.device)
        if self.cfg.device.startswith("cuda") and not env["cuda_available"] and self.cfg.executor == "local":
            raise RuntimeError("--device cuda asked for, but torch sees no CUDA GPU here")
        run_id = self.cfg.run_name or default_run_name(self.cfg, env["torch"])
        stored = self.store.run(run_id)
        if stored and stored.get("torch") and stored["torch"] != env["torch"]:
            raise RuntimeError(f"run {run_id!r} was made with torch {stored['torch']}, this is {env['torch']}: "
                               "give a new --run name")
        executor = make_executor(self.cfg)
        self.store.start_run({
            "id": run_id, "torch": env["torch"], "triton": env["triton"], "python": env["python"],
            "compiler": env["compiler"], "device": self.cfg.device, "device_name": env["device_name"],
            "backend": self.cfg.backend, "mode": self.cfg.compile_mode or "default",
            "fullgraph": int(self.cfg.fullgraph), "dynamic": None if self.cfg.dynamic is None else int(self.cfg.dynamic),
            "host": env["host"], "config": _config_json(self.cfg), "check": self.cfg.check, "executor": executor.name,
            "packages": json.dumps(env.get("packages") or {}, sort_keys=True),
        })
        self.emit("run", run_id=run_id, env=env)
        dropped = inherited_compiler_env()
        if dropped:
            self.emit("warning", message="compiler settings in this shell are not passed to workers "
                      f"(verdicts come from the run's own config): {', '.join(dropped)}")
        repos = self.store.repos() if repo_ids is None else list(self.store.repos_by_ids(repo_ids).values())
        if repo_ids is not None:  # keep the caller's order
            order = {i: n for n, i in enumerate(repo_ids)}
            repos.sort(key=lambda r: order[r["id"]])
        repos = [r for r in repos if r.get("status") not in ("clone_failed", "too_large")
                 or repo_ids is not None]
        pending = self.store.repos_with_pending(run_id)
        todo = [r for r in repos if r["id"] in pending or r.get("status") not in ("scanned", "no_modules")]
        self.emit("repos", total=len(todo))
        self._load = LoadSampler((self.store.run(run_id) or {}).get("load_avg"))
        new_results = executor.run(self, run_id, todo)
        if self._load.n:
            self.store.db["runs"].update(run_id, {"load_avg": self._load.json()})
        self.store.end_run(run_id)
        return CrawlSummary(run_id=run_id, counts=self.store.result_counts(run_id),
                            repos=_repo_counts(self.store, [r["id"] for r in repos]),
                            wall_s=time.monotonic() - start, new_results=new_results)

    # -- what executors report back (the single writer) ---------------------
    def record_nodes(self, run_id: str, executor: str, nodes: list[dict[str, Any]]) -> None:
        self.store.set_run_executor(run_id, executor, nodes)
        self.emit("nodes", nodes=nodes)

    def record_clone_failed(self, repo: dict[str, Any], status: str, message: str) -> None:
        self.store.set_repo_status(repo["id"], status, error=message[:2000])
        self.emit("repo", repo_id=repo["id"], status=status, error=message)

    def record_checkout(self, repo: dict[str, Any], co: dict[str, Any], scan: dict[str, Any] | None) -> dict[str, Any]:
        """A repo cloned (and, when it needed one, scanned) somewhere; returns its stored row.

        `co` is plain data (path, sha, seconds, disk_bytes); `scan` is
        {"modules": [...], "errors": [[path, message], ...]} or None when the
        repo was already scanned at this sha (module ids stay stable).
        """
        self.store.set_repo_status(repo["id"], repo.get("status") or "discovered", checkout_path=str(co["path"]),
                                   clone_s=round(co["seconds"], 3), disk_bytes=co["disk_bytes"])
        if scan is not None:
            self.store.replace_modules(repo["id"], co["sha"], scan["modules"])
            errors = scan["errors"]
            if errors:
                self.store.set_repo_status(repo["id"], "scanned" if scan["modules"] else "no_modules",
                                           error=f"{len(errors)} file(s) not scanned; first: "
                                                 f"{errors[0][0]}: {errors[0][1]}"[:1000])
        return self.store.repo(repo["id"]) or repo

    def requests_for(self, run_id: str, repo_id: str, checkout: Path | str) -> list[dict[str, Any]]:
        """The case requests still to run for one repo (honouring --max-cases)."""
        cases = self.store.pending_cases(run_id, [repo_id])
        if self.cfg.max_cases is not None:
            cases = cases[: max(0, self.cfg.max_cases - self.submitted)]
        self.submitted += len(cases)
        return [self._request(c, Path(checkout)) for c in cases]

    def record_reply(self, run_id: str, req: dict[str, Any], res: dict[str, Any],
                     node: dict[str, Any] | None = None) -> bool:
        """Write one finished case; False when (run, case) was already recorded."""
        if res.get("spec") and req.get("spec") is None:
            self.store.set_case_spec(req["case_id"], res["spec"], res.get("found_by"), res.get("stubs"), run_id)
        row = dict(res, run_id=run_id, case_id=req["case_id"], module_id=req["module_id"], repo_id=req["repo_id"])
        if node:
            row.update(node_id=node.get("node_id"), node_host=node.get("host"))
        row["trace_path"] = save_trace(self.cfg.db_path, run_id, req["case_id"], row)  # <db>.traces/, issue 12
        written = self.store.record_result(row)
        self._load.sample()  # is this run's time comparable with another's? (report --compare)
        if self._load.n % 10 == 1:
            self.store.db["runs"].update(run_id, {"load_avg": self._load.json()})
        self.emit("result", case_id=req["case_id"], status=res.get("status"), repo_id=req["repo_id"],
                  node=(node or {}).get("node_id"))
        return written

    def remove_checkout(self, path: Path) -> None:
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
            "found_by": json.loads(case["found_by"]) if case.get("found_by") else None, "check": cfg.check,
            "device": cfg.device, "backend": cfg.backend, "compile_mode": cfg.compile_mode,
            "fullgraph": cfg.fullgraph, "dynamic": cfg.dynamic, "seed": cfg.seed, "mode": cfg.mode,
            "tol": cfg.tol, "deduce_budget_s": cfg.deduce_budget_s, "timeout_s": cfg.timeout_s,
            "wall_timeout_s": cfg.wall_timeout_s or 4 * cfg.timeout_s, "confirm": cfg.confirm, "warm": cfg.warm,
            "single_trace": cfg.single_trace,
            "mem_mb": cfg.mem_mb, "cpu_s": cfg.cpu_s or int(cfg.timeout_s * 1.25) + 10, "max_procs": cfg.max_procs,
            "max_file_mb": cfg.max_file_mb, "max_output_mb": cfg.max_output_mb,
        }


def known_local_id(store: Store, ref: RepoRef) -> str:
    """The id this local URL already has in the database, else the one parse_repo gave it."""
    row = store.db.execute("select id from repos where url = ? and id like 'local/%' order by id limit 1",
                           [ref.url]).fetchone()
    return row[0] if row else ref.id


def _repo_counts(store: Store, ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for i in ids:
        repo = store.repo(i)
        if repo:
            counts[repo["status"]] = counts.get(repo["status"], 0) + 1
    return counts


def _config_json(cfg: CrawlConfig) -> dict[str, Any]:
    keep = ("timeout_s", "wall_timeout_s", "confirm", "mem_mb", "deduce_budget_s", "tol", "seed", "mode",
            "unsafe_no_sandbox", "compile_mode")
    return {k: getattr(cfg, k) for k in keep}
