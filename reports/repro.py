"""Write a standalone repro script for one case of one run.

Why a script and not a command: the person fixing the bug works in a torch
checkout, often on another machine, without the crawl database. The script
carries everything: the repo URL and pinned commit, the stored spec (so the
inputs are the very ones the run used), the run's backend/device/mode, and the
recorded failure to compare against. It needs torch, git and graphcrawl's
source tree (for `capture.deduce.replay.build_case`); it finds the latter itself.
"""
from __future__ import annotations

import ast
import datetime as _dt
import importlib.util
import json
import pprint
from pathlib import Path
from typing import Any

from db.status import CaseStatus
from db.store import Store
from reports.scope import ReportError, resolve_run
from reports.signature import signature

TEMPLATE = Path(__file__).with_name("repro_template.py")
MARKER = "EMBEDDED: dict[str, Any] = {}  # <graphcrawl:embedded>"


def graphcrawl_source_root() -> str:
    """The directory holding graphcrawl's `capture` package (embedded as a fallback path)."""
    spec = importlib.util.find_spec("capture")
    if spec is None or spec.origin is None:
        return str(Path(__file__).resolve().parents[1])
    return str(Path(spec.origin).resolve().parents[1])   # capture/__init__.py -> the tree


def _loads(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _result_for(store: Store, case_id: str, run_id: str | None) -> dict[str, Any]:
    conn = store.db.conn
    if run_id is not None:
        run_id = resolve_run(store, run_id)
        cur = conn.execute("select * from results where run_id = ? and case_id = ?", [run_id, case_id])
    else:  # the latest run that has this case
        cur = conn.execute("select x.* from results x join runs r on r.id = x.run_id where x.case_id = ? "
                           "order by r.started_at desc, r.rowid desc limit 1", [case_id])
    row = cur.fetchone()
    if row is None:
        if store.case(case_id) is None:
            raise ReportError(f"no case {case_id!r} in {store.path} (case ids are listed by `graphcrawl triage`)")
        raise ReportError(f"case {case_id!r} has no result" + (f" in run {run_id!r}" if run_id else " in any run"))
    return dict(zip([c[0] for c in cur.description], row))


def repro_data(store: Store, case_id: str, run_id: str | None = None, minify: bool = False) -> dict[str, Any]:
    """Everything the script embeds, read from the database."""
    result = _result_for(store, case_id, run_id)
    case = store.case(case_id) or {}
    module = next(iter(store.db["modules"].rows_where("id = ?", [result["module_id"] or case.get("module_id")])),
                  None)
    if module is None:
        raise ReportError(f"case {case_id!r}: its module is not in the database")
    repo = store.repo(module["repo_id"]) or {}
    if not repo.get("url"):
        raise ReportError(f"case {case_id!r}: repo {module['repo_id']!r} has no URL to clone")
    run = store.run(result["run_id"]) or {}
    config = _loads(run.get("config")) or {}
    spec = _loads(case.get("spec"))
    if spec is None and result["status"] not in (CaseStatus.IMPORT_FAILED.value, CaseStatus.INIT_FAILED.value,
                                                 CaseStatus.INPUTS_NOT_FOUND.value, CaseStatus.EAGER_FAILED.value,
                                                 CaseStatus.TIMEOUT.value, CaseStatus.CRASH.value,
                                                 CaseStatus.OOM.value):
        raise ReportError(f"case {case_id!r} ({result['status']}) has no stored spec to replay")
    sig = signature(result["status"], result["stage"], result["error_type"], result["error_msg"],
                    result["error_frame"], result["break_ids"], result.get("reason"), result.get("export_class"))
    dynamic = run.get("dynamic")
    return {
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "db": str(Path(store.path).resolve()),
        "graphcrawl_src": graphcrawl_source_root(),
        "minify": bool(minify),
        "case": {"id": case_id, "repo": module["repo_id"], "name": repo.get("name") or module["repo_id"].split("/")[-1],
                 "url": repo["url"], "sha": module["sha"], "path": module["path"], "qualname": module["qualname"]},
        "spec": spec,
        "stubs": _loads(case.get("stubs")) or [],
        "found_by": _loads(case.get("found_by")),
        "run": {"id": result["run_id"], "torch": run.get("torch"), "device": run.get("device") or "cpu",
                "backend": run.get("backend") or "inductor",
                "compile_mode": None if run.get("mode") in (None, "", "default") else run["mode"],
                "fullgraph": bool(run.get("fullgraph")), "dynamic": None if dynamic is None else bool(dynamic),
                "seed": int(config.get("seed", 0)), "tol": float(config.get("tol", 1e-3)),
                "train_mode": config.get("mode", "eval"), "check": run.get("check") or "inference", "deduce_budget_s": float(config.get("deduce_budget_s", 60))},
        "recorded": {"status": result["status"], "stage": result["stage"], "error_type": result["error_type"],
                     "error_msg": (result["error_msg"] or "")[:2000], "error_frame": result["error_frame"],
                     "break_ids": _loads(result["break_ids"]), "cluster": sig.cluster_id,
                     "signature": sig.as_dict()},
    }


def _literal(data: dict[str, Any]) -> str:
    """A readable Python literal for `data`; JSON text in a string if that cannot round-trip."""
    text = pprint.pformat(data, width=110, sort_dicts=False)
    try:
        if ast.literal_eval(text) == data:
            return text
    except (ValueError, SyntaxError):
        pass
    return f"__import__('json').loads({json.dumps(data)!r})"


def render_script(data: dict[str, Any]) -> str:
    source = TEMPLATE.read_text()
    if MARKER not in source:
        raise RuntimeError(f"{TEMPLATE}: embedding marker missing")
    c, r, rec = data["case"], data["run"], data["recorded"]
    body = (f"graphcrawl repro: {c['repo']} {c['path']}:{c['qualname']}\n\n"
            f"Recorded in run {r['id']} (torch {r['torch']}, device {r['device']}, backend {r['backend']}):\n"
            f"  {rec['status']} at stage {rec['stage']}: {rec['error_type']} (cluster {rec['cluster']})\n"
            f"Generated {data['generated_at']} from {data['db']}.\n")
    body = body.replace("\\", "/").replace('"' * 3, "'" * 3)  # stays inside the docstring
    quotes = '"' * 3
    first_doc_line = quotes + "graphcrawl repro script (template: `graphcrawl triage repro` fills in EMBEDDED).\n"
    source = source.replace(first_doc_line, quotes + body, 1)
    return source.replace(MARKER, f"EMBEDDED: dict[str, Any] = {_literal(data)}", 1)


def write_repro(store: Store, case_id: str, out: str | Path, run_id: str | None = None,
                minify: bool = False) -> dict[str, Any]:
    """Write the script to `out` (executable); returns the embedded data."""
    data = repro_data(store, case_id, run_id, minify)
    path = Path(out)
    path.write_text(render_script(data))
    path.chmod(0o755)
    return data
