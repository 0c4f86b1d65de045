"""Bad input to graphcrawl itself: a clear status or message, and the crawl goes on."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import git
import pytest

from db.store import Store
from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.gitfixtures import make_repo

GOOD = '''
import torch.nn as nn


class Good(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return self.lin(x)
'''


def test_messy_repo_is_scanned_around_its_bad_files(tmp_path: Path, session_workdir: Path) -> None:
    os.chmod(tmp_path, 0o755)
    sub = make_repo(tmp_path, "dep", {"dep.py": "x = 1\n"})
    files = {
        "good.py": GOOD,
        "py2.py": "import torch.nn as nn\nclass Old(nn.Module):\n    def forward(self, x):\n        print 'hi'\n",
        "latin1.py": "import torch.nn as nn\n# caf\xe9\n".encode("latin-1"),
        "huge.py": "x = 1\n" * 600_000,
        "secrets.py": "",
    }
    repo = make_repo(tmp_path, "messy", files)
    (repo / "secrets.py").unlink()
    os.symlink("/etc/passwd", repo / "secrets.py")
    r = git.Repo(repo)
    r.git.add("secrets.py")
    r.git.execute(["git", "-c", "protocol.file.allow=always", "submodule", "add", sub.as_uri(), "vendor/dep"])
    r.git.commit("-m", "symlink and submodule")
    db = tmp_path / "messy.db"
    assert main(["crawl", "--db", str(db), "--repo", repo.as_uri(), "--workdir", str(session_workdir),
                 "--backend", "eager", "--no-progress", *sandbox_flags()]) == 0
    with Store(db, readonly=True) as store:
        (row,) = store.repos()
        assert row["status"] == "scanned" and row["module_count"] == 1
        assert "not scanned" in row["error"]
        assert store.result_counts(store.latest_run_id()) == {"pass": 1}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tiny tmpfs")
def test_full_disk_in_the_workdir_is_a_clone_status(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    small = make_repo(tmp_path, "small", {"good.py": GOOD})
    big = make_repo(tmp_path, "big", {"good.py": GOOD, "blob.bin": os.urandom(12 * 1024 * 1024)})
    work = tmp_path / "work"
    work.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(work)]).returncode != 0:
        pytest.skip("cannot mount tmpfs here")
    try:
        os.chmod(work, 0o755)
        db = tmp_path / "full.db"
        rc = main(["crawl", "--db", str(db), "--repo", big.as_uri(), "--repo", small.as_uri(), "--workdir",
                   str(work), "--min-free-mb", "1", "--backend", "eager", "--no-progress", *sandbox_flags()])
        with Store(db, readonly=True) as store:
            repos = {r["id"].rsplit("-", 1)[0]: r for r in store.repos()}  # local/<folder>-<hash>
            assert repos["local/big"]["status"] == "clone_failed"
            assert "disk" in repos["local/big"]["error"].lower() or "space" in repos["local/big"]["error"].lower()
            assert repos["local/small"]["status"] in ("scanned", "clone_failed")
        assert rc == 0
    finally:
        subprocess.run(["umount", "-l", str(work)])
