"""crawler.repo_ref: every way a user names a repository, and the ones that are refused."""
from __future__ import annotations

from pathlib import Path

import pytest

from crawler.repo_ref import RepoRef, local_hash, parse_repo, read_repos_file
from tests.gitfixtures import make_bare, make_repo


@pytest.mark.parametrize("spec,expected", [
    ("pytorch/vision", RepoRef("pytorch/vision", "https://github.com/pytorch/vision.git")),
    ("  huggingface/pytorch-image-models.git \n",
     RepoRef("huggingface/pytorch-image-models", "https://github.com/huggingface/pytorch-image-models.git")),
    ("https://github.com/owner/name", RepoRef("owner/name", "https://github.com/owner/name")),
    ("https://github.com/owner/name.git", RepoRef("owner/name", "https://github.com/owner/name.git")),
    ("https://github.com/owner/name/", RepoRef("owner/name", "https://github.com/owner/name/")),
    ("http://127.0.0.1:8080/git/owner/name.git", RepoRef("owner/name", "http://127.0.0.1:8080/git/owner/name.git")),
    ("https://gitlab.com/group/sub/name.git", RepoRef("sub/name", "https://gitlab.com/group/sub/name.git")),
    ("ssh://git@github.com/owner/name.git", RepoRef("owner/name", "ssh://git@github.com/owner/name.git")),
    ("git://example.org/owner/name", RepoRef("owner/name", "git://example.org/owner/name")),
    ("git@github.com:owner/name.git", RepoRef("owner/name", "git@github.com:owner/name.git")),
])
def test_remote_specs(spec: str, expected: RepoRef) -> None:
    assert parse_repo(spec) == expected


def test_shorthand_uses_the_clone_base() -> None:
    assert parse_repo("a/b", "http://127.0.0.1:9/mirror/") == RepoRef("a/b", "http://127.0.0.1:9/mirror/a/b.git")


def test_local_paths_and_file_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path, "my zoo", {"a.py": "x = 1\n"})
    bare = make_bare(repo, tmp_path / "srv" / "zoo.git")
    tree_id, bare_id = f"local/my-zoo-{local_hash(repo)}", f"local/zoo-{local_hash(bare)}"
    assert parse_repo(str(repo)) == RepoRef(tree_id, repo.as_uri())
    assert parse_repo(bare.as_uri()) == RepoRef(bare_id, bare.as_uri())
    assert parse_repo(str(repo / ".git")) == RepoRef(tree_id, (repo / ".git").as_uri())
    monkeypatch.chdir(tmp_path / "srv")
    assert parse_repo("zoo.git") == RepoRef(bare_id, bare.as_uri())
    assert parse_repo("./zoo.git/") == RepoRef(bare_id, bare.as_uri())
    assert parse_repo("../my zoo") == RepoRef(tree_id, repo.as_uri())
    # A file:// URL is explicit: a missing repo is the clone's not_found, not a parse error.
    missing = parse_repo("file:///no/such/thing.git")
    assert missing == RepoRef(f"local/thing-{local_hash(Path('/no/such/thing.git'))}", "file:///no/such/thing.git")


def test_local_repos_in_folders_of_the_same_name_get_distinct_stable_ids(tmp_path: Path) -> None:
    one = make_repo(tmp_path / "team-a", "model", {"a.py": "x = 1\n"})
    two = make_repo(tmp_path / "team-b", "model", {"b.py": "y = 2\n"})
    ids = {parse_repo(str(one)).id, parse_repo(str(two)).id, parse_repo(two.as_uri()).id}
    assert len(ids) == 2 and all(i.startswith("local/model-") for i in ids)
    assert parse_repo(str(one)).id == parse_repo(str(one)).id == parse_repo(one.as_uri()).id
    link = tmp_path / "link"
    link.symlink_to(one)
    assert parse_repo(str(link)).id == parse_repo(str(one)).id     # one directory, one id


def test_owner_name_that_is_also_a_local_dir_is_ambiguous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "owner" / "name").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="./owner/name"):
        parse_repo("owner/name")
    assert parse_repo("./owner/name").id == f"local/name-{local_hash(tmp_path / 'owner' / 'name')}"


@pytest.mark.parametrize("spec,message", [
    ("", "empty"),
    ("just-a-word", "not owner/name"),
    ("a/b/c", "not owner/name"),
    ("ftp://host/owner/name", "unsupported URL scheme"),
    ("https://github.com/owner/name/tree/main", "no /tree/"),
    ("https://github.com/owner", "must be"),
    ("https://example.org/name.git", "must end in owner/name"),
    ("https://example.org/a/b%20c", "not a valid owner/name"),
    ("file://otherhost/x/y", "must be local"),
    ("https:///owner/name", "needs a host"),
])
def test_bad_specs_are_refused_with_a_reason(spec: str, message: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message):
        parse_repo(spec)


def test_repos_file_skips_blanks_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "repos.txt"
    path.write_text("# my list\n\npytorch/vision\n  https://github.com/a/b.git   # trailing note\n"
                    "   # indented comment\nfile:///x/y\n")
    assert read_repos_file(path) == ["pytorch/vision", "https://github.com/a/b.git", "file:///x/y"]
    assert [parse_repo(s).id for s in read_repos_file(path)] == ["pytorch/vision", "a/b",
                                                                 f"local/y-{local_hash(Path('/x/y'))}"]


def test_a_database_made_before_hashed_local_ids_keeps_its_ids(tmp_path: Path) -> None:
    from crawler.config import CrawlConfig
    from crawler.driver import Crawl
    from db.store import Store
    repo = make_repo(tmp_path, "zoo", {"a.py": "x = 1\n"})
    with Store(tmp_path / "old.db") as store:
        store.upsert_repo({"id": "local/zoo", "url": repo.as_uri(), "owner": "local", "name": "zoo"})
        crawl = Crawl(CrawlConfig(db_path=tmp_path / "old.db", workdir=tmp_path / "w"), store)
        assert crawl.add_repos([str(repo)]) == ["local/zoo"]          # same URL: the stored id
        other = make_repo(tmp_path / "elsewhere", "zoo", {"b.py": "y = 2\n"})
        assert crawl.add_repos([str(other)]) == [parse_repo(str(other)).id]
        assert len(store.repos()) == 2
