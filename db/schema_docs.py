"""What every table, column and status of the database means, in words.

Why here, beside db/store.py's TABLES and db/status.py's enums: the served
views (`graphcrawl serve`: Datasette titles, column descriptions, units) are
generated from this one text, so a reader of the database and a reader of the
code see the same definitions. tests/test_schema_docs.py fails when a column
of TABLES, a discovery-slice column or a status has no description here, or
when a description names a column the schema no longer has. (A separate
module rather than comments inside TABLES: TABLES is edited by every change
that records something new, and this keeps those edits one line each.)

Units are not written twice either: a REAL column named `*_s`, `*_ms` or
`*_us` holds seconds, milliseconds or microseconds (see `unit`).
"""
from __future__ import annotations

from db.status import CaseStatus, RepoStatus

# table -> (title, description)
TABLE_DOCS: dict[str, tuple[str, str]] = {
    "repos": ("Repositories",
              "One row per repository discovered on GitHub or given with --repo/--repos-file, with the "
              "commit it is pinned at and where it stopped in the repo funnel (status)."),
    "modules": ("nn.Module classes",
                "Every nn.Module subclass found by static analysis (AST, no code run) in a repository's "
                "checkout. Its id is checkout + file + class qualname: stable across runs."),
    "cases": ("Cases",
              "A module plus the constructor args and inputs that make it run in eager (spec), found once "
              "and replayed unchanged by every later run, so runs compare the same thing."),
    "runs": ("Runs",
             "One configuration (torch version, device, backend, mode, check) over the stored cases. "
             "Runs of the same cases on another torch release are the history (`report --history`)."),
    "results": ("Results: one case in one run",
                "Where each case stopped (status, stage), with the error, the graphs and graph breaks "
                "Dynamo captured, compile time, speedup, frame-hook overhead and numeric parity. "
                "Keyed by (run_id, case_id); a case is never recorded twice in a run."),
    "discovery_slices": ("GitHub discovery slices",
                         "One row per GitHub search query of a discovery (a slice of stars x creation "
                         "date), so a killed discovery resumes without fetching a finished slice again."),
    "meta": ("Database metadata", "Key/value facts about the database itself (schema_version)."),
}

