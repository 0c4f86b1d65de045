"""What a crawl is asked to do: the configuration the driver and every executor share.

Why its own module: the driver (crawler/driver.py) and the executors
(crawler/executors/) both read it, and the executors must not import the
driver; a Ray node rebuilds it from plain data (executors/ray_node.py).
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


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
    timeout_s: float = 300.0  # CPU seconds of the case's process tree (capture/workers/worker.py)
    wall_timeout_s: float | None = None  # wall-clock backstop; default 4 x timeout_s
    confirm: bool = True  # rerun a compiler failure once in a fresh child (capture/workers/confirm.py)
    warm: bool = True  # compile once in the worker before forking cases (capture/workers/warm.py)
    single_trace: bool = True  # capture and compile in one Dynamo trace (capture/checks/steps.py one_trace)
    mem_mb: int = 6144
    cpu_s: int | None = None  # RLIMIT_CPU per process; default 1.25 x timeout_s + 10
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
    check: str = "inference"  # inference | training | dynamic | eager | export (capture/checks/funnels.py FUNNELS)
    executor: str = "local"  # local | ray (crawler/executors)
    ray_address: str | None = None  # None: RAY_ADDRESS, else a local Ray instance


def default_run_name(cfg: CrawlConfig, torch_version: str) -> str:
    """Same config on the same torch -> same run (resume); a new torch -> a new run."""
    name = f"torch{torch_version}-{cfg.device}-{cfg.backend}"
    if cfg.compile_mode:
        name += f"-{cfg.compile_mode}"
    if cfg.fullgraph:
        name += "-fullgraph"
    if cfg.dynamic is not None:
        name += "-dynamic-true" if cfg.dynamic else "-static"
    if cfg.check != "inference":
        name += f"-{cfg.check}"  # -training, -dynamic, -eager, -export: the same cases, another check
    return name


def default_workers(device: str) -> int:
    if device.startswith("cuda"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
            return max(1, len([line for line in out.splitlines() if line.startswith("GPU")]))
        except (OSError, subprocess.TimeoutExpired):
            return 1
    return max(1, len(os.sched_getaffinity(0)))
