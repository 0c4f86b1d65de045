"""Hostile modules run in the real bwrap sandbox: contained, recorded, no effect outside."""
from __future__ import annotations

import os
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from capture.workers.pool import WorkerPool
from capture.workers.sandbox import SandboxConfig, bwrap_problem
from tests.hostile_repos import HOSTILE, hostile_files

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")


class Listener:
    """A TCP listener on 127.0.0.1 that records whether anything connected."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("hostile")
    os.chmod(base, 0o755)
    tag = uuid.uuid4().hex[:8]
    home = Path(os.path.expanduser("~"))
    secret = home / f".graphcrawl_secret_{tag}"
    secret.write_text("TOPSECRET")
    listener = Listener()
    targets = {"home_target": str(home / f"graphcrawl_escape_{tag}"),
               "tmp_target": f"/tmp/graphcrawl_escape_{tag}"}
    repo = base / "repo"
    repo.mkdir()
    for rel, src in hostile_files(port=listener.port, secret=str(secret), **targets).items():
        (repo / rel).write_text(src)
    os.chmod(repo, 0o755)
    cfg = SandboxConfig(scratch_root=base / "scratch", cache_dir=base / "cache", readonly=[repo])
    order = [*HOSTILE, "clean_after_patch"]
    order.insert(order.index("patch_torch") + 1, order.pop())  # clean case right after the patch
    order.insert(order.index("write_tmp") + 1, "clean_after_tmp")  # and right after the /tmp write
    requests = [{"case_id": name, "checkout": str(repo), "path": f"{name}.py", "qualname": "Evil",
                 "backend": "eager", "timeout_s": 15, "mem_mb": 4096, "max_procs": 64,
                 "max_output_mb": 20} for name in order]
    results: dict[str, dict] = {}
    WorkerPool(1, cfg).map(requests, lambda r: results.__setitem__(r.request["case_id"], r.result))
    yield results, listener, secret, targets, repo
    listener.close()
    secret.unlink()


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_case_is_recorded_with_its_status(hostile_run, name: str) -> None:
    results = hostile_run[0]
    _, status, stage = HOSTILE[name]
    res = results[name]
    assert res["status"] == status, res
    if stage:
        assert res["stage"] == stage


def test_network_is_unreachable(hostile_run) -> None:
    results, listener = hostile_run[0], hostile_run[1]
    assert listener.connections == 0
    assert "DENIED" in results["net_connect"]["error_msg"]


def test_secrets_in_home_are_hidden(hostile_run) -> None:
    res = hostile_run[0]["read_secret"]
    assert "DENIED" in res["error_msg"] and "TOPSECRET" not in res["error_msg"]


def test_no_writes_escape_the_sandbox(hostile_run) -> None:
    targets, repo = hostile_run[3], hostile_run[4]
    assert not Path(targets["home_target"]).exists()
    assert not Path(targets["tmp_target"]).exists()
    assert not (repo / "ESCAPED.txt").exists()
    assert not Path(os.path.expanduser("~/graphcrawl_escape")).exists()


def test_signals_and_exits_are_named(hostile_run) -> None:
    results = hostile_run[0]
    assert results["segfault"]["signal"] == "SIGSEGV"
    assert results["exit_midcase"]["exit_code"] == 0 and "without a result" in results["exit_midcase"]["error_msg"]
    assert results["flood_output"]["error_type"] == "OutputLimitExceeded"
    assert results["fork_bomb"]["stage"] == "import"


def test_monkeypatch_does_not_leak_into_the_next_case(hostile_run) -> None:
    assert hostile_run[0]["clean_after_patch"]["status"] == "pass"


def test_files_in_tmp_do_not_reach_the_next_case(hostile_run) -> None:
    assert hostile_run[0]["clean_after_tmp"]["status"] == "pass", hostile_run[0]["clean_after_tmp"].get("error_msg")


def test_tmp_cleanup_leaves_the_bind_mounts_under_tmp_alone(hostile_run) -> None:
    # This run's scratch, compile cache and checkout live under the host's /tmp (pytest's
    # basetemp), bound into the sandbox's private /tmp: emptying that /tmp after each case
    # must not reach into them.
    repo = hostile_run[4]
    base = repo.parent
    assert str(base).startswith("/tmp/")
    assert (base / "cache" / "inductor").is_dir() and (base / "scratch").is_dir()
    assert (repo / "write_tmp.py").is_file()


def test_no_stray_processes_survive(hostile_run) -> None:
    # The sandbox of this module's run is the only one whose bwrap names its repo; once it
    # is gone its PID namespace, fork bomb included, is gone with it.
    repo = hostile_run[4]
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(repo) not in out


def _one_case(tmp_path: Path, file: str, source: str, qualname: str, **extra) -> dict:
    """One module file in a fresh repo, run through a real sandboxed worker (eager): its result."""
    os.chmod(tmp_path, 0o755)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / file).write_text(source)
    cfg = SandboxConfig(scratch_root=tmp_path / "scratch", cache_dir=tmp_path / "cache", readonly=[repo])
    req = {"case_id": qualname, "checkout": str(repo), "path": file, "qualname": qualname,
           "backend": "eager", "timeout_s": 60, "mem_mb": 4096, **extra}
    results: list[dict] = []
    WorkerPool(1, cfg).map([req], lambda r: results.append(r.result))
    return results[0]


ENV_PROBE = '''import os
import torch.nn as nn


class Probe(nn.Module):
    def __init__(self):
        super().__init__()
        seen = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith(("TORCH", "TRITON")))
        raise RuntimeError("ENV:" + ";".join(seen))
'''


def test_compiler_switches_in_the_shell_do_not_reach_workers(tmp_path, monkeypatch) -> None:
    # TORCHDYNAMO_REPRO_LEVEL=4 left in a shell re-runs every graph against eager and turns a
    # dropout module's verdict into parity_failed: a run's verdicts must not depend on it.
    from capture.workers.sandbox import inherited_compiler_env
    for var, value in {"TORCHDYNAMO_REPRO_LEVEL": "4", "TORCHDYNAMO_REPRO_AFTER": "aot",
                       "TORCHINDUCTOR_MAX_AUTOTUNE": "1", "TORCH_LOGS": "+dynamo"}.items():
        monkeypatch.setenv(var, value)
    assert {"TORCHDYNAMO_REPRO_LEVEL", "TORCHINDUCTOR_MAX_AUTOTUNE", "TORCH_LOGS"} <= set(inherited_compiler_env())
    msg = _one_case(tmp_path, "probe.py", ENV_PROBE, "Probe")["error_msg"]
    seen = dict(kv.split("=", 1) for kv in msg.split("ENV:", 1)[1].split()[0].split(";"))
    assert seen["TORCHINDUCTOR_COMPILE_THREADS"] == "1" and "TORCHINDUCTOR_CACHE_DIR" in seen  # the worker's own
    assert not {"TORCHDYNAMO_REPRO_LEVEL", "TORCHDYNAMO_REPRO_AFTER", "TORCHINDUCTOR_MAX_AUTOTUNE"} & set(seen)
    assert seen.get("TORCH_LOGS") != "+dynamo"  # the worker sets its own (graph_breaks,recompiles) for the trace


ESCAPES = '''import torch.nn as nn


class Escapes(nn.Module):
    def forward(self, x):
        raise KeyboardInterrupt("not an Exception: past every step's handler")
'''


def test_an_exception_past_the_checks_is_a_crash_with_its_traceback(tmp_path) -> None:
    # the child's last-resort handler: the case is a crash, and its traceback says where, not the output tail
    res = _one_case(tmp_path, "escapes.py", ESCAPES, "Escapes", stop_after="eager")
    assert res["status"] == "crash" and res["error_type"] == "KeyboardInterrupt"
    assert "escapes.py" in res["traceback"] and res["traceback"].rstrip().endswith("KeyboardInterrupt")