COLUMN_DOCS: dict[str, dict[str, str]] = {
    "repos": {
        "id": "owner/name (local/<name>-<hash> for a local path or file:// URL)",
        "url": "git URL the repository is cloned from",
        "owner": "GitHub owner (user or organisation)",
        "name": "repository name",
        "stars": "GitHub stars when discovered",
        "license": "SPDX id of the license GitHub reports",
        "default_branch": "branch cloned when no commit is pinned yet",
        "size_kb": "repository size GitHub reports, in KB (repos above --max-repo-kb are too_large)",
        "pushed_at": "last push, as GitHub reports it",
        "created_at": "creation date, as GitHub reports it",
        "topics": "GitHub topics (JSON list)",
        "fork": "1 when the repository is a fork",
        "archived": "1 when the repository is archived",
        "source": "how it came in: user (--repo, --repos-file) or search (GitHub discovery)",
        "discovered_at": "when graphcrawl first saw it (UTC)",
        "status": "repo funnel: " + ", ".join(s.value for s in RepoStatus),
        "error": "why the clone failed, or which files could not be scanned",
        "sha": "the commit every module and result of this repository is tied to",
        "checkout_path": "where the checkout lives on the machine that cloned it",
        "clone_s": "time to clone the repository",
        "disk_bytes": "size of the checkout on disk, in bytes",
        "module_count": "nn.Module classes found by the scan",
        "scanned_at": "when the checkout was scanned (UTC)",
        "selected": "1 when a crawl chose it (--repo, --repos-file, within --limit N); else only seen "
                    "by discovery, and left out of the repo funnel",
    },
    "modules": {
        "id": "repo@sha[:12]:path:qualname, stable across runs (never a position)",
        "repo_id": "the repository (repos.id)",
        "sha": "commit the module was scanned at",
        "path": "file inside the checkout",
        "qualname": "class name, dotted when nested",
        "line": "line of the class statement",
        "bases": "base classes as written in the source (JSON list)",
        "init_params": "__init__ parameters: names, defaults, annotations (JSON)",
        "forward_params": "forward parameters: names, defaults, annotations (JSON)",
    },
    "cases": {
        "id": "the case id (today the module id: one case per module)",
        "module_id": "the module (modules.id)",
        "repo_id": "the repository (repos.id)",
        "spec": "constructor args and inputs that made it run in eager: shapes, dtypes, values, seed "
                "(JSON); empty until a run found them",
        "found_by": "deduction rules that built the spec (JSON list)",
        "stubs": "missing third-party packages stubbed so the module loaded (JSON list)",
        "created_at": "when the case was created by the scan (UTC)",
        "created_run": "the run that found its spec",
    },
    "runs": {
        "id": "run name: torch<version>-<device>-<backend>[-training|-dynamic] unless --run named it",
        "torch": "torch version the run used",
        "triton": "triton version (GPU runs)",
        "python": "Python version",
        "compiler": "C/C++ compiler Inductor used (cc --version)",
        "device": "cpu or cuda",
        "device_name": "CPU model or GPU name",
        "backend": "torch.compile backend (inductor, eager, aot_eager, ...)",
        "mode": "torch.compile mode (default, reduce-overhead, max-autotune)",
        "fullgraph": "1 when a graph break fails capture (--fullgraph)",
        "dynamic": "torch.compile dynamic= (1 true, 0 false, empty: automatic)",
        "config": "timeouts, memory limit, tolerance, seed and mode of the run (JSON)",
        "host": "machine the driver ran on",
        "started_at": "when the run started (UTC); orders the history",
        "ended_at": "when the last invocation of the run ended (empty while running)",
        "check": "what the run validates: inference, training (forward + loss + backward) or dynamic "
                 "(new input sizes)",
        "executor": "where cases ran: local (this machine's workers) or ray (a Ray cluster)",
        "nodes": "the nodes seen by a Ray run (JSON)",
        "load_avg": "1-minute load average sampled during the run: n, mean, min, max, cores (JSON); "
                    "compile times of runs under different load are not comparable",
        "packages": "versions of the crawl environment's packages (JSON)",
    },
    "results": {
        "run_id": "the run (runs.id)",
        "case_id": "the case (cases.id)",
        "module_id": "the module (modules.id)",
        "repo_id": "the repository (repos.id)",
        "status": "where the case stopped; see the status funnel in the database description",
        "stage": "stage it was in when it ended (import, init, inputs, eager, capture, compile, run, "
                 "parity, backward, dynamic, done)",
        "error_type": "exception type, or Timeout / Killed by SIGxxx",
        "error_msg": "exception message (first part)",
        "error_frame": "innermost torch frame of the traceback (file:function): part of the triage signature",
        "traceback": "the traceback text (capped)",
        "signal": "signal that killed the worker (crash)",
        "exit_code": "worker exit code (crash)",
        "nondeterministic": "1 when two eager runs with the same seed differed",
        "rng_dependent": "1 when a reseeded eager run differed (output depends on the RNG)",
        "stubs": "packages stubbed for this result (JSON list)",
        "stubs_used": "of stubs, the entries the case leaned on once imported: a stand-in it called or read while "
                      "built, deduced or run in eager (JSON list; [] when it touched none; entries that are no "
                      "stand-in, like skipped statements and compat shims, always count; null before eager ran)",
        "graph_count": "graphs Dynamo captured",
        "graph_break_count": "graph breaks (graphs - 1 when nothing was skipped)",
        "break_reasons": "torch's graph-break reasons, one per break (JSON list)",
        "break_ids": "torch's stable graph-break ids (GBxxxx), aligned with break_reasons (JSON list)",
        "op_count": "call_function nodes over all captured graphs",
        "ops_per_graph": "call_function nodes per graph (JSON list)",
        "guard_count": "guards Dynamo installed",
        "recompiles": "frames compiled again on a repeated call (dynamic runs: at new sizes)",
        "capture_s": "seconds of the counting Dynamo trace: with one trace (traces = 1) Dynamo's share of "
                     "the compile by torch's metrics; with two, the eager-backend trace's first call",
        "traces": "Dynamo traces the inference check made of the module: 1 (capture figures, hook timing and "
                  "compile from one trace), 2 (a counting eager-backend trace, then the compile's: "
                  "--two-traces, fullgraph, a compile mode, or a one-trace first call that raised)",
        "eager_ms": "eager latency per call (thread CPU time) in the overhead measurement",
        "hook_ms": "latency per call under Dynamo's frame hook running the captured graphs as they are",
        "hook_overhead_us": "frame-hook overhead per call: hook_ms - eager_ms",
        "compile_s": "wall time of the backend's first call (Dynamo + AOTAutograd + backend codegen)",
        "compile_cache": "Inductor cache on that compile: hit, miss, mixed or none",
        "compiled_ms": "compiled latency per call, interleaved with eager",
        "speedup": "eager latency / compiled latency",
        "max_abs_err": "largest absolute difference, compiled vs eager",
        "rmse": "root mean square error, compiled vs eager",
        "cosine": "cosine similarity, compiled vs eager",
        "atol": "absolute tolerance used",
        "rtol": "relative tolerance used",
        "ladder": "outcome per backend of the eager -> aot_eager -> inductor ladder (JSON), where recorded",
        "wall_s": "worker wall time of the whole case (fork to result)",
        "finished_at": "when the result was recorded (UTC)",
        "stage_s": "seconds spent in each step of the case engine (JSON object, seconds)",
        "reason": "a short machine-readable reason beside the status: needs_network, not_a_model, "
                  "no_tensor_ops (nothing to capture: not Dynamo's failure), deduce_budget, no_loss, "
                  "no_parameters, no_other_size, node_lost",
        "backward_graphs": "compiled backward graphs (training runs)",
        "backward_compile_s": "compile time of the backward (training runs)",
        "sizes": "per new input size: the size, status, recompiles, parity (JSON, dynamic runs)",
        "sizes_tried": "new input sizes eager accepted (dynamic runs)",
        "sizes_rejected": "new input sizes eager itself rejected: not counted against the compiler",
        "recompile_reasons": "torch's guard failures behind the recompiles (JSON list, dynamic runs)",
        "dynamic_true": "outcome of a fresh torch.compile(dynamic=True) over the same sizes",
        "trace_path": "torch structured trace of a compiler failure, relative to the database's folder "
                      "(<db>.traces/<run>/<case>.log; rendered by `graphcrawl triage trace`)",
        "compile_cpu_s": "CPU time of the compile (process + gcc children): hardly moves with machine load",
        "hook_ratio": "hook_ms / eager_ms",
        "hook_overhead_ci_us": "half width of the 95% interval of hook_overhead_us",
        "hook_samples": "paired repeats behind the overhead figures",
        "node_id": "Ray node the case ran on",
        "node_host": "host name of that node",
        "case_cpu_s": "CPU time of the case's whole process tree (the child and the gcc it ran); "
                      "crawl --timeout bounds it",
        "flaky": "1: a compiler failure its rerun in a fresh process did not repeat (passed or failed "
                 "differently); 0: the rerun confirmed it; empty: not rerun",
        "rerun": "the confirming rerun's outcome: status, stage, error type and message (JSON)",
        "rerun_s": "wall time of the confirming rerun",
        "compile_phases": "the compile's seconds by layer from torch's compile-time metrics: dynamo, "
                          "aot_autograd, inductor, cxx_build (JSON)",
        "export_steps": "export runs: each step's outcome {ok, s, status, class, error, frame} (JSON): "
                        "nonstrict, strict, run, serialize, dynamic, aoti",
        "export_class": "export runs: the failure class of the failing export (data_dependent, "
                        "unsupported_python, no_fake_kernel, constraint_violation, not_pytree, other)",
        "export_strict": "export runs: strict export's outcome, pass or its failure class",
        "draft_report": "export runs: torch.export.draft_export's report where an export failed (JSON)",
        "dynamic_specialized": "export runs: 1 when torch proved the Dim.AUTO batch dimension static",
    },
    "discovery_slices": {
        "id": "hash of the discovery and the slice's query",
        "query": "GitHub search query of the slice",
        "total": "total_count GitHub reported",
        "done": "1 when every page was fetched",
        "pages": "pages fetched",
        "updated_at": "last write (UTC)",
        "discovery": "which discovery (query, star floor, size cap) the slice belongs to",
        "state": "partial, done or split (too many results: split into narrower slices)",
        "parent": "the slice this one was split from",
        "stars_lo": "lowest star count of the slice",
        "stars_hi": "highest star count of the slice",
        "created_lo": "earliest creation date of the slice (days)",
        "created_hi": "latest creation date of the slice (days)",
        "split_at": "where the slice was split",
        "repo_ids": "repositories the slice yielded (JSON list)",
    },
    "meta": {
        "key": "name of the fact",
        "value": "its value",
    },
}

