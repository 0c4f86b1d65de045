"""Where a crawl's work runs: the seam between the driver and the machines.

The driver (crawler/driver.py, `Crawl`) decides what to record and is the
only writer of the store; an executor decides where repos are cloned and
scanned and where their cases run, and hands back plain data through the
`Recorder` methods below (the driver's), in the driver's thread. Executors
stand on crawler/config.py and crawler/prepare.py, never on the driver:

- `local` (crawler/executors/local.py): this machine's sandboxed WorkerPool,
  one worker per core (or per GPU).
- `ray` (crawler/executors/ray_executor.py): one actor per Ray node, each
  with its own checkouts, compile cache and sandboxed WorkerPool
  (crawler/executors/ray_node.py). Ray is imported only when asked for.
"""
from __future__ import annotations

from crawler.config import CrawlConfig
from crawler.executors.base import Executor, ExecutorUnavailable

EXECUTORS = ("local", "ray")


def make_executor(cfg: CrawlConfig) -> Executor:
    if cfg.executor == "local":
        from crawler.executors.local import LocalExecutor
        return LocalExecutor(cfg)
    if cfg.executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ExecutorUnavailable(
                "--executor ray needs Ray: pip install 'graphcrawl[ray]' (or pip install ray)") from None
        from crawler.executors.ray_executor import RayExecutor
        return RayExecutor(cfg)
    raise ExecutorUnavailable(f"unknown executor {cfg.executor!r}; choose one of {', '.join(EXECUTORS)}")
