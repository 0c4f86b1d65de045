"""The live view of a crawl: rich progress bars, counts per status, rate, ETA, nodes.

With the Ray executor a third line counts the nodes up (of those seen) and
lists them, each with its cases in flight over its workers
(`host/abcd1234 2/4`), or lost, refused, starting.
"""
from __future__ import annotations

import time
from collections import Counter
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from db.status import FUNNEL_ORDER


class CrawlProgress:
    """Receives driver events (`__call__(kind, **info)`) and renders them."""

    def __init__(self, console: Console | None = None, enabled: bool = True) -> None:
        self.console = console or Console(stderr=True)
        self.counts: Counter[str] = Counter()
        self.repo_status: Counter[str] = Counter()
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]{task.description:<5}"), BarColumn(bar_width=20), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(compact=True),
            TextColumn("{task.fields[status]}"), console=self.console, disable=not enabled,
            transient=False)
        self.repos_task = self.progress.add_task("repos", total=None, status="")
        self.cases_task = self.progress.add_task("cases", total=0, status="")
        self.nodes_task: int | None = None
        self.started = time.monotonic()
        self.done = 0

    def __enter__(self) -> "CrawlProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _status_line(self) -> str:
        order = {s: i for i, s in enumerate(FUNNEL_ORDER)}
        counts = " ".join(f"{s}={n}" for s, n in sorted(self.counts.items(), key=lambda kv: order.get(kv[0], 99)))
        return f"{self.rate():.1f}/min {counts}"

    def rate(self) -> float:
        """Cases finished per minute since the crawl started."""
        return 60 * self.done / max(1e-6, time.monotonic() - self.started)

    @staticmethod
    def nodes_line(nodes: list[dict[str, Any]]) -> str:
        parts = []
        for n in nodes:
            name = f"{n.get('host')}/{(n.get('node_id') or 'local')[:8]}"
            state = n.get("state", "ready")
            parts.append(f"{name} {n.get('in_flight', 0)}/{n.get('workers', 0)}" if state == "ready"
                         else f"{name} {state}")
        return ", ".join(parts)

    def __call__(self, kind: str, **info: Any) -> None:
        if kind == "run":
            self.console.print(f"run [bold]{info['run_id']}[/] (torch {info['env']['torch']}, "
                               f"{info['env'].get('device_name') or ''})")
        elif kind == "repos":
            self.progress.update(self.repos_task, total=info["total"])
        elif kind == "repo":
            self.repo_status[info["status"]] += 1
            self.progress.advance(self.repos_task)
            self.progress.update(self.repos_task, status=" ".join(f"{k}={v}" for k, v in self.repo_status.items()))
            if info.get("cases"):
                task = self.progress.tasks[self.cases_task]
                self.progress.update(self.cases_task, total=(task.total or 0) + info["cases"])
            if info.get("error"):
                self.console.print(f"[yellow]{info['repo_id']}: {info['status']}: {str(info['error'])[:200]}")
        elif kind == "nodes_live":
            if self.nodes_task is None:
                self.nodes_task = self.progress.add_task("nodes", total=None, status="")
            up = sum(1 for n in info["nodes"] if n.get("state", "ready") == "ready")
            self.progress.update(self.nodes_task, total=len(info["nodes"]), completed=up,
                                 status=self.nodes_line(info["nodes"]))
        elif kind == "result":
            self.done += 1
            self.counts[info["status"] or "unknown"] += 1
            self.progress.advance(self.cases_task)
            self.progress.update(self.cases_task, status=self._status_line())
        elif kind == "warning":
            self.console.print(f"[yellow]warning: {info['message']}")
        elif kind == "wait":
            self.progress.update(self.repos_task, status=f"waiting for the rate limit until {info.get('until_text', info.get('until'))}")
        elif kind == "discovered":
            self.progress.update(self.repos_task, status=f"discovered {info.get('count')}")


def summary_table(counts: dict[str, int], repos: dict[str, int], run_id: str, wall_s: float) -> Table:
    order = {s: i for i, s in enumerate(FUNNEL_ORDER)}
    total = sum(counts.values()) or 1
    table = Table(title=f"run {run_id}: {sum(counts.values())} cases in {wall_s:.0f} s")
    table.add_column("status")
    table.add_column("cases", justify="right")
    table.add_column("share", justify="right")
    for status, n in sorted(counts.items(), key=lambda kv: order.get(kv[0], 99)):
        table.add_row(status, str(n), f"{100 * n / total:.1f}%")
    if repos:
        table.caption = "repos: " + ", ".join(f"{k} {v}" for k, v in sorted(repos.items()))
    return table
