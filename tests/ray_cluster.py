"""A real Ray cluster of several nodes on this machine, on 127.0.0.1 only.

Ray swaps 127.0.0.1 for the machine's interface address unless the only
interface is loopback, so the cluster lives in a private network namespace
(`unshare -n`, then `ip link set lo up`): nothing it does can leave the
machine. Every command that talks to it (the crawl driver, `ray` itself)
enters that namespace with `nsenter --net`. Each node is one
`ray start --block` process in its own process group, so one node can be
killed alone (a node lost mid-crawl) and the cluster is torn down by pid,
never by `ray stop` (which would kill every Ray on the machine).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NODE_FLAGS = ["--object-store-memory=100000000", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]


def ray_problem() -> str | None:
    """None when a netns Ray cluster can be made here; otherwise why not (a skip reason)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return "ray is not installed (pip install 'graphcrawl[ray]')"
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (util-linux / iproute2)"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace here: {probe.stderr.strip()[:200]}"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_cli() -> list[str]:
    beside = Path(sys.executable).parent / "ray"
    return [str(beside)] if beside.exists() else ["ray"]


class NetnsRayCluster:
    """`with NetnsRayCluster(nodes=2) as c: c.run([...crawl..., '--ray-address', c.address])`."""

    def __init__(self, nodes: int = 2, cpus: int = 1, env: dict[str, str] | None = None) -> None:
        self.n_nodes = nodes
        self.cpus = cpus
        # Short: Ray's unix sockets live under it (108-byte limit).
        self.temp = Path(tempfile.mkdtemp(prefix="gcray", dir="/tmp"))
        self.env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", **(env or {}))
        self.env.pop("RAY_ADDRESS", None)
        self.port = 0
        self.ns: subprocess.Popen | None = None
        self.nodes: list[subprocess.Popen] = []
        self.ids: list[str] = []  # Ray node id of self.nodes[i]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _enter(self) -> list[str]:
        assert self.ns is not None
        return ["nsenter", f"--net=/proc/{self.ns.pid}/ns/net", "--"]

    def start(self) -> "NetnsRayCluster":
        self.ns = subprocess.Popen(["unshare", "-n", "bash", "-c", "ip link set lo up && exec sleep infinity"],
                                   start_new_session=True)
        deadline = time.monotonic() + 10
        while "state UNKNOWN" not in self.run(["ip", "-o", "link", "show", "lo"], check=False).stdout:
            if time.monotonic() > deadline:
                raise RuntimeError("loopback did not come up in the namespace")
            time.sleep(0.1)
        self.port = _free_port()  # free on the host; the namespace has its own ports, all free
        self.add_node(head=True)
        for _ in range(self.n_nodes - 1):
            self.add_node()
        return self

    def add_node(self, head: bool = False, cpus: int | None = None, env: dict[str, str] | None = None) -> int:
        """Start one more node (the first is the head); returns its index in `self.nodes`."""
        where = ["--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self.temp}"] \
            if head else [f"--address={self.address}"]
        log = open(self.temp / f"node-{len(self.nodes)}.log", "ab")
        proc = subprocess.Popen(
            [*self._enter(), *_ray_cli(), "start", "--block", *where, f"--num-cpus={cpus or self.cpus}",
             *NODE_FLAGS], env=dict(self.env, **(env or {})), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        known = set(self.ids)
        self.nodes.append(proc)
        nodes = self.wait_for_nodes(len([p for p in self.nodes if p.poll() is None]), exclude=known)
        self.ids.append(next(n["id"] for n in nodes if n["alive"] and n["id"] not in known))
        return len(self.nodes) - 1

    def node_list(self) -> list[dict]:
        """ray.nodes() as seen from inside the namespace: alive, address, id."""
        code = ("import json, ray; ray.init(address=%r, logging_level='ERROR', log_to_driver=False); "
                "print(json.dumps([{'id': n['NodeID'], 'alive': n['Alive'], 'ip': n['NodeManagerAddress']} "
                "for n in ray.nodes()]))" % self.address)
        out = self.run([sys.executable, "-c", code], check=False, timeout=120)
        if out.returncode != 0:
            return []
        return json.loads(out.stdout.strip().splitlines()[-1])

    def wait_for_nodes(self, alive: int, timeout: float = 180, exclude: set[str] = frozenset()) -> list[dict]:
        """Wait until `alive` nodes are up, one of them not in `exclude` (a node just started)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.nodes[-1]
            if proc.poll() is not None:
                raise RuntimeError(f"ray node {len(self.nodes) - 1} exited: {self.log(len(self.nodes) - 1)[-2000:]}")
            nodes = self.node_list()
            up = [n for n in nodes if n["alive"]]
            if len(up) >= alive and any(n["id"] not in exclude for n in up):
                return nodes
            time.sleep(1)
        raise RuntimeError(f"fewer than {alive} Ray nodes came up: {self.log(0)[-2000:]}")

    def log(self, i: int) -> str:
        return (self.temp / f"node-{i}.log").read_text(errors="replace")

    def run(self, cmd: list[str], check: bool = True, timeout: float = 900, **kw) -> subprocess.CompletedProcess:
        """Run a command inside the cluster's network namespace."""
        proc = subprocess.run([*self._enter(), *cmd], env=kw.pop("env", self.env), capture_output=True, text=True,
                              timeout=timeout, **kw)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): {proc.stderr[-3000:]}")
        return proc

    def popen(self, cmd: list[str], **kw) -> subprocess.Popen:
        return subprocess.Popen([*self._enter(), *cmd], env=kw.pop("env", self.env), start_new_session=True, **kw)

    def kill_node(self, i: int) -> None:
        """Take node i down hard: its raylet, its workers, the sandboxes they started."""
        proc = self.nodes[i]
        pids = _descendants(proc.pid)
        for pid in [proc.pid, *pids]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()

    def stop(self) -> None:
        for i in reversed(range(len(self.nodes))):
            if self.nodes[i].poll() is None:
                self.kill_node(i)
        if self.ns is not None and self.ns.poll() is None:
            os.killpg(self.ns.pid, signal.SIGKILL)
            self.ns.wait()
        shutil.rmtree(self.temp, ignore_errors=True)

    def __enter__(self) -> "NetnsRayCluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _descendants(pid: int) -> list[int]:
    """Every process under `pid` (Ray starts its daemons in sessions of their own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
