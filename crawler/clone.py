"""Clone a repository once, shallowly, and pin it to the commit it was cloned at.

A crawl of thousands of repos meets every way a clone can go wrong: gone or
private repos, servers that hang, repos too big for the disk. Each becomes a
`CloneFailed` with a status and a reason the database stores, instead of a
hang or a traceback. A clone is made in a temporary directory beside its
target and renamed into place only when complete, so a killed crawl never
leaves a half checkout that a later run would mistake for a good one.

git runs as a subprocess in its own process group rather than through
GitPython's `Repo.clone_from`: that runs git with `as_process=True`, which
ignores `kill_after_timeout`, and a timeout must also kill git's helpers
(git-remote-http, upload-pack), which only a process-group kill reaches.
GitPython reads the finished checkout.
"""
from __future__ import annotations

import errno
import glob
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import git

from crawler.repo_ref import RepoRef

__all__ = ["Checkout", "CloneFailed", "checkout_dir", "clone", "remove_checkout", "tree_bytes"]

MB = 1024 * 1024
BACKOFF_S = 0.5  # first retry delay; doubles per retry (transient network errors only)
_POLL_S = 0.25  # how often a running clone is checked against its deadline and size cap
_PARTIAL = ".partial-"

# (reason, substrings of git's stderr, lower-cased). First match wins.
_REASONS: list[tuple[str, tuple[str, ...]]] = [
    ("disk_full", ("no space left on device", "disk quota exceeded")),
    ("auth_required", ("authentication failed", "could not read username", "could not read password",
                       "terminal prompts disabled", "permission denied (publickey", "http 401",
                       "the requested url returned error: 401", "the requested url returned error: 403",
                       "host key verification failed")),
    ("not_found", ("repository not found", "not found", "does not exist",
                   "does not appear to be a git repository", "the requested url returned error: 404")),
]
_TRANSIENT = ("connection reset", "early eof", "timed out", "timeout", "the remote end hung up unexpectedly",
              "rpc failed", "unexpected disconnect", "could not resolve host", "failed to connect",
              "connection refused", "empty reply from server", "transfer closed",
              "the requested url returned error: 5", "gnutls", "ssl_read", "index-pack failed",
              "temporary failure")


@dataclass
class Checkout:
    """A repository on disk at one commit. `disk_bytes` counts every file, `.git` included."""

    repo_id: str
    path: Path
    sha: str
    seconds: float
    disk_bytes: int
    reused: bool


class CloneFailed(Exception):
    """A repo that could not be cloned, as the funnel records it.

    `status` is the repo's status ("clone_failed" or "too_large"); `reason` is
    one of "not_found", "timeout", "too_large", "auth_required", "disk_full",
    "error".
    """

    def __init__(self, message: str, *, status: str = "clone_failed", reason: str = "error"):
        super().__init__(message)
        self.status = status
        self.reason = reason


def checkout_dir(workdir: Path, ref: RepoRef) -> Path:
    """Where a repo's checkout lives: one directory per repo id, flat under workdir.

    The name is checked because whatever sits there may be deleted and replaced;
    it never starts with "." so that it cannot collide with a clone in progress
    (`.<name>.partial-*`) or the driver's own `.scratch`/`.cache`.
    """
    name = ref.id.replace("/", "__")
    if not name or name in (".", "..") or os.sep in name or "\0" in name or name.startswith("."):
        raise ValueError(f"repo id {ref.id!r} cannot name a checkout directory")
    return Path(workdir) / name


def clone(ref: RepoRef, workdir: Path, *, timeout_s: float = 300, max_size_mb: float = 500,
          min_free_mb: float = 1024, retries: int = 2) -> Checkout:
    """Reuse or make a shallow checkout of `ref` under `workdir`; raise CloneFailed on any failure.

    An existing valid checkout from the same URL is reused without touching
    the network (its HEAD is the pinned sha). Otherwise: depth 1, one branch,
    no tags, no submodules, LFS pointers left unsmudged, no credential
    prompts. `timeout_s` bounds the whole call, retries included; a clone
    that grows past `max_size_mb` is stopped early and deleted.
    """
    try:
        target = checkout_dir(Path(workdir), ref)
    except ValueError as exc:
        raise CloneFailed(str(exc), reason="error") from exc
    try:
        return _clone(ref, target, timeout_s, max_size_mb, min_free_mb, retries)
    except OSError as exc:  # our side of the disk: a full disk, a permission problem
        reason = "disk_full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "error"
        raise CloneFailed(f"{ref.id}: {exc}", reason=reason) from exc


