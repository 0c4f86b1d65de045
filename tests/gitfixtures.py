"""Build real git repositories for tests: files in, a committed repo out.

Tests of cloning and scanning run against real repos (never mocks of git);
fixed identities and dates keep commit shas stable from run to run.
"""
from __future__ import annotations

import os
from pathlib import Path

import git

ACTOR = git.Actor("graphcrawl fixtures", "fixtures@graphcrawl.invalid")
DATE = "2024-01-01T00:00:00+0000"


def make_repo(root: Path, name: str, files: dict[str, str | bytes]) -> Path:
    """git-init `root/name`, write `files` ({relpath: text or bytes}), commit them; return the repo dir."""
    path = Path(root) / name
    path.mkdir(parents=True)
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", ACTOR.name)
        cfg.set_value("user", "email", ACTOR.email)
    for rel, content in files.items():
        dest = path / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            dest.write_bytes(content)
        else:
            dest.write_text(content, encoding="utf-8")
    if files:
        repo.index.add(list(files))
    commit(repo, "fixture")
    os.chmod(path, 0o755)
    return path


def commit(repo: git.Repo | Path, message: str) -> str:
    """Commit what is staged (all changes to tracked files too) with the fixed identity; return the sha."""
    repo = repo if isinstance(repo, git.Repo) else git.Repo(repo)
    repo.git.add(A=True)
    return repo.index.commit(message, author=ACTOR, committer=ACTOR,
                             author_date=DATE, commit_date=DATE).hexsha


def make_bare(src: Path, dest: Path) -> Path:
    """A bare clone of `src` at `dest` (name it `something.git`), like a server-side repository."""
    git.Repo(src).clone(str(dest), bare=True)
    return Path(dest)
