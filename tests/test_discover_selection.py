"""A `--limit N` crawl keeps every repo its discovery saw, but the repo funnel counts only
the N it selected (repos.selected); a real crawl through the CLI against the fake GitHub."""
from __future__ import annotations

import os
from pathlib import Path

from db.store import Store
from graphcrawl.cli import main
from reports.scope import open_scope
from reports.summary import build_report
from tests.conftest import sandbox_flags
from tests.gitfixtures import make_bare, make_repo
from tests.github_server import SearchServer, make_population
from tests.test_crawl_limit import MODULE


def test_funnel_counts_only_the_selected_repos(tmp_path: Path, session_workdir: Path, capsys) -> None:
    population = make_population(seed=5, n_bulk=60, n_tie=0, n_low={}, n_below=5, fork_rate=0.0,
                                 archived_rate=0.0, disabled_rate=0.0, huge_rate=0.0)
    valid = sorted((r for r in population if r["stargazers_count"] >= 10),
                   key=lambda r: (-r["stargazers_count"], r["full_name"].lower()))
    top = [r["full_name"] for r in valid[:2]]
    clone_root = tmp_path / "git"
    os.makedirs(clone_root)
    os.chmod(tmp_path, 0o755)
    for full in top:
        owner, name = full.split("/")
        make_bare(make_repo(tmp_path / "src", name, {"net.py": MODULE}), clone_root / owner / f"{name}.git")
    db = tmp_path / "sel.db"
    with SearchServer(population, limit_anonymous=1000) as server:
        assert main(["crawl", "--db", str(db), "--limit", "2", "--api-base", server.url, "--clone-base",
                     clone_root.as_uri(), "--workdir", str(session_workdir), "--backend", "eager",
                     "--workers", "1", "--no-progress", *sandbox_flags()]) == 0
    with Store(db, readonly=True) as store:
        stored = store.repos()
        assert len(stored) > 2                                    # the whole slice walked is kept
        assert sorted(r["id"] for r in stored if r["selected"] == 1) == sorted(top)
    with open_scope(db) as scope:
        data = build_report(scope).as_dict()
    funnel = {r["status"]: r["count"] for r in data["repo_funnel"]}
    assert sum(funnel.values()) == 2 and funnel["scanned"] == 2 and funnel["discovered"] == 0
    assert data["repos_seen_not_selected"] == len(stored) - 2
    assert main(["report", "--db", str(db)]) == 0
    assert f"{len(stored) - 2:,} more repos were seen by discovery but not selected" in capsys.readouterr().out