def _clone(ref: RepoRef, target: Path, timeout_s: float, max_size_mb: float, min_free_mb: float,
           retries: int) -> Checkout:
    workdir = target.parent
    workdir.mkdir(parents=True, exist_ok=True)
    url = _clone_url(ref.url)
    start = time.monotonic()
    cap = int(max_size_mb * MB)

    sha = _valid_checkout_sha(target, url)
    if sha is not None:
        size = tree_bytes(target)
        if size > cap:
            _rmtree(target)
            raise _too_large(ref, size, max_size_mb)
        return Checkout(ref.id, target, sha, time.monotonic() - start, size, reused=True)
    if target.exists() or target.is_symlink():
        _rmtree(target)  # a foreign or broken directory under our name: ours to replace
    _remove_stale_partials(workdir, target.name, older_than_s=timeout_s + 60)

    free = shutil.disk_usage(workdir).free
    if free < min_free_mb * MB:
        raise CloneFailed(f"{ref.id}: only {free / MB:.0f} MB free in {workdir}, need {min_free_mb:.0f} MB",
                          reason="disk_full")

    deadline = start + timeout_s
    attempt = 0
    while True:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}{_PARTIAL}", dir=workdir))
        try:
            outcome, detail = _run_clone(url, tmp, deadline, cap)
            if outcome == "ok":
                return _finish(ref, tmp, target, start, cap, max_size_mb)
        finally:
            if tmp.exists():
                _rmtree(tmp)
        if outcome == "timeout":
            raise CloneFailed(f"{ref.id}: clone did not finish within {timeout_s:g} s", reason="timeout")
        if outcome == "too_large":
            raise _too_large(ref, int(detail), max_size_mb)
        reason = _reason(detail)
        transient = reason == "error" and any(t in detail.lower() for t in _TRANSIENT)
        delay = BACKOFF_S * 2 ** attempt
        if not transient or attempt >= retries or time.monotonic() + delay >= deadline:
            if transient and any(t in detail.lower() for t in ("timed out", "timeout")):
                reason = "timeout"  # the network's own timeouts, every try
            tries = f" after {attempt + 1} tries" if attempt else ""
            raise CloneFailed(f"{ref.id}: git clone failed{tries} ({reason}): {_tail(detail)}", reason=reason)
        attempt += 1
        time.sleep(delay)


def remove_checkout(checkout_path: Path) -> None:
    """Delete a checkout once its cases ran; its sha stays in the database, so it can be re-cloned.

    Refuses a directory that is not a git checkout: the path comes from the
    database, and a wrong one must not delete anything else.
    """
    path = Path(checkout_path)
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not (path / ".git").exists():
        raise ValueError(f"refusing to delete {path}: not a git checkout")
    _rmtree(path)


def tree_bytes(path: Path) -> int:
    """Apparent size of every regular file under `path`, `.git` included; symlinks are not followed."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue  # vanished while a clone was writing
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


def _clone_url(url: str) -> str:
    """A plain local path becomes a file:// URL: git ignores --depth for plain local paths."""
    if "://" not in url and not _is_scp_like(url) and Path(url).exists():
        return Path(url).resolve().as_uri()
    return url


def _is_scp_like(url: str) -> bool:
    head, sep, _ = url.partition(":")
    return bool(sep) and "/" not in head and len(head) > 1


def _git_env() -> dict[str, str]:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_LFS_SKIP_SMUDGE="1",
               GIT_ASKPASS="", SSH_ASKPASS="")  # set-but-empty: no GUI prompt either
    if "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes -o ConnectTimeout=30"
    return env


