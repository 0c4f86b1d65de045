"""Getting a repo ready where it is handed: clone at its pinned sha, scan, as plain data.

Why its own module: these run wherever a repo is handed, in the driver's
process (local executor) or on a Ray node, so they touch no database and
import nothing of the driver; both sides stand on this module.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from crawler.clone import Checkout, CloneFailed, clone
from crawler.config import CrawlConfig
from crawler.repo_ref import RepoRef
from crawler.scan import scan_checkout


def needs_scan(repo: dict[str, Any]) -> bool:
    """Whether a repo's checkout must be scanned (not yet scanned at its pinned sha)."""
    return not (repo.get("sha") and repo.get("status") in ("scanned", "no_modules"))


def prepare_checkout(repo: dict[str, Any], workdir: Path, cfg: CrawlConfig) -> Checkout | CloneFailed:
    """Clone (or reuse) a repo's checkout under `workdir`, at its recorded sha when it has one.

    Runs wherever the repo is handed: in the driver (local executor) or on a
    Ray node, so it touches no database.
    """
    ref = RepoRef(repo["id"], repo["url"])
    try:
        co = clone(ref, workdir, timeout_s=cfg.clone_timeout_s, max_size_mb=cfg.max_repo_mb,
                   min_free_mb=cfg.min_free_mb)
    except CloneFailed as exc:
        return exc
    want = repo.get("sha")
    if want and co.sha != want:
        try:
            _checkout_sha(co.path, want, cfg.clone_timeout_s)
            co.sha = want
        except RuntimeError as exc:
            return CloneFailed(f"pinned commit {want[:12]} not reachable: {exc}", status="clone_failed", reason="error")
    return co


def checkout_info(co: Checkout) -> dict[str, Any]:
    """A checkout as plain data (what crosses from a node to the driver)."""
    return {"path": str(co.path), "sha": co.sha, "seconds": co.seconds, "disk_bytes": co.disk_bytes}


def scan_info(path: Path) -> dict[str, Any]:
    """A scan as plain data: module rows and the files that could not be read."""
    result = scan_checkout(path)
    return {"modules": result.modules, "errors": [list(e) for e in result.errors]}


def _checkout_sha(path: Path, sha: str, timeout: float) -> None:
    for cmd in (["git", "fetch", "--depth", "1", "origin", sha], ["git", "checkout", "--detach", sha]):
        proc = subprocess.run(cmd, cwd=path, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_LFS_SKIP_SMUDGE="1"))
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip()[-300:])
