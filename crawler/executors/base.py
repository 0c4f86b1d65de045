"""What an executor is, and what it sees of the crawl (the driver's side of the seam).

Why its own module: the executors implement `Executor` and call `Recorder`;
the package's make_executor picks one. Standing here, they never import the
driver, nor the package that chooses them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Protocol


class Recorder(Protocol):
    """What an executor sees of the crawl: where to work, what to run, where results go.

    crawler/driver.py's `Crawl` is the one implementation; its record_* methods
    are the single writer of the store.
    """

    workdir: Path
    submitted: int
    emit: Callable[..., None]

    def requests_for(self, run_id: str, repo_id: str, checkout: Path | str) -> list[dict[str, Any]]: ...

    def record_nodes(self, run_id: str, executor: str, nodes: list[dict[str, Any]]) -> None: ...

    def record_clone_failed(self, repo: dict[str, Any], status: str, message: str) -> None: ...

    def record_checkout(self, repo: dict[str, Any], co: dict[str, Any],
                        scan: dict[str, Any] | None) -> dict[str, Any]: ...

    def record_reply(self, run_id: str, req: dict[str, Any], res: dict[str, Any],
                     node: dict[str, Any] | None = None) -> bool: ...

    def remove_checkout(self, path: Path) -> None: ...


class Executor(Protocol):
    name: str

    def run(self, crawl: Recorder, run_id: str, repos: list[dict[str, Any]]) -> int:
        """Clone, scan and run the pending cases of `repos`; returns the results newly written."""


class ExecutorUnavailable(RuntimeError):
    """The executor asked for cannot start here (Ray not installed, no cluster, no usable node)."""
