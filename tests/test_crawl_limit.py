"""`crawl --limit N` end to end: fake GitHub search -> clone -> scan -> validate."""
from __future__ import annotations

import os
from pathlib import Path

from db.store import Store
from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.gitfixtures import make_bare, make_repo
from tests.github_server import SearchServer, make_population

MODULE = '''
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, in_features=8):
        super().__init__()
        self.lin = nn.Linear(in_features, 4)

    def forward(self, x):
        return self.lin(x).relu()
'''


def test_limit_discovers_clones_and_validates_the_most_starred(tmp_path: Path, session_workdir: Path) -> None:
    population = make_population(seed=3, n_bulk=60, n_tie=0, n_low={}, n_below=5, fork_rate=0.1,
                                 archived_rate=0.05, disabled_rate=0.0, huge_rate=0.0)
    valid = sorted((r for r in population if not r["fork"] and not r["archived"] and r["stargazers_count"] >= 10),
                   key=lambda r: (-r["stargazers_count"], r["full_name"].lower()))
    top = [r["full_name"] for r in valid[:3]]
    clone_root = tmp_path / "git"
    os.makedirs(clone_root)
    os.chmod(tmp_path, 0o755)
    for full in top:
        owner, name = full.split("/")
        src = make_repo(tmp_path / "src", name, {"net.py": MODULE})
        make_bare(src, clone_root / owner / f"{name}.git")
    db = tmp_path / "limit.db"
    with SearchServer(population, limit_anonymous=1000) as server:
        rc = main(["crawl", "--db", str(db), "--limit", "3", "--api-base", server.url,
                   "--clone-base", clone_root.as_uri(), "--workdir", str(session_workdir),
                   "--backend", "eager", "--delete-checkouts", "--no-progress", *sandbox_flags()])
        assert server.violations == 0
    assert rc == 0
    with Store(db, readonly=True) as store:
        scanned = {r["id"]: r for r in store.repos("status = 'scanned'")}
        assert sorted(scanned) == sorted(top)
        assert all(r["stars"] and r["source"] == "search" and len(r["sha"]) == 40 for r in scanned.values())
        assert store.result_counts(store.latest_run_id()) == {"pass": 3}
        # --delete-checkouts: the checkout is gone once validated, its sha stays for a re-clone
        assert not any(Path(r["checkout_path"]).exists() for r in scanned.values())
