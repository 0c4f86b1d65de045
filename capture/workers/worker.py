"""The worker: a long-lived process with torch imported that forks one child per case.

Run as `python -m capture.workers.worker` (inside the sandbox, see capture/workers/sandbox.py).
It depends on nothing of graphcrawl outside capture/ and backend/, and speaks
JSON lines: one request per line on stdin, one reply per line on stdout.

Why fork per case: `import torch` costs seconds, a fork ~30 ms; and a fresh
child per case means a module that monkeypatches torch, leaks memory or
segfaults cannot affect the next case. The child calls setpgrp() so that a
timeout kills everything it started; its stdout/stderr go through a pipe of
which only the tail is kept, so an output flood cannot fill the disk.

Budgets are CPU seconds, not wall seconds: a busy machine slows a case's
compile but does not make it burn more CPU, so a verdict must not depend on
the load. The worker reads the CPU of the case's whole process tree (the
child and what it started: gcc) from /proc and kills the group when it passes
`timeout_s`; a wall-clock limit (`wall_timeout_s`, default 4x) is kept only as
a backstop for a case that sleeps or blocks. The child reports what it has
measured as each stage begins, so a case killed at compile keeps its capture
figures and stage seconds.

A compiler failure is confirmed before it is recorded (`confirm`): the case
runs once more in a fresh child (fresh Dynamo state); a rerun that passes or
fails differently makes the case `flaky`, both outcomes kept (capture/workers/confirm.py).

Request fields: case_id, checkout, path, qualname, spec (or null), stubs,
device, backend, fullgraph, dynamic, compile_mode, seed, mode, tol,
deduce_budget_s, timeout_s (CPU seconds), wall_timeout_s, mem_mb, cpu_s
(RLIMIT_CPU per process), max_procs, max_file_mb, max_output_mb, confirm,
scratch (a directory for this case).
Reply: {"case_id", "result": {...}, "wall_s"}.
"""
from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import time
from typing import Any

from capture.workers import confirm, warm

OUTPUT_TAIL = 16_000


def _prewarm() -> None:
    """Import what every case needs before forking, so children start fast."""
    import torch
    import torch._dynamo  # noqa: F401
    import torch._inductor.compile_fx  # noqa: F401
    import torch._inductor.config  # noqa: F401
    torch.set_num_threads(1)
    from capture.checks import funnels  # noqa: F401
    _preimport_torchvision()


def _preimport_torchvision() -> None:
    """torchvision is what crawled code imports most after torch (~1 s each time): import it once
    here, after vision_ops lets it import without its C++ ops; where it fails, the children meet
    the same failure themselves, so nothing half-imported is left behind."""
    from capture.loading import vision_ops
    vision_ops.install()
    try:
        import torchvision  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken torchvision is the cases' to report
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]


def _limit(res: int, value: int | None) -> None:
    if value:
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            pass


