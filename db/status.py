"""The status funnel as string enums, stored as TEXT so triage is plain SQL.

Every discovered repo and every scanned module ends in exactly one status, so
reports can show the whole funnel and never silently drop a failure.
"""
from __future__ import annotations

from enum import Enum


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
    # Any stage can end in one of these; the stage column says where.
    TIMEOUT = "timeout"
    CRASH = "crash"
    OOM = "oom"


# Statuses meaning the module ran in eager (the denominator of capture rates).
RAN_IN_EAGER = frozenset({
    CaseStatus.EAGER_NONDETERMINISTIC, CaseStatus.CAPTURE_FAILED,
    CaseStatus.COMPILE_FAILED, CaseStatus.RUN_FAILED,
    CaseStatus.PARITY_FAILED, CaseStatus.PASS,
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
    DYNAMIC = "dynamic"  # dynamic-shape runs: the compiled module on inputs of new sizes
    DONE = "done"

# Stages after which a module is known to have run in eager.
POST_EAGER_STAGES = frozenset({Stage.CAPTURE, Stage.COMPILE, Stage.RUN, Stage.PARITY, Stage.BACKWARD,
                               Stage.DYNAMIC, Stage.DONE})
ABNORMAL = frozenset({CaseStatus.TIMEOUT, CaseStatus.CRASH, CaseStatus.OOM})


def ran_in_eager(status: str, stage: str | None) -> bool:
    """True when a case got past eager, including a later timeout/crash/oom."""
    if status in RAN_IN_EAGER:
        return True
    return status in ABNORMAL and stage in POST_EAGER_STAGES
