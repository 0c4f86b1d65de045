"""Ray stays optional: the local path never imports it, and --executor ray without it says what to install."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import sandbox_flags
from tests.gitfixtures import make_repo

ROOT = Path(__file__).resolve().parent.parent


def test_the_cli_and_the_local_executor_do_not_import_ray() -> None:
    code = ("import sys; import graphcrawl.cli, crawler.driver, crawler.executors.local, "
            "crawler.executors.ray_node, db.merge; print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_executor_ray_without_ray_is_one_line_with_the_install_hint(tmp_path: Path) -> None:
    broken = tmp_path / "site" / "ray"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('No module named ray')\n")  # Ray not installed
    os.chmod(tmp_path, 0o755)
    repo = make_repo(tmp_path, "r", {"m.py": "import torch.nn as nn\n\nclass M(nn.Module):\n    pass\n"})
    out = subprocess.run(
        [sys.executable, "-m", "graphcrawl.cli", "crawl", "--db", str(tmp_path / "g.db"), "--repo", repo.as_uri(),
         "--workdir", str(tmp_path / "w"), "--executor", "ray", "--no-progress", *sandbox_flags()],
        capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=f"{tmp_path / 'site'}:{ROOT}"))
    assert out.returncode == 2
    err = out.stderr.strip().splitlines()
    assert err[-1] == "graphcrawl: error: --executor ray needs Ray: pip install 'graphcrawl[ray]' (or pip install ray)"
    assert "Traceback" not in out.stderr
