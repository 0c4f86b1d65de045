"""Turn what a user types (owner/name, a URL, a local path) into a repo id and a clone URL.

The id is the repo's identity in the database and names its checkout
directory, so it must be stable and filesystem-safe; the URL is what git is
given. Local repositories get ids under `local/` so that they never collide
with a GitHub `owner/name`, and carry a short hash of the directory's real
path, `local/<folder>-<8 hex>`, so two repositories in folders of the same
name get two ids while the same directory, however it is written (relative,
absolute, through a symlink, as file://, or its .git directory), gets one.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["RepoRef", "parse_repo", "read_repos_file"]

_PART = re.compile(r"^[A-Za-z0-9_.-]+$")
_SHORTHAND = re.compile(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)$")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9_.+-]+@[A-Za-z0-9_.-]+:(?!//)(.+)$")  # git@github.com:owner/name.git
_REMOTE_SCHEMES = {"http", "https", "ssh", "git", "git+ssh", "ssh+git"}


@dataclass(frozen=True)
class RepoRef:
    """A repository as the crawl knows it: a stable id and the URL to clone it from."""

    id: str
    url: str


def parse_repo(spec: str, clone_base: str = "https://github.com") -> RepoRef:
    """Parse one repo spec; raise ValueError saying what was expected when it is none of them.

    Forms: `owner/name` (cloned from `clone_base`), an http(s)/ssh/git URL or an
    scp-like `user@host:owner/name.git` (id from the last two path parts, URL
    kept as given), a `file://` URL or an existing local directory (id
    `local/<name>-<hash of its real path>`, URL a `file://` URL of its absolute path, so git makes a
    real shallow clone instead of hard-linking a local path).
    """
    text = spec.strip()
    if not text:
        raise ValueError("empty repo spec: expected owner/name, a git URL or a local path")

    shorthand = _SHORTHAND.match(text)
    if shorthand and _ok_part(shorthand[1]) and _ok_part(_strip_git(shorthand[2])):
        if Path(text).exists():
            raise ValueError(f"{text!r} is both a GitHub owner/name and a local path: write ./{text} for the "
                             f"local directory or {clone_base.rstrip('/')}/{text} for the remote one")
        owner, name = shorthand[1], _strip_git(shorthand[2])
        return RepoRef(f"{owner}/{name}", f"{clone_base.rstrip('/')}/{owner}/{name}.git")

    scp = _SCP_LIKE.match(text)
    if scp and "://" not in text:
        return RepoRef(_id_from_path(scp[1], text), text)

    parsed = urlparse(text)
    scheme = parsed.scheme.lower()
    if scheme in _REMOTE_SCHEMES:
        if not parsed.netloc:
            raise ValueError(f"{text!r}: a {scheme} URL needs a host")
        host = (parsed.hostname or "").lower()
        parts = [p for p in parsed.path.split("/") if p]
        if host in ("github.com", "www.github.com") and len(parts) != 2:
            raise ValueError(f"{text!r}: a GitHub URL must be https://github.com/owner/name "
                             "(no /tree/<branch> or other extra path)")
        return RepoRef(_id_from_path(parsed.path, text), text)
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"{text!r}: a file:// URL must be local (file:///abs/path)")
        return _local_ref(Path(unquote(parsed.path)), text, must_exist=False)
    if scheme and len(scheme) > 1:  # one letter could be a Windows drive; anything else is a scheme we don't clone
        raise ValueError(f"{text!r}: unsupported URL scheme {scheme!r} (use https, http, ssh, git or file)")

    path = Path(os.path.expanduser(text))
    if path.is_dir():
        return _local_ref(path, text, must_exist=True)
    raise ValueError(f"{text!r} is not owner/name, a git URL (https, http, ssh, git, file) "
                     "or an existing local directory")


def read_repos_file(path: str | os.PathLike[str]) -> list[str]:
    """Specs from a file, one per line; blank lines, `#` lines and trailing ` # comments` are skipped."""
    specs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = re.split(r"\s#", line, maxsplit=1)[0].strip()
        if line and not line.startswith("#"):
            specs.append(line)
    return specs


def _strip_git(name: str) -> str:
    return name[: -len(".git")] if name.endswith(".git") else name


def _ok_part(part: str) -> bool:
    return bool(_PART.match(part)) and part not in (".", "..")


def _id_from_path(path: str, spec: str) -> str:
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2:
        raise ValueError(f"{spec!r}: the URL path must end in owner/name")
    owner, name = parts[-2], _strip_git(parts[-1])
    if not (_ok_part(owner) and _ok_part(name)):
        raise ValueError(f"{spec!r}: {owner}/{name} is not a valid owner/name "
                         "(letters, digits, '.', '_' and '-' only)")
    return f"{owner}/{name}"


def _local_ref(path: Path, spec: str, *, must_exist: bool) -> RepoRef:
    absolute = Path(os.path.abspath(path))
    if must_exist and not absolute.exists():
        raise ValueError(f"{spec!r}: no such directory")
    real = Path(os.path.realpath(absolute))
    tree = real.parent if real.name == ".git" else real  # a working tree's .git: the tree
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", _strip_git(tree.name)).strip("-.") or "repo"
    return RepoRef(f"local/{name}-{local_hash(tree)}", absolute.as_uri())


def local_hash(path: Path) -> str:
    """8 hex digits of the directory's real path: stable for one directory on one machine."""
    real = os.path.realpath(path)
    return hashlib.sha1(real.encode("utf-8", "surrogateescape")).hexdigest()[:8]
