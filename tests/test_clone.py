"""crawler.clone against real git repositories and real (local) misbehaving servers."""
from __future__ import annotations

import http.server
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import git
import pytest

from crawler.clone import CloneFailed, checkout_dir, clone, remove_checkout
from crawler.repo_ref import RepoRef, parse_repo
from tests.gitfixtures import commit, make_bare, make_repo


@pytest.fixture(autouse=True)
def _no_proxy_for_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test servers listen on 127.0.0.1: a proxy from the environment must not intercept them."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "src", "zoo", {"models.py": "import torch\n", "pkg/__init__.py": ""})


def _leftovers(workdir: Path) -> list[str]:
    return sorted(p.name for p in workdir.iterdir()) if workdir.exists() else []


def test_clone_pins_the_source_head_then_reuses_without_network(src: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    ref = parse_repo(str(src))
    co = clone(ref, work)
    assert co.sha == git.Repo(src).head.commit.hexsha
    assert co.path == work / ref.id.replace("/", "__") and not co.reused
    assert (co.path / "models.py").read_text() == "import torch\n"
    assert co.disk_bytes > len("import torch\n") and co.seconds > 0
    assert git.Repo(co.path).git.rev_parse("--is-shallow-repository") == "true"
    assert oct(co.path.stat().st_mode & 0o777) == oct(0o755)
    assert _leftovers(work) == [ref.id.replace("/", "__")]

    (src / "models.py").write_text("changed\n")
    new_sha = commit(src, "second")
    again = clone(ref, work)
    assert again.reused and again.sha == co.sha != new_sha  # reused as pinned: nothing fetched
    assert again.path == co.path and again.disk_bytes == co.disk_bytes


def test_bare_server_repo_and_plain_path_url(src: Path, tmp_path: Path) -> None:
    bare = make_bare(src, tmp_path / "srv" / "zoo.git")
    co = clone(parse_repo(bare.as_uri()), tmp_path / "work")
    assert co.repo_id.startswith("local/zoo-") and co.sha == git.Repo(src).head.commit.hexsha
    plain = clone(RepoRef("local/plain", str(src)), tmp_path / "work")  # a RepoRef made by hand
    assert plain.sha == co.sha
    assert git.Repo(plain.path).git.rev_parse("--is-shallow-repository") == "true"


def test_checkout_from_another_url_or_a_broken_dir_is_replaced(src: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    other = make_repo(tmp_path / "other", "zoo", {"other.py": "x = 1\n"})
    first = clone(parse_repo(str(other)), work)
    second = clone(RepoRef(first.repo_id, src.as_uri()), work)  # same id, different URL
    assert not second.reused and second.path == first.path and (second.path / "models.py").exists()

    remove_checkout(second.path)
    (second.path / "junk").mkdir(parents=True)  # looks like a checkout dir, is not one
    third = clone(RepoRef(first.repo_id, src.as_uri()), work)
    assert not third.reused and not (third.path / "junk").exists()


def test_nonexistent_repo_is_not_found(tmp_path: Path) -> None:
    work = tmp_path / "work"
    with pytest.raises(CloneFailed) as info:
        clone(RepoRef("local/nope", (tmp_path / "nope").as_uri()), work)
    assert info.value.status == "clone_failed" and info.value.reason == "not_found"
    assert "local/nope" in str(info.value)
    assert _leftovers(work) == []


def test_repo_over_the_size_cap_is_too_large_and_deleted(tmp_path: Path) -> None:
    big = make_repo(tmp_path / "src", "big", {"weights.bin": os.urandom(300_000)})
    work = tmp_path / "work"
    with pytest.raises(CloneFailed) as info:
        clone(parse_repo(str(big)), work, max_size_mb=0.1)
    assert info.value.status == "too_large" and info.value.reason == "too_large"
    assert _leftovers(work) == []
    assert clone(parse_repo(str(big)), work, max_size_mb=5).disk_bytes > 300_000


def test_not_enough_free_disk_fails_before_cloning(src: Path, tmp_path: Path) -> None:
    with pytest.raises(CloneFailed) as info:
        clone(parse_repo(str(src)), tmp_path / "work", min_free_mb=1e12)
    assert info.value.reason == "disk_full" and info.value.status == "clone_failed"
    assert _leftovers(tmp_path / "work") == []


@contextmanager
def tcp_server(on_connect) -> Iterator[tuple[int, list[socket.socket]]]:  # noqa: ANN001
    """A TCP server on 127.0.0.1 that hands each connection to `on_connect`; yields (port, connections)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conns.append(conn)
            on_connect(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], conns
    finally:
        stop.set()
        thread.join(5)
        for conn in conns:
            conn.close()
        listener.close()


def test_hanging_server_ends_in_timeout(tmp_path: Path) -> None:
    with tcp_server(lambda conn: None) as (port, conns):  # accepts, never answers
        start = time.monotonic()
        with pytest.raises(CloneFailed) as info:
            clone(parse_repo(f"http://127.0.0.1:{port}/owner/hang.git"), tmp_path / "work", timeout_s=2)
        elapsed = time.monotonic() - start
    assert info.value.reason == "timeout" and info.value.status == "clone_failed"
    assert 2 <= elapsed < 6 and len(conns) >= 1
    assert _leftovers(tmp_path / "work") == []


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # RST, not FIN: "connection reset by peer"


def test_transient_errors_are_retried_then_reported(tmp_path: Path) -> None:
    with tcp_server(_reset) as (port, conns):
        with pytest.raises(CloneFailed) as info:
            clone(parse_repo(f"http://127.0.0.1:{port}/owner/flaky.git"), tmp_path / "work", retries=2)
    assert info.value.reason == "error" and "after 3 tries" in str(info.value)
    assert len(conns) == 3


@contextmanager
def http_status_server(status: int) -> Iterator[tuple[int, list[str]]]:
    """A real HTTP server answering every request with `status`; yields (port, request paths)."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            seen.append(self.path)
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="private"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status,reason", [(401, "auth_required"), (404, "not_found")])
def test_auth_and_not_found_over_http_are_not_retried(tmp_path: Path, status: int, reason: str) -> None:
    with http_status_server(status) as (port, seen):
        start = time.monotonic()
        with pytest.raises(CloneFailed) as info:
            clone(parse_repo(f"http://127.0.0.1:{port}/owner/private.git"), tmp_path / "work", retries=2)
    assert info.value.reason == reason and info.value.status == "clone_failed"
    assert len(seen) == 1 and time.monotonic() - start < 2  # no retry, no prompt


def test_remove_checkout_deletes_only_checkouts(src: Path, tmp_path: Path) -> None:
    co = clone(parse_repo(str(src)), tmp_path / "work")
    remove_checkout(co.path)
    assert not co.path.exists()
    remove_checkout(co.path)  # already gone: nothing to do
    plain = tmp_path / "not_a_checkout"
    plain.mkdir()
    with pytest.raises(ValueError):
        remove_checkout(plain)
    assert plain.exists()


def test_checkout_dir_is_flat_and_per_id(tmp_path: Path) -> None:
    assert checkout_dir(tmp_path, RepoRef("owner/name", "x")) == tmp_path / "owner__name"