def _child(req: dict[str, Any], event_w: int, out_w: int, proto_fds: list[int]) -> None:
    """Runs in the forked child; never returns."""
    try:
        os.setpgrp()
        for fd in proto_fds:
            os.close(fd)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.close(out_w)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        scratch = req["scratch"]
        os.makedirs(os.path.join(scratch, "tmp"), exist_ok=True)
        os.chdir(scratch)
        os.environ["HOME"] = scratch
        os.environ["TMPDIR"] = os.path.join(scratch, "tmp")
        import tempfile
        tempfile.tempdir = os.environ["TMPDIR"]
        MB = 1024 * 1024
        _limit(resource.RLIMIT_AS, int(req.get("mem_mb") or 0) * MB)
        cpu = int(req.get("cpu_s") or 0)
        if cpu:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        _limit(resource.RLIMIT_NPROC, int(req.get("max_procs") or 0))
        _limit(resource.RLIMIT_FSIZE, int(req.get("max_file_mb") or 0) * MB)
        _limit(resource.RLIMIT_NOFILE, 1024)
        _limit(resource.RLIMIT_CORE, 0)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        events = os.fdopen(event_w, "w", buffering=1)

        def on_stage(stage: str) -> None:
            events.write(json.dumps({"stage": stage}) + "\n")
            events.flush()

        def on_progress(result: dict[str, Any]) -> None:
            """What was measured so far: kept by the worker if this child is killed."""
            events.write(json.dumps({"progress": result}, default=_jsonable) + "\n")
            events.flush()

        from capture import torch_api
        from capture.workers import traces
        if req.get("trace", True):
            torch_api.start_structured_trace(*traces.paths(scratch))
        from capture.checks.funnels import run_case
        result = run_case(req, on_stage, on_progress=on_progress)
        if req.get("trace", True):
            torch_api.stop_structured_trace()
        events.write(json.dumps({"result": result}, default=_jsonable) + "\n")
        events.flush()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException as exc:  # noqa: BLE001 - last resort: say what happened
        try:  # file:line frames only: reading crawled source or reprs can raise again
            import traceback
            frames = traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__), lookup_lines=False)
            where = "".join(f'  File "{f.filename}", line {f.lineno}, in {f.name}\n' for f in frames)[-6000:]
            where = f"Traceback (most recent call last):\n{where}{type(exc).__name__}"
        except BaseException as again:  # noqa: BLE001 - the fatal line goes out regardless
            where = f"(no traceback: {type(again).__name__}: {again})"
        try:
            os.write(event_w, (json.dumps({"fatal": f"{type(exc).__name__}: {exc}", "fatal_tb": where})
                               + "\n").encode())
        except OSError:
            pass
    finally:
        os._exit(0)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    return str(value)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reap_strays(me: int) -> None:
    """In a PID namespace, kill anything a case left behind (setsid'd grandchildren)."""
    if os.getpid() > 3:  # not in our own PID namespace: only the case's group was ours
        return
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, me):
            try:
                os.kill(int(entry), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


_TMP_AT_START: set[str] = set()


def _note_private_tmp() -> None:
    """What the sandbox's /tmp held before any case ran: the parents of the bind
    mounts (scratch, compile cache, checkouts) when those live under /tmp."""
    root = os.environ.get("GRAPHCRAWL_PRIVATE_TMP")
    if root:
        _TMP_AT_START.update(os.listdir(root))


def _empty_private_tmp() -> None:
    """Inside the sandbox /tmp is this worker's own tmpfs, shared by its cases in turn:
    remove what a case left there so it never reaches the next one. Entries that were
    there before the first case are never touched (they hold the bind mounts, whose
    contents are real directories of the host). Outside the sandbox, /tmp is left alone."""
    root = os.environ.get("GRAPHCRAWL_PRIVATE_TMP")
    if not root:
        return
    import shutil
    for entry in os.listdir(root):
        if entry in _TMP_AT_START:
            continue
        path = os.path.join(root, entry)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def tree_cpu_s(pgid: int) -> float:
    """CPU seconds of a process group: each member's own time plus its waited-for children's.

    Read from /proc, so it needs nothing from the case; a member that exits
    between listing and reading is simply missed (its parent's cutime gets it
    once reaped).
    """
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state ppid pgrp ... utime(11) stime cutime cstime
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / _CLK_TCK


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def wall_limit_s(req: dict[str, Any]) -> float:
    """The wall-clock backstop: for a case that sleeps or blocks, never a verdict on speed."""
    cpu = float(req.get("timeout_s") or 600)
    return float(req.get("wall_timeout_s") or 4 * cpu)


def run_one(req: dict[str, Any], proto_fds: list[int]) -> dict[str, Any]:
    """Fork a child for one case and turn whatever it does into a result."""
    event_r, event_w = os.pipe()
    out_r, out_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(event_r)
        os.close(out_r)
        _child(req, event_w, out_w, proto_fds)
    os.close(event_w)
    os.close(out_w)
    cpu_budget = float(req.get("timeout_s") or 600)
    wall_limit = wall_limit_s(req)
    max_output = int(float(req.get("max_output_mb") or 50) * 1024 * 1024)
    deadline = start + HARD_WALL_FACTOR * wall_limit
    budgets = stage_budgets(req)
    stage, result, fatal, progress = "import", None, None, None
    fatal_tb = ""  # where an exception escaped the checks: the case's traceback, not the output tail
    stage_since, stage_cpu_since, cpu = start, 0.0, 0.0
    budget_hit: tuple[str, float] | None = None
    output, out_bytes, buf = bytearray(), 0, b""
    killed_for: str | None = None
    open_fds = {event_r, out_r}
    while open_fds:
        now = time.monotonic()
        left = deadline - now
        cpu = max(cpu, tree_cpu_s(pid))
        if left <= 0 or stalled(now - start, cpu, wall_limit, cpu_budget):
            killed_for = "wall"
            break
        if cpu > cpu_budget:
            killed_for = "cpu"
            break
        if stage in budgets and (cpu - stage_cpu_since > budgets[stage]
                                 or stalled(now - stage_since, cpu - stage_cpu_since,
                                            WALL_FACTOR_STAGE * budgets[stage], budgets[stage])):
            killed_for, budget_hit = "budget", (stage, budgets[stage])
            break
        ready, _, _ = select.select(list(open_fds), [], [], min(left, POLL_S))
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                continue
            if fd == out_r:
                out_bytes += len(chunk)
                output += chunk
                del output[:-OUTPUT_TAIL]
                if out_bytes > max_output:
                    killed_for = "output"
            else:
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue
                    if msg.get("stage", stage) != stage:
                        stage, stage_since, stage_cpu_since = msg["stage"], time.monotonic(), tree_cpu_s(pid)
                    result = msg.get("result", result)
                    progress = msg.get("progress", progress)
                    fatal = msg.get("fatal", fatal)
                    fatal_tb = msg.get("fatal_tb", fatal_tb)
        if killed_for:
            break
    if killed_for:
        cpu = max(cpu, tree_cpu_s(pid))
        _kill_group(pid)
    _, status, usage = os.wait4(pid, 0)
    cpu = max(cpu, usage.ru_utime + usage.ru_stime)   # the child and every descendant it waited for
    _kill_group(pid)
    _reap_strays(os.getpid())
    _empty_private_tmp()
    for fd in (event_r, out_r):
        try:
            os.close(fd)
        except OSError:
            pass
    wall = time.monotonic() - start
    tail = output.decode("utf-8", "replace")
    if result is not None and not killed_for:
        result["wall_s"] = round(wall, 3)
    else:
        result = _abnormal(status, stage, killed_for, fatal, fatal_tb or tail, wall, cpu_budget, wall_limit,
                           max_output, budget_hit)
        _keep_progress(result, progress, stage, time.monotonic() - stage_since)
    result["case_cpu_s"] = round(cpu, 3)
    from capture.workers import traces
    if req.get("scratch"):
        traces.collect(req["scratch"], result)   # what the child wrote, even if it was killed
    return result


POLL_S = 0.5
WALL_FACTOR_STAGE = 2.0  # deduction's wall backstop, as a multiple of its CPU budget
STALLED_CPU_SHARE = 0.25  # past its wall backstop, a case that used less of its CPU budget is blocked
HARD_WALL_FACTOR = 3.0   # and past this many backstops it ends whatever it uses


def stalled(wall: float, cpu: float, wall_limit: float, cpu_budget: float) -> bool:
    """Past its wall-clock backstop and not getting through its CPU budget: it sleeps or blocks.

    A case that is busy but slowed by a loaded machine (a compile at a fifth of
    a core) has used a good share of its CPU budget by then and goes on, up to
    its CPU budget (or HARD_WALL_FACTOR backstops): the machine's load must not
    decide its verdict. One that sleeps (a forward waiting on a socket, a
    `time.sleep` loop) has used next to nothing and ends as `wall_backstop`.
    """
    return wall > wall_limit and cpu < STALLED_CPU_SHARE * cpu_budget


def _keep_progress(result: dict[str, Any], progress: dict[str, Any] | None, stage: str, in_stage_s: float) -> None:
    """A killed, crashed or OOM case keeps what its child had measured before (capture figures,
    stage seconds, the sizes a dynamic run had tried), plus the seconds of the stage it died in."""
    for key, value in (progress or {}).items():
        if key not in result and key not in ("status", "stage", "_stage") and not key.startswith("error_"):
            result[key] = value
    spent = dict(result.get("stage_s") or {})
    spent[stage] = round(spent.get(stage, 0.0) + in_stage_s, 4)
    result["stage_s"] = spent


def stage_budgets(req: dict[str, Any]) -> dict[str, float]:
    """Seconds a stage may take before the worker kills the case from outside.

    Deduction (stage `inputs`, only when no spec is stored) has its own budget:
    deduce() stops trying new candidates after `deduce_budget_s`, but a forward
    that hangs never returns to it, and would otherwise cost the whole case
    timeout. The grace covers the last candidate's run.
    """
    if req.get("spec") is not None:
        return {}
    budget = float(req.get("deduce_budget_s") or 60)
    return {"inputs": budget + max(5.0, 0.25 * budget)}


def _abnormal(status: int, stage: str, killed_for: str | None, fatal: str | None, tail: str,
              wall: float, cpu_budget: float, wall_limit: float, max_output: int,
              budget_hit: tuple[str, float] | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {"stage": stage, "wall_s": round(wall, 3), "traceback": tail[-8000:] or None}
    if killed_for == "budget" and budget_hit:
        res.update(status="timeout", error_type="Timeout", reason="deduce_budget",
                   error_msg=f"stage {budget_hit[0]} (finding args and inputs) ran past its budget of "
                             f"{budget_hit[1]:g} CPU s (--deduce-budget); process group killed")
    elif killed_for == "cpu":
        res.update(status="timeout", error_type="Timeout", reason="cpu_budget",
                   error_msg=f"used its {cpu_budget:g} s of CPU (--timeout) in stage {stage}; process group killed")
    elif killed_for == "wall":
        res.update(status="timeout", error_type="Timeout", reason="wall_backstop",
                   error_msg=f"no result after {wall:.0f} s of wall clock (in stage {stage}; backstop "
                             f"{wall_limit:g} s) with little of its CPU budget used: it sleeps or blocks; "
                             "process group killed")
    elif killed_for == "output":
        res.update(status="crash", error_type="OutputLimitExceeded",
                   error_msg=f"case wrote more than {max_output // (1024 * 1024)} MB to stdout/stderr; killed")
    elif os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        res.update(signal=name, error_type=f"Killed by {name}")
        if sig == signal.SIGXCPU:
            res.update(status="timeout", error_msg=f"CPU time limit exceeded in stage {stage}")
        elif sig == signal.SIGKILL and "MemoryError" in tail or "std::bad_alloc" in tail:
            res.update(status="oom", error_msg=f"out of memory in stage {stage}")
        else:
            res.update(status="crash", error_msg=f"process died with {name} in stage {stage}")
    else:
        code = os.WEXITSTATUS(status)
        res.update(exit_code=code, status="crash", error_type=fatal.split(":")[0] if fatal else "ProcessExit",
                   error_msg=fatal or f"process exited with code {code} in stage {stage} without a result "
                                      "(sys.exit/os._exit in crawled code?)")
        if fatal and "MemoryError" in fatal:
            res["status"] = "oom"
    return res


def _drop_privileges() -> None:
    """Under root, become an unprivileged uid before any crawled code can run."""
    spec = os.environ.pop("GRAPHCRAWL_DROP_TO", None)
    if spec and os.geteuid() == 0:
        uid, gid = (int(x) for x in spec.split(":"))
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)


def main() -> None:
    _drop_privileges()
    _note_private_tmp()
    proto_in = os.fdopen(os.dup(0), "r")
    proto_out = os.fdopen(os.dup(1), "w", buffering=1)
    # Nothing but replies may reach the protocol stream.
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    _prewarm()
    proto_out.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    for line in proto_in:
        if not line.strip():
            continue
        req = json.loads(line)
        fds = [proto_in.fileno(), proto_out.fileno()]
        compiles = req.get("warm", True) and not req.get("stop_after") and req.get("check") != "eager"
        warmed = warm.warm(req.get("backend") or "inductor", req.get("device") or "cpu") if compiles else {}
        at_fork = warm.threads()
        result = run_one(req, fds)
        result["worker"] = {"warm_cpu_s": warmed.get("cpu_s"), "threads_before_warm": warmed.get("threads_before"),
                            "threads_at_fork": at_fork, "warm_error": warmed.get("error")}
        if confirm.needs_confirmation(req, result):
            result = confirm.confirm(req, result, lambda again: run_one(again, fds))
        proto_out.write(json.dumps({"case_id": req.get("case_id"), "result": result}, default=_jsonable) + "\n")


if __name__ == "__main__":
    main()
