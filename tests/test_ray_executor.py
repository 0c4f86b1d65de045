"""The Ray executor on a real two-node Ray cluster, 127.0.0.1 only (tests/ray_cluster.py).

Cheap cases (`--backend eager`, tiny modules): what is tested is where the
work goes and what survives faults, not the compiler.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import sandbox_flags
from tests.gitfixtures import make_repo
from tests.ray_cluster import NetnsRayCluster, ray_problem

if ray_problem() is not None and os.environ.get("GRAPHCRAWL_REQUIRE_RAY"):  # CI (.ci/run) must run these
    raise RuntimeError(f"GRAPHCRAWL_REQUIRE_RAY is set but {ray_problem()}")
pytestmark = pytest.mark.skipif(ray_problem() is not None, reason=str(ray_problem()))

FAST = '''
import torch.nn as nn


class Lin{i}(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return self.lin(x)


class Raises{i}(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        raise NotImplementedError("always")
'''

SLOW = '''
import time
import torch.nn as nn


class Slow{i}(nn.Module):
    def __init__(self):
        super().__init__()
        time.sleep(1.5)
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return self.lin(x)
'''


BLOCKS = '''
import time
import torch.nn as nn


class Blocks(nn.Module):
    """Its constructor sleeps for an hour: a crawl holding it cannot end before it is interrupted."""

    def __init__(self):
        super().__init__()
        time.sleep(3600)
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return self.lin(x)
'''


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("rayrepos")
    os.chmod(root, 0o755)
    fast = [make_repo(root, f"fast{r}", {"m.py": FAST.format(i=r)}) for r in range(3)]
    slow = [make_repo(root, f"slow{r}", {f"m{i}.py": SLOW.format(i=i) for i in range(4)}) for r in range(2)]
    blocks = make_repo(root, "blocks", {"b.py": BLOCKS})
    return {"fast": fast, "slow": slow, "blocks": [blocks]}


@pytest.fixture(scope="module")
def cluster() -> NetnsRayCluster:
    with NetnsRayCluster(nodes=2, cpus=1) as c:
        yield c


def _crawl(db: Path, workdir: Path, repos: list[Path], *extra: str) -> list[str]:
    args = [sys.executable, "-m", "graphcrawl.cli", "crawl", "--db", str(db), "--workdir", str(workdir),
            "--backend", "eager", "--timeout", "120", "--no-progress", *sandbox_flags(), *extra]
    for r in repos:
        args += ["--repo", r.as_uri()]
    return args


def _rows(db: Path) -> list[dict]:
    """The results so far; none while the crawl has created the file but not its tables yet."""
    conn = sqlite3.connect(db, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(
            "select r.case_id, r.status, r.node_id, r.node_host, r.repo_id, r.finished_at, r.reason "
            "from results r order by case_id")]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise


def _count(db: Path) -> int:
    try:
        return sqlite3.connect(db, timeout=5).execute("select count(*) from results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_ray_crawl_gives_the_local_statuses_and_uses_both_nodes(cluster: NetnsRayCluster, repos, tmp_path: Path
                                                                ) -> None:
    links = cluster.run(["ip", "-o", "link"]).stdout.strip().splitlines()
    assert [line.split(":")[1].strip() for line in links] == ["lo"]  # nothing can leave the machine
    nodes = cluster.node_list()
    assert len(nodes) == 2 and {n["ip"] for n in nodes} == {"127.0.0.1"}

    local_db, ray_db = tmp_path / "local.db", tmp_path / "ray.db"
    out = cluster.run(_crawl(local_db, tmp_path / "wl", repos["fast"], "--workers", "1"), check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    out = cluster.run(_crawl(ray_db, tmp_path / "wr", repos["fast"], "--executor", "ray",
                             "--ray-address", cluster.address), check=False)
    assert out.returncode == 0, out.stderr[-3000:]

    local, ray_rows = _rows(local_db), _rows(ray_db)
    assert {r["case_id"]: r["status"] for r in ray_rows} == {r["case_id"]: r["status"] for r in local}
    assert len(ray_rows) == 6 and {r["status"] for r in ray_rows} == {"pass", "eager_failed"}
    used = {r["node_id"] for r in ray_rows}
    assert used == {n["id"] for n in nodes}  # both nodes ran cases
    assert all(r["node_host"] for r in ray_rows)
    for repo in {r["repo_id"] for r in ray_rows}:  # the repo is the unit: one node per repo
        assert len({r["node_id"] for r in ray_rows if r["repo_id"] == repo}) == 1
    (run,) = sqlite3.connect(ray_db).execute("select executor, nodes from runs").fetchall()
    assert run[0] == "ray" and all(n["id"] in run[1] for n in nodes)


def test_kill_9_of_the_driver_then_rerun_records_each_case_once(cluster: NetnsRayCluster, repos,
                                                                 tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    cmd = _crawl(db, tmp_path / "w", repos["slow"], "--executor", "ray", "--ray-address", cluster.address)
    proc = cluster.popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while _count(db) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the crawl ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)  # the driver only: Ray must clean up its actors by itself
    proc.wait()
    before = {r["case_id"]: r["finished_at"] for r in _rows(db)}
    assert 2 <= len(before) < 8
    out = cluster.run(cmd, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = _rows(db)
    assert len(rows) == 8 == len({r["case_id"] for r in rows})
    assert all(r["status"] == "pass" for r in rows)
    assert all({r["case_id"]: r["finished_at"] for r in rows}[c] == t for c, t in before.items())


@pytest.mark.skipif(bool(sandbox_flags()), reason="bwrap does not work here: nothing to refuse")
def test_a_node_without_working_bwrap_refuses_and_the_crawl_goes_on(cluster: NetnsRayCluster, repos,
                                                                    tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    index = cluster.add_node(env={"PATH": f"{fake}:{os.environ['PATH']}"})
    broken = cluster.ids[index]
    try:
        db = tmp_path / "b.db"
        out = cluster.run(_crawl(db, tmp_path / "w", repos["fast"], "--executor", "ray",
                                 "--ray-address", cluster.address), check=False)
        assert out.returncode == 0, out.stderr[-3000:]
        assert "refuses work" in out.stderr and "install bubblewrap" in out.stderr
        rows = _rows(db)
        assert len(rows) == 6 and broken not in {r["node_id"] for r in rows}
    finally:
        cluster.kill_node(index)


def test_ctrl_c_stops_the_cluster_work_and_keeps_what_was_recorded(cluster: NetnsRayCluster, repos,
                                                                    tmp_path: Path) -> None:
    """Deterministic: one case sleeps for an hour, so the crawl cannot end before the interrupt, and
    the interrupt is sent only once the driver has recorded a result (its loop, and Python's SIGINT
    handler, are in place). Ctrl-C may land anywhere in the driver's loop: in ray.wait, in a write,
    in the progress update; each ends in KeyboardInterrupt, the CLI's exit 130."""
    db, work = tmp_path / "c.db", tmp_path / "w"
    proc = cluster.popen(_crawl(db, work, [*repos["blocks"], *repos["slow"]], "--executor", "ray",
                                "--ray-address", cluster.address, "--timeout", "3000"),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while _count(db) < 1 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    assert "interrupted" in proc.stderr.read().decode()
    recorded = _rows(db)
    assert 1 <= len(recorded) < 9 and len({r["case_id"] for r in recorded}) == len(recorded)
    assert not any(r["case_id"].endswith(":Blocks") for r in recorded)
    deadline = time.monotonic() + 60  # the nodes' sandboxed workers for this crawl go away
    while _processes_mentioning(str(work)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _processes_mentioning(str(work))


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_a_node_lost_mid_crawl_loses_no_case_and_duplicates_none(cluster: NetnsRayCluster, repos,
                                                                 tmp_path: Path) -> None:
    """Runs last: it takes the second node down for good."""
    worker_id = cluster.ids[1]
    db = tmp_path / "n.db"
    err = tmp_path / "err"
    cmd = _crawl(db, tmp_path / "w", repos["slow"], "--executor", "ray", "--ray-address", cluster.address)
    proc = cluster.popen(cmd, stdout=subprocess.DEVNULL, stderr=open(err, "wb"))
    deadline = time.monotonic() + 300
    mid_repo = False
    while time.monotonic() < deadline and proc.poll() is None and not mid_repo:
        rows = _rows(db) if db.exists() else []
        on_worker = {r["repo_id"] for r in rows if r["node_id"] == worker_id}
        mid_repo = any(sum(x["repo_id"] == repo for x in rows) < 4 for repo in on_worker)
        time.sleep(0.2)
    assert mid_repo, err.read_text()[-3000:]
    cluster.kill_node(1)  # raylet, its actor and the sandboxed workers, all SIGKILL
    assert proc.wait(timeout=600) == 0, err.read_text()[-3000:]
    rows = _rows(db)
    assert len(rows) == 8 == len({r["case_id"] for r in rows})  # none lost, none twice
    assert all(r["status"] == "pass" for r in rows), rows
    assert "lost" in err.read_text()
    nodes_of: dict[str, set] = {}
    for r in rows:
        nodes_of.setdefault(r["repo_id"], set()).add(r["node_id"])
    assert {cluster.ids[0], worker_id} in nodes_of.values()  # the lost node's unfinished cases ran on the head


STUCK = '''
import time
import torch.nn as nn


class Stuck(nn.Module):
    def __init__(self):
        super().__init__()
        time.sleep(600)

    def forward(self, x):
        return x
'''


def test_a_case_in_flight_at_two_node_losses_is_a_crash_not_retried(tmp_path: Path) -> None:
    """Head without CPUs (it runs no cases) and three one-worker nodes; the node running the case dies twice."""
    root = tmp_path / "repos"
    root.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(root, 0o755)
    repo = make_repo(root, "stuck", {"m.py": STUCK})
    with NetnsRayCluster(nodes=1, cpus=0) as c:
        for _ in range(3):
            c.add_node(cpus=1)
        db, err = tmp_path / "s.db", tmp_path / "err"
        proc = c.popen(_crawl(db, tmp_path / "w", [repo], "--executor", "ray", "--ray-address", c.address),
                       stdout=subprocess.DEVNULL, stderr=open(err, "wb"))
        killed: set[int] = set()
        deadline = time.monotonic() + 400
        while len(killed) < 2 and time.monotonic() < deadline and proc.poll() is None:
            running = _running_node(c, tmp_path / "w", killed)
            if running is not None:
                c.kill_node(running)
                killed.add(running)
            time.sleep(0.5)
        assert len(killed) == 2, err.read_text()[-3000:]
        assert proc.wait(timeout=300) == 0, err.read_text()[-3000:]
    (row,) = _rows(db)
    assert row["status"] == "crash" and row["reason"] == "node_lost"
    assert row["node_id"] in {c.ids[i] for i in killed}


def _running_node(c: NetnsRayCluster, workdir: Path, skip: set[int]) -> int | None:
    """The node whose sandbox is running the case now: its per-node scratch holds the case's directory."""
    for i, node_id in enumerate(c.ids):
        if i == 0 or i in skip or c.nodes[i].poll() is not None:
            continue
        scratch = workdir / f"node-{node_id[:12]}" / ".scratch" / "cases"
        if scratch.is_dir() and any(scratch.iterdir()):
            return i
    return None
