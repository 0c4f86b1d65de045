"""`graphcrawl serve`: a real Datasette server over a real fixture crawl, read by real headless Chromium.

The database comes from two real crawls (backend eager) of the zoo and the
triage fixture repos: run "eager", and run "eager-fullgraph", where a graph
break fails capture. Every canned query is loaded in the browser and the rows
it shows are checked against what the reports compute from the same file.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from db.schema_docs import COLUMN_DOCS
from db.status import failure_kind
from db.store import Store
from graphcrawl.cli import main
from reports import rates, yields
from reports.breaks import break_groups
from reports.compare import compare_runs
from reports.scope import Scope, open_store
from reports.serve import links
from reports.triage import clusters
from tests.conftest import sandbox_flags
from tests.served import ROOT, Browser, Server, case_text, require_serve, table_rows
from tests.triage_fixtures import make_triage_repo

RUN, FULLGRAPH = "eager", "eager-fullgraph"
needs_serve = require_serve()                     # a server and headless Chromium
needs_datasette = pytest.mark.skipif(importlib.util.find_spec("datasette") is None
                                     and not os.environ.get("GRAPHCRAWL_REQUIRE_SERVE"),
                                     reason="datasette is not installed (pip install 'graphcrawl[serve]')")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, zoo_repo: Path, session_workdir: Path) -> Path:
    root = tmp_path_factory.mktemp("serve")
    os.chmod(root, 0o755)
    db = root / "served.db"
    args = ["crawl", "--db", str(db), "--repo", zoo_repo.as_uri(), "--repo", str(make_triage_repo(root)),
            "--workdir", str(session_workdir), "--workers", "2", "--backend", "eager", "--timeout", "120",
            "--deduce-budget", "5", "--no-progress", *sandbox_flags()]
    assert main([*args, "--run", RUN]) == 0
    assert main([*args, "--run", FULLGRAPH, "--fullgraph"]) == 0
    return db


@pytest.fixture(scope="module")
def server(crawled: Path):
    with Server(crawled) as s:
        yield s


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Browser:
    return Browser(tmp_path_factory.mktemp("chromium"))


def page(server: Server, browser: Browser, path: str) -> list[dict[str, str]]:
    return table_rows(browser.dom(f"{server.url}/{server.db_name}/{path}"))


def db_rows(db: Path, sql: str, params: list | tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, list(params)).fetchall()
    finally:
        conn.close()


@needs_serve
def test_index_lists_the_database_with_its_tables(server: Server, browser: Browser, crawled: Path) -> None:
    html = browser.dom(server.url + "/")
    assert "graphcrawl: served.db" in html
    assert re.search(r'<h2[^>]*><a href="/served">served</a></h2>', html)
    (n,) = db_rows(crawled, "select count(*) from results")[0]
    assert re.search(rf'<a href="/served/results" title="{n} rows">results</a>', html)
    db_page = browser.dom(f"{server.url}/served")
    for name in ("success_by_run", "success_by_project", "compiler_clusters", "graph_breaks", "compare_runs",
                 "slowest_compiles", "runnable_stubs", "case"):
        assert f'href="/served/{name}"' in db_page, name
    assert "<code>eager_nondeterministic</code>" in db_page     # the status funnel, explained


@needs_serve
def test_faceted_table_shows_the_databases_rows(server: Server, browser: Browser, crawled: Path) -> None:
    html = browser.dom(f"{server.url}/served/results?run_id={RUN}&_kind=compiler")
    rows = table_rows(html)
    want = sorted(c for c, s, st, r in db_rows(crawled, "select case_id, status, stage, reason from results "
                                                        "where run_id = ?", [RUN])
                  if failure_kind(s, st, r) == "compiler")
    assert want and sorted(case_text(r["case_id"]) for r in rows) == want
    assert {r["run_id"] for r in rows} == {RUN}
    assert "failure kind is &quot;compiler&quot;" in html or 'failure kind is "compiler"' in html
    # the status facet counts the rows shown
    statuses = db_rows(crawled, "select status, count(*) from results where run_id = ? and case_id in (%s) "
                       "group by status" % ",".join("?" * len(want)), [RUN, *want])
    for status, n in statuses:
        assert re.search(rf"status={status}\">{status}</a> {n}</li>", html), status
    # the kind facet offers the other kinds of the run; columns carry the schema's description
    everything = browser.dom(f"{server.url}/served/results?run_id={RUN}")
    assert re.search(r'id="facet-kind"', everything) and "_kind=harness" in everything
    assert f'data-column-description="{COLUMN_DOCS["results"]["compile_s"]}"' in everything
    assert re.search(r'<td class="col-compile_s type-Quantity">[0-9.]+(&nbsp;|\s)(s|ms)</td>', everything)  # units


@needs_serve
def test_success_by_run_is_the_reports_rates(server: Server, browser: Browser, crawled: Path) -> None:
    rows = page(server, browser, "success_by_run")
    assert [r["run_id"] for r in rows] == [RUN, FULLGRAPH]            # time order
    with open_store(crawled) as store:
        for row in rows:
            want = {r.name: r for r in rates.rates(Scope(store, row["run_id"]))}
            assert int(row["cases"]) == want["eager"].total
            for level, column in (("eager", "runnable"), ("captured", "captured"), ("full_graph", "full_graph"),
                                  ("compiled", "compiled"), ("parity", "parity"), ("passed", "passed")):
                assert int(row[column]) == want[level].count, (row["run_id"], level)
            assert float(row["pass_pct_of_runnable"]) == pytest.approx(want["passed"].pct_of_runnable)
            assert float(row["capture_pct_of_runnable"]) == pytest.approx(want["captured"].pct_of_runnable)


@needs_serve
def test_success_by_project_is_the_reports_counts(server: Server, browser: Browser, crawled: Path) -> None:
    rows = page(server, browser, f"success_by_project?run={RUN}")
    with open_store(crawled) as store:
        want = rates.level_counts(Scope(store, RUN), group_by_repo=True)
    assert {r["project"] for r in rows} == set(want) and len(want) == 2
    for r in rows:
        w = want[r["project"]]
        assert (int(r["cases"]), int(r["runnable"]), int(r["captured"]), int(r["passed"])) == \
            (w["total"], w["eager"], w["captured"], w["passed"])


@needs_serve
@pytest.mark.parametrize("run", [RUN, ""])                             # blank: the latest run
def test_compiler_clusters_are_triages(server: Server, browser: Browser, crawled: Path, run: str) -> None:
    rows = page(server, browser, f"compiler_clusters?run={run}")
    run_id = run or FULLGRAPH
    with open_store(crawled) as store:
        want = clusters(Scope(store, run_id), kind="compiler")
    assert want, "the fixture crawl has compiler failures"
    assert [(r["cluster"], int(r["cases"]), int(r["projects"]), r["status"], r["kind"]) for r in rows] == \
        [(c.id, c.count, c.projects, c.signature.status, "compiler") for c in want]
    assert [case_text(r["example_case"]) for r in rows] == [c.examples[0] for c in want]
    assert rows[0]["show_command"] == links.show_command(crawled, run_id, want[0].id)
    harness = page(server, browser, f"compiler_clusters?run={run_id}&kind=harness")
    with open_store(crawled) as store:
        assert [r["cluster"] for r in harness] == [c.id for c in clusters(Scope(store, run_id), kind="harness")]


@needs_serve
def test_graph_breaks_are_triage_breaks(server: Server, browser: Browser, crawled: Path) -> None:
    rows = page(server, browser, f"graph_breaks?run={RUN}")
    with open_store(crawled) as store:
        want = break_groups(Scope(store, RUN))
    assert want, "the fixture crawl has graph breaks"
    got = sorted((r["break_id"], r["reason"], int(r["cases"]), int(r["breaks"]), int(r["projects"]), int(r["passing"]))
                 for r in rows)
    assert got == sorted((g.id, g.reason, g.cases, g.breaks, g.projects, g.passing) for g in want)


@needs_serve
def test_two_runs_compared(server: Server, browser: Browser, crawled: Path) -> None:
    rows = page(server, browser, f"compare_runs?a={RUN}&b={FULLGRAPH}")
    changed = db_rows(crawled, "select a.case_id, a.status, b.status from results a join results b "
                               "on b.case_id = a.case_id and b.run_id = ? where a.run_id = ? and a.status != b.status "
                               "order by a.case_id", [FULLGRAPH, RUN])
    assert changed, "--fullgraph fails the cases with graph breaks"
    assert sorted((case_text(r["case_id"]), r["status_a"], r["status_b"]) for r in rows) == sorted(changed)
    with open_store(crawled) as store:
        cmp = compare_runs(store, RUN, FULLGRAPH)
    assert [case_text(r["case_id"]) for r in rows if r["change"] == "newly failing"] == \
        [f["case_id"] for f in cmp.newly_failing]
    assert page(server, browser, "compare_runs") == rows             # blank: the latest run and the one before


@needs_serve
def test_slowest_compiles_and_runnable_stubs(server: Server, browser: Browser, crawled: Path) -> None:
    rows = page(server, browser, f"slowest_compiles?run={RUN}")
    want = db_rows(crawled, "select case_id, compile_s from results where run_id = ? and compile_s is not null "
                            "order by compile_s desc, case_id limit 100", [RUN])
    assert want and [case_text(r["case_id"]) for r in rows] == [c for c, _ in want]
    assert [float(r["compile_s"]) for r in rows] == pytest.approx([s for _, s in want])
    stubs = page(server, browser, f"runnable_stubs?run={RUN}")
    with open_store(crawled) as store:
        expect = yields.runnable_stubs(Scope(store, RUN), limit=None)["stubs"]
    assert expect, "the zoo's PlainMLP runs with its missing package stubbed"
    assert [(r["package"], int(r["cases"]), int(r["projects"])) for r in stubs] == \
        [(s["package"], s["cases"], s["projects"]) for s in expect]


@needs_serve
def test_a_case_links_to_its_repro_command_and_trace(server: Server, browser: Browser, crawled: Path) -> None:
    case, trace_path = db_rows(crawled, "select case_id, trace_path from results where run_id = ? and "
                                        "trace_path is not null order by case_id limit 1", [RUN])[0]
    html = browser.dom(f"{server.url}/served/case?" + urlencode({"run": RUN, "case": case}))
    [row] = table_rows(html)
    assert row["repro_command"] == links.repro_command(crawled, RUN, case)
    assert row["show_command"].startswith("graphcrawl triage show ") and row["status"] != "pass"
    href = re.search(r'<a href="([^"]*/-/graphcrawl/trace\?[^"]*)">', html).group(1).replace("&amp;", "&")
    status, text = server.get(href)
    assert status == 200 and text == (crawled.parent / trace_path).read_text()
    # the results table links each case to the same page
    listing = browser.dom(f"{server.url}/served/results?run_id={RUN}&case_id=" + quote(case))
    assert "/served/case?" + urlencode({"run": RUN, "case": case}).replace("&", "&amp;") in listing
    assert server.get(links.trace_url(RUN, "no/such:case"))[0] == 404


@needs_datasette
def test_html_report_links_into_the_served_views(server: Server, crawled: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "--db", str(crawled), "--run", RUN, "--html", str(out), "--serve-url", server.url]) == 0
    hrefs = [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', out.read_text())]
    assert len(hrefs) == len(links.run_links(server.url, crawled, RUN)) and all(h.startswith(server.url) for h in hrefs)
    for href in hrefs:
        status, body = server.get(href[len(server.url):])
        assert status == 200, (href, body[:300])


@needs_datasette
def test_database_from_an_older_graphcrawl_is_served_unchanged(crawled: Path, tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(crawled, db)
    conn = sqlite3.connect(db)
    for col in ("reason", "trace_path", "compile_cpu_s", "stage_s", "node_id"):
        conn.execute(f"alter table results drop column {col}")
    conn.execute('alter table runs drop column "check"')
    conn.commit()
    before = [r[1] for r in conn.execute("pragma table_info(results)")]
    conn.close()
    with Server(db) as s:
        for name in ("success_by_run", "success_by_project", "compiler_clusters", "graph_breaks", "compare_runs",
                     "slowest_compiles", "runnable_stubs"):
            status, body = s.get(f"/old/{name}.json?_shape=array")
            assert status == 200, (name, body[:300])
        status, body = s.get(f"/old/compiler_clusters.json?_shape=array&run={RUN}")
        got = [r["cluster"] for r in json.loads(body)]
        assert s.get("/old/results?_kind=compiler")[0] == 200
        assert s.get(f"/old/slowest_compiles.json?_shape=array&run={RUN}")[1].count('"compile_cpu_s": null') > 0
    conn = sqlite3.connect(db)
    assert [r[1] for r in conn.execute("pragma table_info(results)")] == before   # served read-only: not altered
    conn.close()
    with open_store(db) as store:      # the reports read the missing columns as empty too
        assert got == [c.id for c in clusters(Scope(store, RUN), kind="compiler")]


@needs_datasette
def test_immutable_is_refused_while_a_crawl_writes(crawled: Path, tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    shutil.copy(crawled, db)
    writer = Store(db)
    writer.lock_for_writing()
    try:
        proc = subprocess.run([sys.executable, "-m", "graphcrawl.cli", "serve", "--db", str(db), "--immutable",
                               "--port", "0"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                              capture_output=True, text=True, timeout=120)
    finally:
        writer.close()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"graphcrawl: error: {db} cannot be served --immutable: a running crawl is writing to it "
        f"(pid {os.getpid()}); serve it without --immutable (read-only, live)"]
    with Server(db, "--immutable") as s:                 # finished: immutable is fine
        assert s.get("/busy/success_by_run.json?_shape=array")[0] == 200


@needs_datasette
def test_ctrl_c_stops_the_server_cleanly(crawled: Path) -> None:
    s = Server(crawled)
    assert s.get("/")[0] == 200
    rc, err = s.stop()
    assert rc == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "graphcrawl serve: stopped"


@needs_datasette
def test_a_port_in_use_is_one_line(crawled: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "graphcrawl.cli", "serve", "--db", str(crawled), "--port",
                               str(port)], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"graphcrawl: error: cannot listen on 127.0.0.1:{port}: Address already in use; give another --port"]


def test_serve_without_datasette_says_what_to_install(tmp_path: Path) -> None:
    broken = tmp_path / "site" / "datasette"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('No module named datasette')\n")  # not installed
    db = tmp_path / "g.db"
    Store(db).close()
    proc = subprocess.run([sys.executable, "-m", "graphcrawl.cli", "serve", "--db", str(db)], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=f"{tmp_path / 'site'}:{ROOT}"),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "graphcrawl: error: graphcrawl serve needs Datasette: pip install 'graphcrawl[serve]' "
        "(or pip install 'datasette>=0.65,<0.66')"]


def test_the_cli_and_the_reports_do_not_import_datasette() -> None:
    code = ("import sys; import graphcrawl.cli, reports.api, reports.serve.links, reports.serve.metadata, "
            "reports.serve.server; print('datasette' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
