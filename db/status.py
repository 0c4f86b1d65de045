"""The status funnel as string enums, stored as TEXT so triage is plain SQL.

Every discovered repo and every scanned module ends in exactly one status, so
reports can show the whole funnel and never silently drop a failure.

These enums are the shared vocabulary of the project: the check steps
(capture/checks) raise them, the store keeps them, reports read them. That is
why the worker side imports them from db/; db itself imports nothing from
capture/, crawler/, backend/ or reports/ (tests/test_layout.py holds it).
"""
from __future__ import annotations

from enum import Enum
from typing import Any


class RepoStatus(str, Enum):
    DISCOVERED = "discovered"
    CLONE_FAILED = "clone_failed"
    TOO_LARGE = "too_large"
    NO_MODULES = "no_modules"
    SCANNED = "scanned"


class CaseStatus(str, Enum):
    """Final status of one case in one run, in funnel order."""

    IMPORT_FAILED = "import_failed"
    INIT_FAILED = "init_failed"
    INPUTS_NOT_FOUND = "inputs_not_found"
    EAGER_FAILED = "eager_failed"
    EAGER_NONDETERMINISTIC = "eager_nondeterministic"
    CAPTURE_FAILED = "capture_failed"
    COMPILE_FAILED = "compile_failed"
    RUN_FAILED = "run_failed"
    PARITY_FAILED = "parity_failed"
    PASS = "pass"
    # `crawl --check eager`: eager ran (twice, deterministic), nothing else was checked. Not a
    # compile pass: it counts where the funnel counts "ran in eager", and a later inference run
    # over the same database replays the spec it found.
    RUNNABLE = "runnable"
    # Any stage can end in one of these; the stage column says where.
    TIMEOUT = "timeout"
    CRASH = "crash"
    OOM = "oom"


# Statuses meaning the module ran in eager (the denominator of capture rates).
RAN_IN_EAGER = frozenset({
    CaseStatus.EAGER_NONDETERMINISTIC, CaseStatus.CAPTURE_FAILED,
    CaseStatus.COMPILE_FAILED, CaseStatus.RUN_FAILED,
    CaseStatus.PARITY_FAILED, CaseStatus.PASS, CaseStatus.RUNNABLE,
})

FUNNEL_ORDER = [s.value for s in CaseStatus]


class Stage(str, Enum):
    """Where in the worker a case was when it ended."""

    IMPORT = "import"
    INIT = "init"
    INPUTS = "inputs"
    EAGER = "eager"
    CAPTURE = "capture"
    COMPILE = "compile"
    RUN = "run"
    PARITY = "parity"
    BACKWARD = "backward"  # training runs: the loss's backward, eager or compiled, and gradient parity
    DYNAMIC = "dynamic"  # dynamic-shape runs: the compiled module on inputs of new sizes; export runs: Dim.AUTO batch
    EXPORT = "export"  # export runs: torch.export.export (non-strict), and the exported program's run and parity
    SERIALIZE = "serialize"  # export runs: torch.export.save / load, and the loaded program's run and parity
    AOTI = "aoti"  # export runs: AOTInductor's compile of the exported program, its package load, run and parity
    DONE = "done"

# Stages after which a module is known to have run in eager.
POST_EAGER_STAGES = frozenset({Stage.CAPTURE, Stage.COMPILE, Stage.RUN, Stage.PARITY, Stage.BACKWARD,
                               Stage.DYNAMIC, Stage.EXPORT, Stage.SERIALIZE, Stage.AOTI, Stage.DONE})
ABNORMAL = frozenset({CaseStatus.TIMEOUT, CaseStatus.CRASH, CaseStatus.OOM})


def ran_in_eager(status: str, stage: str | None) -> bool:
    """True when a case got past eager, including a later timeout/crash/oom."""
    if status in RAN_IN_EAGER:
        return True
    return status in ABNORMAL and stage in POST_EAGER_STAGES


class FailureKind(str, Enum):
    """Whose failure a non-pass result is: the compiler's, or graphcrawl's and the project's.

    Why the split: a compiler engineer reads triage for what Dynamo, AOTAutograd
    and Inductor got wrong; a case graphcrawl could not build (import, init,
    inputs, eager) is the harness's or the project's problem, not torch's.
    """

    COMPILER = "compiler"
    HARNESS = "harness"
    # a compiler failure that its confirming rerun did not repeat (capture/workers/confirm.py):
    # machine load or luck until shown otherwise, so never counted as the compiler's
    FLAKY = "flaky"


COMPILER_STATUSES = frozenset({CaseStatus.CAPTURE_FAILED, CaseStatus.COMPILE_FAILED,
                               CaseStatus.RUN_FAILED, CaseStatus.PARITY_FAILED})
HARNESS_STATUSES = frozenset({CaseStatus.IMPORT_FAILED, CaseStatus.INIT_FAILED,
                              CaseStatus.INPUTS_NOT_FOUND, CaseStatus.EAGER_FAILED,
                              CaseStatus.EAGER_NONDETERMINISTIC})
# A timeout/crash/oom in one of these stages happened under the compiler.
# Export runs' stages are torch.export's and AOTInductor's: a module that is not one graph fails
# there as the compiler's failure, told apart from torch.compile's by its stage.
COMPILER_STAGES = frozenset({Stage.CAPTURE, Stage.COMPILE, Stage.RUN, Stage.PARITY, Stage.DYNAMIC, Stage.EXPORT,
                             Stage.SERIALIZE, Stage.AOTI, Stage.DONE})


class Reason(str, Enum):
    """Reason classes (results.reason) that change how a status is counted."""

    # forward does no tensor operation (`return x`): Dynamo has nothing to
    # capture; not a skip Dynamo is to blame for.
    NO_TENSOR_OPS = "no_tensor_ops"


# Reasons that take a compiler-stage status out of the compiler's failures.
NOT_COMPILER_REASONS = frozenset({Reason.NO_TENSOR_OPS.value})


def failure_kind(status: str, stage: str | None, reason: str | None = None, flaky: Any = None) -> str | None:
    """'compiler', 'harness', 'flaky', or None for a pass: the one place this is decided.

    runnable (an eager-only check) is no failure either.
    eager_nondeterministic is the project's (its eager output is not
    reproducible), so it counts as harness; a capture_failed whose reason is
    no_tensor_ops is harness too (nothing to capture). A timeout, crash or oom
    is the compiler's when it happened at capture or later (in an export run: at
    export, serialize, dynamic or aoti, torch.export's and AOTInductor's stages). A compiler failure
    whose confirming rerun passed or failed differently (`flaky`, results.flaky)
    is flaky, not the compiler's.
    """
    if status in (CaseStatus.PASS.value, CaseStatus.RUNNABLE.value):
        return None
    if reason in NOT_COMPILER_REASONS:
        return FailureKind.HARNESS.value
    compiler = status in _COMPILER_VALUES or (status in _ABNORMAL_VALUES and stage in _COMPILER_STAGE_VALUES)
    if compiler:
        return FailureKind.FLAKY.value if flaky else FailureKind.COMPILER.value
    return FailureKind.HARNESS.value


_COMPILER_VALUES = frozenset(s.value for s in COMPILER_STATUSES)
_ABNORMAL_VALUES = frozenset(s.value for s in ABNORMAL)
_COMPILER_STAGE_VALUES = frozenset(s.value for s in COMPILER_STAGES)
