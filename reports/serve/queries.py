"""The canned queries of the served database: the questions a team asks of a crawl.

Why generated, not written out: each query uses the reports' own definitions,
so a served number is the number `report` prints:
- the funnel levels (runs in eager, captured, full graph, compiled, parity,
  pass) are reports/predicates.py's SQL, with a result whose reason class
  takes it out of the compiler's failures (no_tensor_ops) left out of every
  level, as reports/scope.py counts it;
- failure clusters are reports/triage.py's: the SQL calls the same
  signature code through functions plugin.py registers (gc_cluster,
  gc_message, gc_break_id, gc_kind);
- graph breaks group as `triage breaks` does (reports/breaks.py), stubs of
  runnable cases as the report's yield section (reports/yields.py).

Why per database: a database from an older graphcrawl lacks newer columns;
the served file is opened read-only and never altered, so a query reads
NULL where a column is missing (`Columns.col`), as the reports do.

A blank run parameter means the latest run (reports/scope.resolve_run's
order: started_at, then insertion).
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from db.status import RAN_IN_EAGER, CaseStatus
from reports import predicates

LATEST_RUN = "(select id from runs order by started_at desc, rowid desc limit 1)"


def run_param(name: str = "run") -> str:
    """`:name`, or the latest run when left blank."""
    return f"coalesce(nullif(:{name}, ''), {LATEST_RUN})"


@dataclass
class Columns:
    """The columns a database really has, per table."""

    tables: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, conn: sqlite3.Connection) -> "Columns":
        names = [r[0] for r in conn.execute("select name from sqlite_master where type in ('table', 'view')")]
        return cls({n: {r[1] for r in conn.execute(f"pragma table_info([{n}])")} for n in names})

    def has(self, table: str, column: str) -> bool:
        return column in self.tables.get(table, set())

    def col(self, table: str, column: str, alias: str | None = None) -> str:
        """`alias."column"`, or NULL when this database predates the column."""
        if not self.has(table, column):
            return "null"
        return f'{alias + "." if alias else ""}"{column}"'


@dataclass(frozen=True)
class Query:
    name: str
    title: str
    description: str
    sql: str
    params: tuple[str, ...] = ()

    def as_metadata(self) -> dict[str, object]:
        out: dict[str, object] = {"title": self.title, "description": self.description, "sql": self.sql}
        if self.params:
            out["params"] = list(self.params)
        return out


def _in(values: object) -> str:
    return "(" + ", ".join(f"'{getattr(v, 'value', v)}'" for v in sorted(values, key=str)) + ")"  # type: ignore[arg-type]


def _levels_source(c: Columns, where: str) -> str:
    """Results with one 0/1 column per funnel level (reports/predicates.py), for summing."""
    reason = c.col("results", "reason")
    flags = ", ".join(f"coalesce(({fn('x')}), 0) as {name}" for name, (_, fn) in predicates.LEVELS.items())
    return (f"select x.run_id, x.repo_id, {flags} from ("
            f"select run_id, repo_id, case when {reason} in {predicates.NOT_COMPILER_SQL} "
            f"then status || ':' || {reason} else status end as status, stage, graph_count, graph_break_count, "
            f"max_abs_err, atol from results where {where}) x")


def _level_sums() -> str:
    sums = ", ".join(f"sum({name}) as {name if name != 'eager' else 'runnable'}" for name in predicates.LEVELS)
    return (f"count(*) as cases, {sums}, "
            "round(100.0 * sum(passed) / nullif(sum(eager), 0), 2) as pass_pct_of_runnable, "
            "round(100.0 * sum(captured) / nullif(sum(eager), 0), 2) as capture_pct_of_runnable, "
            "round(100.0 * sum(full_graph) / nullif(sum(eager), 0), 2) as full_graph_pct_of_runnable, "
            "round(100.0 * sum(passed) / count(*), 2) as pass_pct_of_all")


def success_by_run(c: Columns) -> Query:
    check = c.col("runs", "check", "r")
    return Query(
        "success_by_run", "Success rates by run",
        "Every run in time order: cases, how many got to each funnel level, and the pass, capture and "
        "full-graph rates over the cases that ran in eager (runnable) and the pass rate over all cases. "
        "Counts are those of `graphcrawl report`.",
        f"select r.id as run_id, {check} as \"check\", r.torch, r.backend, r.device, r.started_at, {_level_sums()} "
        f"from ({_levels_source(c, '1')}) l join runs r on r.id = l.run_id "
        "group by r.id order by r.started_at, r.rowid")


def success_by_project(c: Columns) -> Query:
    return Query(
        "success_by_project", "Success rates by project",
        "One run (blank: the latest), one row per project: the funnel levels and rates, most cases first.",
        f"select l.repo_id as project, {_level_sums()} "
        f"from ({_levels_source(c, 'run_id = ' + run_param())}) l "
        "group by l.repo_id order by cases desc, project", ("run",))


def compiler_clusters(c: Columns) -> Query:
    reason = c.col("results", "reason", "x")
    flaky = c.col("results", "flaky", "x")
    sig = (f"x.status, x.stage, x.error_type, x.error_msg, x.error_frame, x.break_ids, {reason}, "
           f"{c.col('results', 'export_class', 'x')}, {flaky}")
    return Query(
        "compiler_clusters", "Failures by cluster",
        "One run's failures grouped by signature exactly as `graphcrawl triage` groups them (status, stage, "
        "exception type, normalized message, innermost torch frame, first graph-break id), largest first. "
        "kind: compiler (default: confirmed by a rerun), flaky (not repeated by the rerun), harness or all.",
        f"select gc_cluster({sig}) as cluster, count(*) as cases, count(distinct x.repo_id) as projects, "
        f"gc_kind(x.status, x.stage, {reason}, {flaky}) as kind, x.status, x.stage, x.error_type, "
        "gc_message(x.error_msg) as message, x.error_frame as frame, gc_break_id(x.break_ids) as break_id, "
        "min(x.case_id) as example_case, x.run_id, "
        f"gc_show_command(x.run_id, gc_cluster({sig})) as show_command "
        f"from results x where x.run_id = {run_param()} and x.status != '{CaseStatus.PASS.value}' "
        f"and (coalesce(nullif(:kind, ''), 'compiler') = 'all' "
        f"or gc_kind(x.status, x.stage, {reason}, {flaky}) = coalesce(nullif(:kind, ''), 'compiler')) "
        "group by cluster order by case kind when 'compiler' then 0 when 'flaky' then 1 when 'harness' then 2 "
        "else 3 end, "
        "cases desc, projects desc, cluster", ("run", "kind"))


def graph_breaks(c: Columns) -> Query:
    ids = "case when json_valid(x.break_ids) then x.break_ids else '[]' end"
    return Query(
        "graph_breaks", "Graph-break reasons and ids",
        "One run's graph breaks by torch's graph-break id and normalized reason, passing and failing cases "
        "alike, as `graphcrawl triage breaks` lists them: cases hit, breaks, projects, cases that still pass.",
        "with b as (select x.case_id, x.repo_id, x.status, x.run_id, r.value as raw, "
        "coalesce(nullif(i.value, ''), '') as break_id "
        "from results x join json_each(case when json_valid(x.break_reasons) then x.break_reasons else '[]' end) r "
        f"left join json_each({ids}) i on i.key = r.key "
        f"where x.run_id = {run_param()} and x.break_reasons is not null and x.break_reasons != '[]') "
        "select break_id, coalesce(nullif(gc_message(raw), ''), raw) as reason, count(distinct case_id) as cases, "
        "count(*) as breaks, count(distinct repo_id) as projects, "
        f"count(distinct case when status = '{CaseStatus.PASS.value}' then case_id end) as passing, "
        "min(raw) as example_reason, min(case_id) as example_case, run_id "
        "from b group by break_id, reason order by cases desc, projects desc, break_id, reason", ("run",))


def compare_runs(c: Columns) -> Query:
    prev = ("(select p.id from runs p, runs q where q.id = " + run_param("b") +
            " and (p.started_at < q.started_at or (p.started_at = q.started_at and p.rowid < q.rowid)) "
            "order by p.started_at desc, p.rowid desc limit 1)")
    return Query(
        "compare_runs", "Two runs compared",
        "Cases whose status differs between run a and run b (blank b: the latest run; blank a: the run "
        "before b), newly failing first. `graphcrawl report --compare A B` adds metric regressions.",
        f"select a.case_id, a.repo_id as project, a.status as status_a, b.status as status_b, "
        f"case when a.status = 'pass' then 'newly failing' when b.status = 'pass' then 'newly passing' "
        "else 'changed' end as change, b.stage as stage_b, b.error_type as error_type_b, "
        "substr(b.error_msg, 1, 300) as error_msg_b, b.run_id, a.run_id as run_a "
        f"from results a join results b on b.case_id = a.case_id and b.run_id = {run_param('b')} "
        f"where a.run_id = coalesce(nullif(:a, ''), {prev}) and a.status != b.status "
        "order by case change when 'newly failing' then 0 when 'newly passing' then 1 else 2 end, a.case_id",
        ("a", "b"))


def slowest_compiles(c: Columns) -> Query:
    cpu = c.col("results", "compile_cpu_s", "x")
    return Query(
        "slowest_compiles", "Slowest compiles",
        "One run's 100 slowest backend compiles (wall seconds of the first compiled call; CPU seconds, "
        "which hardly move with machine load, beside them).",
        f"select x.case_id, x.repo_id as project, x.status, x.compile_s, {cpu} as compile_cpu_s, "
        "x.compile_cache, x.graph_count, x.graph_break_count, x.op_count, x.run_id "
        f"from results x where x.run_id = {run_param()} and x.compile_s is not null "
        "order by x.compile_s desc, x.case_id limit 100", ("run",))


def runnable_stubs(c: Columns) -> Query:
    return Query(
        "runnable_stubs", "Stubs that runnable cases depend on",
        "Of one run's cases that ran in eager, the missing packages they were stubbed for: a module that "
        "really uses one runs something else, so these say what the crawl environment lacks.",
        "with ran as (select x.case_id, x.repo_id, nullif(coalesce(x.stubs, c.stubs), '[]') as stubs "
        "from results x left join cases c on c.id = x.case_id "
        f"where x.run_id = {run_param()} and x.status in {_in(RAN_IN_EAGER)}) "
        "select s.value as package, count(distinct ran.case_id) as cases, count(distinct ran.repo_id) as projects "
        "from ran join json_each(case when json_valid(ran.stubs) then ran.stubs else '[]' end) s "
        "where ran.stubs is not null group by package order by cases desc, package", ("run",))


def case_detail(c: Columns) -> Query:
    trace = c.col("results", "trace_path", "x")
    return Query(
        "case", "One case: where it stopped, how to reproduce it",
        "A case's result in a run (blank: the latest), the command that writes its standalone repro script, "
        "the command that shows its failure cluster, and its torch trace when one was kept.",
        "select x.case_id, x.run_id, x.status, x.stage, gc_repro_command(x.run_id, x.case_id) as repro_command, "
        f"case when x.status != 'pass' then gc_show_command(x.run_id, gc_cluster(x.status, x.stage, x.error_type, "
        f"x.error_msg, x.error_frame, x.break_ids, {c.col('results', 'reason', 'x')})) end as show_command, "
        f"{trace} as trace_path, x.error_type, x.error_msg, x.repo_id as project, m.path, m.qualname, m.sha "
        "from results x left join modules m on m.id = x.module_id "
        f"where x.run_id = {run_param()} and x.case_id = :case", ("run", "case"))


def canned_queries(c: Columns) -> list[Query]:
    """Every canned query, in the order the database page lists them."""
    return [success_by_run(c), success_by_project(c), compiler_clusters(c), graph_breaks(c),
            compare_runs(c), slowest_compiles(c), runnable_stubs(c), case_detail(c)]
