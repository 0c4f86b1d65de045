"""How a worker is started: inside bubblewrap, or (only when asked) without it.

The worker runs crawled code, so it gets: new network, PID, IPC and UTS
namespaces (no network at all), the whole filesystem read-only, home
directories replaced by empty tmpfs (no ~/.ssh, no credentials), a private
/tmp, the checkouts read-only, and only its scratch and compile-cache
directories writable. When graphcrawl runs as root, the worker drops to an
unprivileged uid before importing anything, so that file permissions and the
process-count limit (which root ignores) hold too.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

NOBODY_UID = 65534
NOBODY_GID = 65534
# Replaced by empty tmpfs in the sandbox: home directories (keys, tokens), /tmp, /run.
HIDDEN = ("/tmp", "/root", "/home", "/run")


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot create namespaces here."""


INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: "
                "`sudo dnf install bubblewrap`) and make sure user namespaces are enabled, or pass "
                "--unsafe-no-sandbox to run crawled code unsandboxed on this machine (not recommended)")


@dataclass
class SandboxConfig:
    scratch_root: Path
    cache_dir: Path
    readonly: list[Path] = field(default_factory=list)
    unsafe: bool = False
    gpu: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def drop_to(self) -> tuple[int, int] | None:
        """The uid/gid the worker switches to, when graphcrawl runs as root inside bwrap."""
        return (NOBODY_UID, NOBODY_GID) if (not self.unsafe and os.geteuid() == 0) else None


def bwrap_problem() -> str | None:
    """None when bwrap works here; otherwise why not."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bwrap (bubblewrap) is not installed"
    try:
        proc = subprocess.run([exe, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                               "--proc", "/proc", "--dev", "/dev", "true"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if proc.returncode != 0:
        return f"bwrap cannot create namespaces here: {proc.stderr.strip()[:300]}"
    return None


def _python_roots() -> list[Path]:
    """Directories the worker's interpreter and graphcrawl's code live in."""
    roots = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).resolve().parent.parent,
             Path(__file__).resolve().parent.parent}
    for entry in sys.path:
        if entry and Path(entry).is_dir():
            roots.add(Path(entry).resolve())
    return sorted(roots)


def prepare_dirs(cfg: SandboxConfig) -> None:
    """Create the writable directories, owned by the uid the worker will run as."""
    for d in (cfg.scratch_root, cfg.cache_dir, cfg.cache_dir / "tmp", cfg.cache_dir / "inductor"):
        d.mkdir(parents=True, exist_ok=True)
        if cfg.drop_to:
            os.chown(d, *cfg.drop_to)


# The compiler's own switches (TORCHDYNAMO_REPRO_LEVEL=4 re-runs every graph and
# checks it; TORCHINDUCTOR_MAX_AUTOTUNE changes the code generated; TORCH_LOGS adds
# output): a crawl's verdicts and timings must come from the run's recorded
# config, not from whatever the user's shell happened to export.
COMPILER_ENV_PREFIXES = ("TORCHDYNAMO_", "TORCHINDUCTOR_", "TORCH_COMPILE_", "TORCH_LOGS", "TORCH_TRACE",
                         "PYTORCH_JIT", "TRITON_")


def inherited_compiler_env(environ: dict[str, str] | None = None) -> list[str]:
    """Names of compiler switches set in this environment that workers will not see."""
    environ = os.environ if environ is None else environ
    return sorted(k for k in environ if k.startswith(COMPILER_ENV_PREFIXES))


def worker_env(cfg: SandboxConfig) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.upper().endswith(("TOKEN", "SECRET", "PASSWORD", "KEY")) and not k.startswith(("AWS_", "GITHUB_", "SSH_"))
           and not k.startswith(COMPILER_ENV_PREFIXES)}
    env.update({
        # Inductor's compile thread pool does not survive fork (DESIGN.md).
        "TORCHINDUCTOR_COMPILE_THREADS": "1",
        "TORCHINDUCTOR_CACHE_DIR": str(cfg.cache_dir / "inductor"),
        "TRITON_CACHE_DIR": str(cfg.cache_dir / "triton"),
        "TMPDIR": str(cfg.cache_dir / "tmp"),
        "HOME": str(cfg.scratch_root),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        "NO_PROXY": "*",
    })
    if cfg.drop_to:
        env["GRAPHCRAWL_DROP_TO"] = "%d:%d" % cfg.drop_to
    env.update(cfg.extra_env)
    return env


def worker_command(cfg: SandboxConfig) -> list[str]:
    """argv that starts one worker (python -m capture.workers.worker), sandboxed unless unsafe."""
    inner = [sys.executable, "-m", "capture.workers.worker"]
    if cfg.unsafe:
        return inner
    problem = bwrap_problem()
    if problem:
        raise SandboxUnavailable(f"{problem}; {INSTALL_HINT}")
    argv = ["bwrap", "--die-with-parent", "--new-session",
            "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            ]
    for hidden in HIDDEN:
        # /tmp sticky and world-writable as usual: code that writes there at import (a config dir) works
        argv += (["--perms", "1777"] if hidden == "/tmp" else []) + ["--tmpfs", hidden]
    binds = [("--ro-bind", p) for p in _python_roots() if p != Path("/") and p.exists()]
    binds += [("--ro-bind", p.resolve()) for p in cfg.readonly if p.exists()]
    binds += [("--bind", p.resolve()) for p in (cfg.scratch_root, cfg.cache_dir)]
    made: set[Path] = set()
    for _, path in binds:
        # Parents inside the fresh tmpfs mounts would be created 0700 (unreadable
        # after the uid drop): create them 0755 first.
        for parent in reversed(path.parents):
            if any(parent.is_relative_to(t) and parent != Path(t) for t in HIDDEN) and parent not in made:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
    for flag, path in binds:
        argv += [flag, str(path), str(path)]
    if cfg.gpu:  # the sandbox's /dev is minimal: pass the GPU device nodes through
        for dev in sorted(glob.glob("/dev/nvidia*") + glob.glob("/dev/dri")):
            argv += ["--dev-bind", dev, dev]
    # The worker empties this private /tmp after each case (capture/workers/worker.py), so a
    # case cannot leave files there for the next one.
    argv += ["--setenv", "GRAPHCRAWL_PRIVATE_TMP", "/tmp", "--chdir", str(cfg.scratch_root), "--"]
    return argv + inner