# The case funnel, in order: what each status means (db/status.py CaseStatus).
STATUS_DOCS: dict[str, str] = {
    CaseStatus.IMPORT_FAILED.value: "the module's file did not import (missing dependency, import-time error)",
    CaseStatus.INIT_FAILED.value: "no constructor arguments built the module",
    CaseStatus.INPUTS_NOT_FOUND.value: "no inputs were found that forward accepts",
    CaseStatus.EAGER_FAILED.value: "the stored inputs fail in plain eager",
    CaseStatus.EAGER_NONDETERMINISTIC.value: "eager output is not reproducible: a flag, never a pass",
    CaseStatus.CAPTURE_FAILED.value: "TorchDynamo captured nothing, or broke under --fullgraph",
    CaseStatus.COMPILE_FAILED.value: "the backend failed to compile what Dynamo captured",
    CaseStatus.RUN_FAILED.value: "the compiled module raised when called",
    CaseStatus.PARITY_FAILED.value: "compiled output differs from eager beyond tolerance (fp64 reference)",
    CaseStatus.PASS.value: "captured, compiled, ran and matched eager",
    CaseStatus.RUNNABLE.value: "an eager-only check (crawl --check eager): it runs in eager, nothing was compiled",
    CaseStatus.TIMEOUT.value: "used its CPU budget (or passed the wall-clock backstop); stage says where",
    CaseStatus.CRASH.value: "the worker died (signal); stage says where",
    CaseStatus.OOM.value: "ran out of memory; stage says where",
}