def _run_clone(url: str, dest: Path, deadline: float, cap: int) -> tuple[str, str]:
    """Run one `git clone`; ("ok" | "failed" | "timeout" | "too_large", stderr text or size)."""
    cmd = [git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git", "-c", "core.askPass=", "clone", "--depth", "1",
           "--single-branch", "--no-tags", "--no-recurse-submodules", "--quiet", "--", url, str(dest)]
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                    env=_git_env(), start_new_session=True)
        except OSError as exc:
            return "failed", f"cannot run git: {exc}"
        outcome = detail = ""
        next_size_check = 0.0
        try:
            while True:
                try:
                    rc = proc.wait(timeout=max(0.0, min(_POLL_S, deadline - time.monotonic())))
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                if now >= deadline:
                    outcome = "timeout"
                    break
                if now >= next_size_check:  # walking a big tree is not free: check less often then
                    size = tree_bytes(dest)
                    if size > cap:
                        outcome, detail = "too_large", str(size)
                        break
                    next_size_check = time.monotonic() + max(_POLL_S, 10 * (time.monotonic() - now))
        finally:
            if proc.poll() is None or outcome:
                _kill_group(proc)
        if outcome == "too_large":
            return outcome, detail
        if outcome == "timeout":
            return outcome, ""
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
        return ("ok", text) if rc == 0 else ("failed", text or f"git exited with status {rc}")


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _finish(ref: RepoRef, tmp: Path, target: Path, start: float, cap: int, max_size_mb: float) -> Checkout:
    size = tree_bytes(tmp)
    if size > cap:
        raise _too_large(ref, size, max_size_mb)
    try:
        sha = git.Repo(tmp).head.commit.hexsha
    except (ValueError, git.GitError) as exc:  # an empty repo, or a HEAD naming a missing branch
        raise CloneFailed(f"{ref.id}: clone has no checked-out commit ({exc})", reason="error") from exc
    os.chmod(tmp, 0o755)  # mkdtemp made it 0700; sandboxed workers read the checkout
    try:
        os.rename(tmp, target)
    except OSError:
        # Someone else finished the same clone first: theirs is as good as ours.
        other = _valid_checkout_sha(target, _clone_url(ref.url))
        if other is None:
            raise
        sha = other
    return Checkout(ref.id, target, sha, time.monotonic() - start, size, reused=False)


def _valid_checkout_sha(path: Path, url: str) -> str | None:
    """HEAD of `path` if it is a complete (non-bare) checkout cloned from `url`, else None."""
    if path.is_symlink() or not (path / ".git").is_dir():
        return None
    try:
        repo = git.Repo(path)
        if repo.bare:
            return None
        if "origin" not in [r.name for r in repo.remotes] or repo.remotes.origin.url != url:
            return None
        return repo.head.commit.hexsha
    except (git.GitError, ValueError, OSError):
        return None


def _remove_stale_partials(workdir: Path, name: str, older_than_s: float) -> None:
    """Temp dirs of clones that were killed; a younger one may still be another process's clone."""
    now = time.time()
    for partial in workdir.glob(f".{glob.escape(name)}{_PARTIAL}*"):
        try:
            if now - partial.lstat().st_mtime > older_than_s:
                _rmtree(partial)
        except OSError:
            pass


def _reason(stderr: str) -> str:
    low = stderr.lower()
    for reason, needles in _REASONS:
        if any(n in low for n in needles):
            return reason
    return "error"


def _too_large(ref: RepoRef, size: int, max_size_mb: float) -> CloneFailed:
    return CloneFailed(f"{ref.id}: checkout is over {max_size_mb:g} MB ({size / MB:.1f} MB so far)",
                       status="too_large", reason="too_large")


def _tail(text: str, limit: int = 600) -> str:
    text = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return text if len(text) <= limit else "..." + text[-limit:]


def _rmtree(path: Path) -> None:
    """Delete a file, link or tree; read-only entries (git packs) are made writable first."""
    def retry(func, p, _exc):  # noqa: ANN001 - shutil's onerror signature
        try:
            os.chmod(os.path.dirname(p), 0o755)
            os.chmod(p, 0o755)
        except OSError:
            pass
        func(p)

    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=retry)
        else:
            shutil.rmtree(path, onerror=retry)
