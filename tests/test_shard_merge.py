"""`crawl --shard i/n` + `merge`: two shards merged equal one unsharded crawl."""
from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from crawler.repo_ref import parse_repo
from crawler.shard import in_shard, parse_shard, shard_of
from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.gitfixtures import make_repo

MODULE = '''
import torch.nn as nn


class Net{i}(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return self.lin(x)


class Broken{i}(nn.Module):
    def forward(self, x):
        raise ValueError("no")
'''
NAMES = ["alpha", "bravo", "charlie", "delta"]


def test_shards_are_stable_disjoint_and_cover() -> None:
    ids = [f"owner{i}/repo{i}" for i in range(400)]
    shards = [[i for i in ids if in_shard(i, (k, 4))] for k in range(1, 5)]
    assert sorted(sum(shards, [])) == sorted(ids)  # each repo in exactly one shard
    assert all(60 < len(s) < 140 for s in shards)  # about a quarter each
    assert [shard_of(i, 4) for i in reversed(ids)] == [shard_of(i, 4) for i in ids][::-1]
    assert parse_shard("3/16") == (3, 16)
    for bad in ("0/4", "5/4", "x", "1/0", "2"):
        with pytest.raises(ValueError):
            parse_shard(bad)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("shardrepos")
    os.chmod(root, 0o755)
    # A local repo's id carries a hash of its real path, which differs per tmp dir: four fixed names
    # all fell in one shard one run in eight. Take repos until both shards hold one, from the real ids.
    repos: list[Path] = []
    for n in itertools.count():
        name = NAMES[n] if n < len(NAMES) else f"extra{n}"
        repos.append(make_repo(root, name, {"m.py": MODULE.format(i=n)}))
        if len(repos) >= len(NAMES) and {shard_of(parse_repo(r.as_uri()).id, 2) for r in repos} == {1, 2}:
            break
    assert {shard_of(parse_repo(r.as_uri()).id, 2) for r in repos} == {1, 2}  # both shards get repos
    work = tmp_path_factory.mktemp("shardwork")
    out: dict[str, Path] = {}
    for label, extra in (("one", []), ("s1", ["--shard", "1/2"]), ("s2", ["--shard", "2/2"])):
        out[label] = work / f"{label}.db"
        args = ["crawl", "--db", str(out[label]), "--workdir", str(work / "w"), "--backend", "eager",
                "--workers", "1", "--no-progress", *sandbox_flags(), *extra]
        for r in repos:
            args += ["--repo", r.as_uri()]
        assert main(args) == 0
    return out


def _statuses(db: Path) -> dict[str, str]:
    return dict(sqlite3.connect(db).execute("select case_id, status from results"))


def test_two_shards_merged_equal_one_unsharded_crawl(crawled: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    s1, s2 = _statuses(crawled["s1"]), _statuses(crawled["s2"])
    assert s1 and s2 and not set(s1) & set(s2)
    merged = tmp_path / "all.db"
    assert main(["merge", str(crawled["s1"]), str(crawled["s2"]), "--db", str(merged)]) == 0
    assert _statuses(merged) == _statuses(crawled["one"])
    assert sorted(set(_statuses(merged).values())) == ["eager_failed", "pass"]
    conn, one = sqlite3.connect(merged), sqlite3.connect(crawled["one"])
    for table, key in (("repos", "id, sha, status"), ("modules", "id"), ("cases", "id, spec is null")):
        assert sorted(conn.execute(f"select {key} from {table}")) == sorted(one.execute(f"select {key} from {table}"))
    assert [r[0] for r in conn.execute("select id from runs")] == [r[0] for r in one.execute("select id from runs")]
    # Merging again changes nothing (same keys, same facts).
    before = conn.execute("select count(*) from results").fetchone()
    assert main(["merge", str(crawled["s1"]), "--db", str(merged)]) == 0
    assert conn.execute("select count(*) from results").fetchone() == before


def test_a_conflicting_duplicate_is_refused_in_one_line(crawled: dict[str, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    merged = tmp_path / "all.db"
    shutil.copy(crawled["s1"], merged)
    other = tmp_path / "other.db"
    shutil.copy(crawled["s1"], other)
    with sqlite3.connect(other) as c:
        case = c.execute("select case_id from results where status = 'pass' limit 1").fetchone()[0]
        c.execute("update results set status = 'crash' where case_id = ?", [case])
        c.execute("insert into repos (id, url, status) values ('x/new', 'file:///nowhere', 'discovered')")
    capsys.readouterr()
    assert main(["merge", str(other), "--db", str(merged)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "refusing to merge" in err and "crash" in err and case in err
    assert sqlite3.connect(merged).execute("select count(*) from repos where id = 'x/new'").fetchone()[0] == 0


def test_merge_of_a_file_that_is_not_a_database_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite")
    assert main(["merge", str(junk), "--db", str(tmp_path / "all.db")]) == 2
    assert "not a graphcrawl" in capsys.readouterr().err