_TIME_SUFFIXES = {"_s": "s", "_ms": "ms", "_us": "us"}


def unit(table: str, column: str) -> str | None:
    """The unit of a time column (Pint's spelling, as Datasette takes it), else None."""
    from db.store import TABLES
    columns = TABLES.get(table, ({}, ""))[0]
    if columns.get(column) is not float:
        return None
    for suffix, name in _TIME_SUFFIXES.items():
        if column.endswith(suffix):
            return name
    return None


def schema_columns() -> dict[str, list[str]]:
    """Every column the schema declares, per table (discovery slices' lazily added ones too)."""
    from db.store import TABLES, Store
    out = {name: list(columns) for name, (columns, _) in TABLES.items()}
    out["discovery_slices"] += [c for c in Store.DISCOVERY_SLICE_COLUMNS if c not in out["discovery_slices"]]
    return out


def funnel_html() -> str:
    """The status funnel as an HTML list (the served database's description)."""
    import html
    items = "".join(f"<li><code>{html.escape(s)}</code>: {html.escape(STATUS_DOCS[s])}</li>"
                    for s in (x.value for x in CaseStatus))
    return ("<p>Every scanned module ends in exactly one status per run, in funnel order; "
            "rates are shown over the cases that ran in eager and over all cases. Compiler failures are "
            "capture, compile, run and parity failures and a timeout/crash/oom at capture or later; the "
            "rest are harness failures (graphcrawl's or the project's, not torch's).</p>"
            f"<ol>{items}</ol>")
