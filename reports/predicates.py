"""How far a case got, as SQL conditions derived from db/status.py.

Why here, once: every rate, the per-project table and the comparison must
agree on what "ran in eager", "captured" or "compiled" mean; writing the
conditions by hand in each query is how reports start to disagree. The SQL is
built from the enums, so a new status in db/status.py cannot be forgotten
here silently (see `_check_covered`).

Definitions (each a subset of the previous one, except parity/pass):
- eager: `db.status.ran_in_eager(status, stage)`: the case got past eager,
  including a timeout/crash/oom at a later stage.
- captured (graph breaks allowed): got past capture: status is not
  capture_failed and either a graph count was recorded or a timeout/crash/oom
  happened after capture (such a result carries no capture fields).
- full_graph: captured as one graph: graph_break_count == 0.
- compiled: the backend compiled it: a later failure (run, parity) or a
  pass, or a timeout/crash/oom at run/parity.
- parity: compiled output matched eager: `pass`, or `eager_nondeterministic`
  (a flag, not a pass) whose recorded max_abs_err is within its tolerance.
- passed: status `pass`.
"""
from __future__ import annotations

from db.status import ABNORMAL, NOT_COMPILER_REASONS, POST_EAGER_STAGES, RAN_IN_EAGER, CaseStatus, Stage


def _in(values: object) -> str:
    return "(" + ", ".join(f"'{getattr(v, 'value', v)}'" for v in sorted(values, key=str)) + ")"  # type: ignore[arg-type]


_ABN = _in(ABNORMAL)
# backward and dynamic (training / dynamic-shape runs) come after the forward compiled.
_POST_CAPTURE = _in({Stage.COMPILE, Stage.RUN, Stage.PARITY, Stage.BACKWARD, Stage.DYNAMIC, Stage.DONE})
_POST_COMPILE = _in({Stage.RUN, Stage.PARITY, Stage.BACKWARD, Stage.DYNAMIC, Stage.DONE})
_COMPILED_STATUSES = _in({CaseStatus.RUN_FAILED, CaseStatus.PARITY_FAILED, CaseStatus.PASS,
                          CaseStatus.EAGER_NONDETERMINISTIC})


NOT_COMPILER_SQL = _in(NOT_COMPILER_REASONS)


def reduced_status(status: str, reason: str | None) -> str:
    """The status the level predicates are evaluated on.

    A result whose reason class says it is not the compiler's (no_tensor_ops:
    a forward with no tensor operation, nothing to capture) leaves the levels
    altogether, so it counts neither as runnable nor as a capture failure:
    capture rates then count only the frames Dynamo really skipped.
    """
    return f"{status}:{reason}" if reason in NOT_COMPILER_REASONS else status


def eager(a: str = "x") -> str:
    return (f"({a}.status in {_in(RAN_IN_EAGER)} or "
            f"({a}.status in {_ABN} and {a}.stage in {_in(POST_EAGER_STAGES)}))")


def captured(a: str = "x") -> str:
    return (f"({eager(a)} and {a}.status != '{CaseStatus.CAPTURE_FAILED.value}' and "
            f"({a}.graph_count is not null or ({a}.status in {_ABN} and {a}.stage in {_POST_CAPTURE})))")


def full_graph(a: str = "x") -> str:
    return f"({captured(a)} and {a}.graph_break_count = 0)"


def compiled(a: str = "x") -> str:
    return (f"({a}.status in {_COMPILED_STATUSES} or "
            f"({a}.status in {_ABN} and {a}.stage in {_POST_COMPILE}))")


def parity(a: str = "x") -> str:
    return (f"({a}.status = '{CaseStatus.PASS.value}' or "
            f"({a}.status = '{CaseStatus.EAGER_NONDETERMINISTIC.value}' and {a}.max_abs_err is not null "
            f"and {a}.max_abs_err <= coalesce({a}.atol, 0.001)))")


def passed(a: str = "x") -> str:
    return f"({a}.status = '{CaseStatus.PASS.value}')"


# name -> (label, SQL builder); the order is the order of the rates table.
LEVELS = {
    "eager": ("runs in eager", eager),
    "captured": ("captured (graph breaks allowed)", captured),
    "full_graph": ("captured as one full graph", full_graph),
    "compiled": ("backend compiled", compiled),
    "parity": ("parity with eager", parity),
    "passed": ("overall pass", passed),
}


# For counting many rows fast: group the rows by these reduced columns, then
# evaluate the predicates above once per group (weighted by its row count).
# Each keeps exactly what the predicates test of that column: whether
# graph_count is null, whether graph_break_count is null/0/more, whether
# max_abs_err is null or within atol (0 <= 1) or not (2 > 1).
# Change a predicate's use of a column -> change its reduction here too
# (tests/test_report.py checks both ways agree).
REDUCED = {
    "status": "x.status",
    "stage": "x.stage",
    "graph_count": "case when x.graph_count is not null then 1 end",
    "graph_break_count": "min(x.graph_break_count, 1)",
    "max_abs_err": ("case when x.max_abs_err is null then null "
                    "when x.max_abs_err <= coalesce(x.atol, 0.001) then 0 else 2 end"),
    "atol": "1",
}


def _check_covered() -> None:
    """Every status is either known to be before eager, after it, or abnormal."""
    known = set(RAN_IN_EAGER) | set(ABNORMAL) | {
        CaseStatus.IMPORT_FAILED, CaseStatus.INIT_FAILED, CaseStatus.INPUTS_NOT_FOUND,
        CaseStatus.EAGER_FAILED}
    missing = set(CaseStatus) - known
    if missing:
        raise RuntimeError(f"reports/predicates.py does not know statuses {sorted(missing)}")


_check_covered()
