"""The Ray executor: one NodeWorker actor per Ray node, scheduled from the driver.

The driver hands whole repos to nodes (one clone per node; a repo's cases
spread over that node's workers) and keeps, per node, at most as many cases
in flight as the node has workers, so a case "in flight" is a case running.
Results come back as plain data and are written as they arrive.

Faults:
- a node that dies (or whose actor dies): the cases it was running count one
  loss each and its repos go back to the queue (cloned again elsewhere; the
  database says what is left to run). A case in flight at two losses is
  recorded as `crash` with reason `node_lost`, so nothing is retried forever;
- a node without a working bwrap says so in `hello` and gets no work;
- nodes that join mid-crawl are put to work (the cluster is polled);
- Ctrl-C (or any error) kills the actors, which takes their sandboxed workers
  with them; what was recorded stays recorded.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from crawler.config import CrawlConfig
from crawler.executors.base import Recorder
from crawler.prepare import needs_scan
from crawler.executors.base import ExecutorUnavailable
from crawler.executors.ray_node import NodeWorker, config_to_dict

POLL_NODES_S = 3.0  # how often the cluster's node list is read
WAIT_FOR_NODES_S = 120.0  # with work left and no usable node, give up after this long
MAX_LOSSES = 2  # a case in flight at this many node losses is recorded as a crash


@dataclass
class RepoTask:
    """A repo handed to one node: its checkout there and its cases not yet submitted."""

    repo: dict[str, Any]
    checkout: str = ""
    todo: deque = field(default_factory=deque)
    running: int = 0


@dataclass
class NodeState:
    node_id: str
    actor: Any
    host: str = "?"
    workers: int = 0  # 0 until the node said hello
    ready: bool = False
    dead: bool = False
    refused: str | None = None
    running: dict[Any, dict[str, Any]] = field(default_factory=dict)  # ref -> request
    preparing: dict[Any, dict[str, Any]] = field(default_factory=dict)  # ref -> repo
    tasks: dict[str, RepoTask] = field(default_factory=dict)  # repo id -> task

    def info(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "host": self.host, "workers": self.workers,
                "in_flight": len(self.running), "state": "refused" if self.refused else
                "lost" if self.dead else "ready" if self.ready else "starting"}

    def queued(self) -> int:
        return sum(len(t.todo) for t in self.tasks.values())


def _check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """Fail in seconds with one line on a HOST:PORT nobody listens on (ray.init would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", ray:// client addresses: left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ExecutorUnavailable(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def _size(repo: dict[str, Any]) -> tuple[int, int]:
    return (repo.get("module_count") or 0, repo.get("size_kb") or 0)


class RayExecutor:
    name = "ray"

    def __init__(self, cfg: CrawlConfig) -> None:
        self.cfg = cfg
        self.address = cfg.ray_address or os.environ.get("RAY_ADDRESS") or None

    # -- cluster -------------------------------------------------------------
    def _connect(self) -> None:
        """Join the cluster at --ray-address / RAY_ADDRESS, else one on this machine, else start one here."""
        import ray

        quiet = {"namespace": "graphcrawl", "logging_level": logging.WARNING, "log_to_driver": False}
        if self.address:
            _check_reachable(self.address)
        try:
            if self.address:
                ray.init(address=self.address, **quiet)
                return
            try:
                ray.init(address="auto", **quiet)
            except ConnectionError:
                ray.init(include_dashboard=False, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExecutorUnavailable(f"cannot reach the Ray cluster at {self.address or 'this machine'}: "
                                      f"{first}") from None

    def _node_workers(self, resources: dict[str, float]) -> int:
        if self.cfg.workers:
            return self.cfg.workers
        key = "GPU" if self.cfg.device.startswith("cuda") else "CPU"
        return max(0, int(resources.get(key, 0)))

    def _discover_nodes(self) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        for n in ray.nodes():
            node_id = n["NodeID"]
            state = self.nodes.get(node_id)
            if not n.get("Alive"):
                if state is not None and not state.dead:
                    self._lose(state, "the Ray node left the cluster")
                continue
            if state is not None:
                continue
            workers = self._node_workers(n.get("Resources") or {})
            if workers == 0:
                continue  # e.g. a CPU-only node in a GPU crawl
            actor_cls = ray.remote(NodeWorker).options(
                num_cpus=0, max_concurrency=2 * workers + 8, max_restarts=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False))
            actor = actor_cls.remote(self.node_cfg, workers)
            state = NodeState(node_id=node_id, actor=actor, host=n.get("NodeManagerHostname") or "?")
            self.nodes[node_id] = state
            self.refs[actor.hello.remote()] = ("hello", node_id, None)
        self.last_poll = time.monotonic()

    # -- the loop ---------------------------------------------------------------
    def run(self, crawl: Recorder, run_id: str, repos: list[dict[str, Any]]) -> int:
        import ray

        self.crawl, self.run_id = crawl, run_id
        # Absolute: a relative --workdir would land in each Ray worker's own cwd.
        self.node_cfg = dict(config_to_dict(self.cfg), workdir=str(crawl.workdir))
        self.nodes: dict[str, NodeState] = {}
        self.refs: dict[Any, tuple[str, str, Any]] = {}
        # Biggest repos first: a repo runs on one node's cores, so a big one handed out last is
        # the tail of the whole crawl (scripts/bench_projection.py: up to a third of the wall on
        # 32 nodes). Size is the module count once scanned, else GitHub's size; ties keep star order.
        self.queue: deque = deque(sorted(repos, key=_size, reverse=True))
        self.losses: Counter[str] = Counter()
        self.repo_losses: Counter[str] = Counter()
        self.written = 0
        self.last_poll = 0.0
        self.last_emit = 0.0
        self._connect()
        try:
            self._loop(ray)
        finally:
            for state in self.nodes.values():
                try:
                    ray.kill(state.actor, no_restart=True)
                except Exception:  # noqa: BLE001 - already gone
                    pass
            ray.shutdown()
        return self.written

    def _busy(self) -> bool:
        return bool(self.queue) or any(s.running or s.preparing or s.queued() for s in self.nodes.values()
                                       if not s.dead)

    def _loop(self, ray: Any) -> None:
        idle_since = time.monotonic()
        while self._busy():
            if time.monotonic() - self.last_poll > POLL_NODES_S:
                self._discover_nodes()
            usable = [s for s in self.nodes.values() if s.ready and not s.dead and not s.refused]
            if usable:
                idle_since = time.monotonic()
            elif not any(k == "hello" for k, _, _ in self.refs.values()) and \
                    time.monotonic() - idle_since > WAIT_FOR_NODES_S:
                refused = [f"{s.host}: {s.refused}" for s in self.nodes.values() if s.refused]
                raise ExecutorUnavailable("no Ray node can run cases" + (f" ({refused[0]})" if refused else
                                                                         " (none alive)"))
            for state in usable:
                self._fill(state)
            self._emit_nodes()
            if not self.refs:
                time.sleep(0.2)
                continue
            ready, _ = ray.wait(list(self.refs), num_returns=1, timeout=1.0)
            if ready:  # take everything else that is done too, without waiting
                more, _ = ray.wait([r for r in self.refs if r not in ready], num_returns=len(self.refs) - 1,
                                   timeout=0) if len(self.refs) > 1 else ([], [])
                ready += more
            for ref in ready:
                self._handle(ray, ref)

    def _fill(self, state: NodeState) -> None:
        """Keep the node's workers busy; clone the next repos a little ahead."""
        for task in list(state.tasks.values()):
            while task.todo and len(state.running) < state.workers:
                req = task.todo.popleft()
                if self.losses[req["case_id"]] >= MAX_LOSSES:
                    continue  # already recorded as a crash
                req = dict(req, checkout=task.checkout)
                ref = state.actor.run_case.remote(req)
                state.running[ref] = req
                self.refs[ref] = ("case", state.node_id, req)
                task.running += 1
        # One repo cloning at a time per 4 workers, and only when the node is about to run dry:
        # repos then spread over nodes instead of piling onto the first one to say hello.
        while (self.queue and len(state.preparing) < max(1, state.workers // 4)
               and state.queued() + len(state.running) < 2 * state.workers):
            repo = self.queue.popleft()
            ref = state.actor.prepare.remote(repo, needs_scan(repo))
            state.preparing[ref] = repo
            self.refs[ref] = ("prepare", state.node_id, repo)

    def _handle(self, ray: Any, ref: Any) -> None:
        kind, node_id, payload = self.refs.pop(ref)
        state = self.nodes[node_id]
        state.running.pop(ref, None)
        state.preparing.pop(ref, None)
        try:
            value = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # an error inside the actor: the node is unusable
            if not state.dead:
                why = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
                self._lose(state, f"its actor failed: {why}", lost=(kind, payload))
            return
        except ray.exceptions.RayError as exc:  # the actor or its node is gone
            if not state.dead:
                self._lose(state, type(exc).__name__, lost=(kind, payload))
            return
        if state.dead:
            return  # a late answer from a node already written off: its work was requeued
        if kind == "hello":
            state.host, state.workers = value["host"], value["workers"]
            state.refused = value.get("refused")
            state.ready = not state.refused
            if state.refused:
                self.crawl.emit("warning", message=f"Ray node {state.host} ({node_id[:8]}) refuses work: "
                                                   f"{state.refused}")
            self._record_nodes()
        elif kind == "prepare":
            self._prepared(state, payload, value)
        elif kind == "case":
            node = {"node_id": node_id, "host": state.host}
            self.written += self.crawl.record_reply(self.run_id, payload, value, node)
            task = state.tasks.get(payload["repo_id"])
            if task is not None:
                task.running -= 1
                self._maybe_done(state, task)

    def _prepared(self, state: NodeState, repo: dict[str, Any], value: dict[str, Any]) -> None:
        if "failed" in value:
            f = value["failed"]
            self.crawl.record_clone_failed(repo, f["status"], f["message"])
            return
        row = self.crawl.record_checkout(repo, value["checkout"], value["scan"])
        requests = self.crawl.requests_for(self.run_id, row["id"], value["checkout"]["path"])
        self.crawl.emit("repo", repo_id=row["id"], status=row["status"], cases=len(requests), node=state.node_id)
        task = RepoTask(repo=row, checkout=value["checkout"]["path"], todo=deque(requests))
        state.tasks[row["id"]] = task
        self._maybe_done(state, task)

    def _maybe_done(self, state: NodeState, task: RepoTask) -> None:
        if task.todo or task.running:
            return
        state.tasks.pop(task.repo["id"], None)
        if self.cfg.delete_checkouts and task.checkout:
            state.actor.remove.remote(task.checkout)

    def _lose(self, state: NodeState, why: str, lost: tuple[str, Any] | None = None) -> None:
        """Write a node off: count a loss for each case it was running, hand its repos back.

        `lost` is the call whose failure told us (already taken off the node's lists).
        """
        import ray

        state.dead = True
        self.crawl.emit("warning", message=f"Ray node {state.host} ({state.node_id[:8]}) lost: {why}")
        running = list(state.running.values())
        repos = {r["id"]: r for r in state.preparing.values()}
        if lost is not None and lost[0] == "case":
            running.append(lost[1])
        if lost is not None and lost[0] == "prepare":
            repos[lost[1]["id"]] = lost[1]
        for ref in list(state.running) + list(state.preparing):
            self.refs.pop(ref, None)
        state.running.clear()
        state.preparing.clear()
        unfinished: Counter[str] = Counter()
        for req in running:
            self.losses[req["case_id"]] += 1
            if self.losses[req["case_id"]] >= MAX_LOSSES:
                self.written += self.crawl.record_reply(self.run_id, req, {
                    "status": "crash", "stage": "unknown", "error_type": "NodeLost", "reason": "node_lost",
                    "error_msg": f"the Ray node running this case was lost {MAX_LOSSES} times "
                                 f"(last: {state.host}, {why})"}, {"node_id": state.node_id, "host": state.host})
            else:
                unfinished[req["repo_id"]] += 1
        for task in state.tasks.values():
            repos[task.repo["id"]] = task.repo
            unfinished[task.repo["id"]] += len(task.todo)
        state.tasks.clear()
        for repo_id, repo in repos.items():
            # Its cases are recomputed from the database when it is prepared again elsewhere.
            self.crawl.submitted -= unfinished[repo_id]
            self.repo_losses[repo_id] += 1
            if self.repo_losses[repo_id] > 2 * MAX_LOSSES:  # a repo that keeps taking nodes down
                self.crawl.record_clone_failed(repo, "clone_failed",
                                               f"gave up: {self.repo_losses[repo_id]} Ray nodes lost while on it")
                continue
            self.queue.appendleft(repo)
        try:
            ray.kill(state.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self._record_nodes()

    def _record_nodes(self) -> None:
        nodes = [{"node_id": s.node_id, "host": s.host, "workers": s.workers}
                 for s in self.nodes.values() if s.ready]
        self.crawl.record_nodes(self.run_id, self.name, nodes)

    def _emit_nodes(self) -> None:
        if time.monotonic() - self.last_emit < 1.0:
            return
        self.last_emit = time.monotonic()
        self.crawl.emit("nodes_live", nodes=[s.info() for s in self.nodes.values()])
