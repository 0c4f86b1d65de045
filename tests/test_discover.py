"""Discovery against a real HTTP GitHub-search double on 127.0.0.1 (never GitHub itself).

Most tests share a FakeClock between client and server: the client's injected
`sleep` advances it, so minute-long rate-limit windows cost no real time while
the server still enforces them and counts every violation.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from crawler.discover import DiscoveryError, discover
from crawler.github_api import AuthError, GitHubClient, GitHubError, IncompleteResults, parse_link_header
from db.store import Store
from tests.github_server import FakeClock, SearchServer, make_population

TOKEN = "ghp_test_token"
MAX_KB = 500_000
ROOT = Path(__file__).resolve().parents[1]


class Killed(Exception):
    """Stands in for a kill: raised from the progress callback mid-discovery."""


@pytest.fixture(scope="module")
def population() -> list[dict[str, Any]]:
    return make_population()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(population: list[dict[str, Any]], clock: FakeClock):  # type: ignore[no-untyped-def]
    with SearchServer(population, clock=clock.time, forks_by_default=True, token=TOKEN) as srv:
        yield srv


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Store(tmp_path / "discover.db") as s:
        yield s


def run(store: Store, server: SearchServer, clock: FakeClock, **kw: Any) -> list[dict[str, Any]]:
    args: dict[str, Any] = dict(api_base=server.url, limit=7000, max_size_kb=MAX_KB, token=TOKEN,
                                sleep=clock.sleep, clock=clock.time)
    args.update(kw)
    return discover(store, **args)


def finished_queries(store: Store) -> set[str]:
    return {r["query"] for r in store.db["discovery_slices"].rows if r.get("state") == "done"}


# -- the whole discovery ---------------------------------------------------------
def test_limit_7000_is_exactly_the_top_7000(store: Store, server: SearchServer, clock: FakeClock) -> None:
    truth = server.ground_truth(limit=7000, max_size_kb=MAX_KB)
    stars = {r["full_name"]: r["stargazers_count"] for r in server.population}
    boundary = stars[truth[-1]]
    # the population really forces date slicing and a tie at the boundary
    assert sum(1 for r in server.population if r["stargazers_count"] == boundary) > 1000
    assert stars[server.ground_truth(limit=7001, max_size_kb=MAX_KB)[-1]] == boundary
    server.inject_secondary(at=5, retry_after=45)
    server.inject_incomplete(12)
    server.inject_error(at=20, status=502)
    events: list[tuple[str, dict[str, Any]]] = []

    repos = run(store, server, clock, on_event=lambda kind, **info: events.append((kind, info)))

    assert [r["id"] for r in repos] == truth
    assert [r["stars"] for r in repos] == sorted((r["stars"] for r in repos), reverse=True)
    # the rate limit: enforced by the server, never exceeded by the client
    assert server.violations == 0
    assert server.max_in_window <= 30
    assert all(e["status"] != 422 for e in server.log)  # never asked beyond the first 1,000
    # injected trouble happened and was handled
    statuses = Counter(e["status"] for e in server.log)
    assert statuses[403] == 1 and statuses[502] == 1
    blocked_at = server.log[4]["t"]
    assert server.log[5]["t"] >= blocked_at + 45
    assert (server.log[12]["q"], server.log[12]["page"]) == (server.log[11]["q"], server.log[11]["page"])
    reasons = Counter(info["reason"] for kind, info in events if kind == "wait")
    assert reasons["secondary rate limit (Retry-After)"] == 1
    assert reasons["incomplete results"] == 1
    assert reasons["server error 502"] == 1
    assert reasons["rate limit"] >= 2
    assert all(s > 0 for s in clock.sleeps) and len(clock.sleeps) == sum(reasons.values())
    # slices: every fetched one under the cap, the one star value over it cut by date
    rows = list(store.db["discovery_slices"].rows)
    assert all(r["total"] <= 1000 for r in rows if r["state"] == "done")
    split = [r for r in rows if r["state"] == "split"]
    assert split and all(r["total"] > 1000 for r in split)
    members = [rid for r in store.discovery_slices(rows[0]["discovery"]) for rid in r["repo_ids"]]
    assert len(members) == len(set(members)) >= 7000  # slices neither overlap nor lose repos
    assert set(truth) <= set(members)
    dated = [q for q in server.queries() if "created:" in q]
    assert dated and all(f"stars:{boundary} " in q for q in dated)
    # filtering
    done = [info for kind, info in events if kind == "discovered"][-1]
    assert set(done["skipped"]) == {"fork", "archived", "disabled", "too_large"}
    assert done["count"] == 7000 and done["requests"] == len(server.log)
    # the records
    first = repos[0]
    source = next(r for r in server.population if r["full_name"] == first["id"])
    assert first["url"] == source["clone_url"]
    assert first["license"] == (source["license"] or {}).get("spdx_id")
    assert first["topics"] == source["topics"] and first["size_kb"] == source["size"]
    assert first["source"] == "search" and first["discovered_at"]
    assert first["default_branch"] == source["default_branch"] and first["created_at"] == source["created_at"]
    assert store.repo(first["id"])["status"] == "discovered"
    # the token went only into a header
    assert all(e["auth"] for e in server.log)
    store.db.conn.execute("PRAGMA wal_checkpoint(FULL)")
    for path in Path(store.path).parent.glob(Path(store.path).name + "*"):
        assert TOKEN.encode() not in path.read_bytes()
    assert TOKEN not in repr(events)


def test_rerun_fetches_nothing_and_a_larger_limit_continues(store: Store, server: SearchServer,
                                                             clock: FakeClock) -> None:
    first = run(store, server, clock)
    before = len(server.log)
    done_before = finished_queries(store)

    again = run(store, server, clock)
    assert again == first and len(server.log) == before

    everything = run(store, server, clock, limit=None)
    assert [r["id"] for r in everything] == server.ground_truth(max_size_kb=MAX_KB)
    assert not done_before & set(server.queries(since=before))
    assert server.violations == 0


def test_small_limit_stops_early_with_exact_ties(store: Store, server: SearchServer, clock: FakeClock) -> None:
    repos = run(store, server, clock, limit=250)
    assert [r["id"] for r in repos] == server.ground_truth(limit=250, max_size_kb=MAX_KB)
    assert len(server.log) <= 6


def test_a_lagging_sort_order_only_costs_requests(store: Store, population: list[dict[str, Any]],
                                                  clock: FakeClock) -> None:
    """Sort order only guides the slicing: slices found over the cap are split again."""
    with SearchServer(population, clock=clock.time, forks_by_default=True, token=TOKEN, sort_noise=0.3) as srv:
        events: list[tuple[str, dict[str, Any]]] = []
        repos = run(store, srv, clock, limit=None, on_event=lambda kind, **info: events.append((kind, info)))
        assert [r["id"] for r in repos] == srv.ground_truth(max_size_kb=MAX_KB)
        assert any(info["by"] == "stars" for kind, info in events if kind == "split")
        assert srv.violations == 0


@pytest.mark.parametrize("kill_after_pages", [15, 78])
def test_killed_discovery_resumes_to_the_same_set(store: Store, server: SearchServer, clock: FakeClock,
                                                  kill_after_pages: int) -> None:
    pages = 0

    def killer(kind: str, **info: Any) -> None:
        nonlocal pages
        pages += kind == "page"
        if pages == kill_after_pages:
            raise Killed

    with pytest.raises(Killed):
        run(store, server, clock, on_event=killer)
    before = len(server.log)
    done = finished_queries(store)
    partial = {r["query"]: r["done"] for r in store.db["discovery_slices"].rows if r["state"] == "partial"}
    assert done

    repos = run(store, server, clock)

    assert [r["id"] for r in repos] == server.ground_truth(limit=7000, max_size_kb=MAX_KB)
    resumed = server.log[before:]
    assert not done & {e["q"] for e in resumed}  # finished slices are not fetched again
    for q, pages_done in partial.items():  # a partial slice continues at its next page
        assert min(int(e["page"]) for e in resumed if e["q"] == q) == pages_done + 1
    assert server.violations == 0


def test_sigkilled_discovery_resumes_to_the_same_set(tmp_path: Path, population: list[dict[str, Any]]) -> None:
    """A real kill -9 of a discovery process, then a resume in this one (real clock, large budget)."""
    db = tmp_path / "killed.db"
    with SearchServer(population, forks_by_default=True, token=TOKEN, limit_authenticated=100_000) as srv:
        code = textwrap.dedent(f"""
            from crawler.discover import discover
            from db.store import Store
            discover(Store({str(db)!r}), api_base={srv.url!r}, limit=7000, max_size_kb={MAX_KB}, token={TOKEN!r})
        """)
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
        deadline = time.monotonic() + 30
        while len(srv.log) < 30 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        killed_at = len(srv.log)
        with Store(db) as store:
            assert store.integrity_ok()
            done = finished_queries(store)
            assert done
            repos = discover(store, api_base=srv.url, limit=7000, max_size_kb=MAX_KB, token=TOKEN)
        assert [r["id"] for r in repos] == srv.ground_truth(limit=7000, max_size_kb=MAX_KB)
        assert not done & set(srv.queries(since=killed_at))


def test_real_clock_rate_limit_is_waited_out(tmp_path: Path) -> None:
    """No fakes: time.sleep, 1-second windows of 2 anonymous requests, enforced by the server.

    8 requests at 2 a window need 4 windows: unless each request took over 0.4 s,
    the client must have waited for a reset."""
    pop = make_population(seed=3, n_bulk=700, n_tie=0, n_low={}, n_below=0)
    events: list[tuple[str, dict[str, Any]]] = []

    def on_event(kind: str, **info: Any) -> None:
        events.append((kind, info))

    with SearchServer(pop, window_s=1.0, limit_anonymous=2) as srv, Store(tmp_path / "rt.db") as store:
        client = GitHubClient(srv.url, reset_margin_s=0.1, on_event=on_event)  # real sleep and clock
        start = time.monotonic()
        repos = discover(store, min_stars=13, client=client, on_event=on_event)
        elapsed = time.monotonic() - start
        assert [r["id"] for r in repos] == srv.ground_truth(min_stars=13)
        assert srv.violations == 0 and len(srv.log) == 8
        assert not any(e["auth"] for e in srv.log)
    waits = [info for kind, info in events if kind == "wait"]
    assert waits and all(w["reason"] == "rate limit" for w in waits)
    assert elapsed >= sum(w["seconds"] for w in waits) * 0.9


# -- the client on its own -------------------------------------------------------
def client_for(server: SearchServer, clock: FakeClock, **kw: Any) -> GitHubClient:
    args: dict[str, Any] = dict(token=TOKEN, sleep=clock.sleep, clock=clock.time)
    args.update(kw)
    return GitHubClient(server.url, **args)


def test_retry_after_is_honoured(server: SearchServer, clock: FakeClock) -> None:
    server.inject_secondary(at=1, retry_after=30)
    page = client_for(server, clock).search_repositories("pytorch stars:>=100")
    assert page.items and clock.sleeps == [30.0]
    assert server.violations == 0 and server.log[1]["t"] - server.log[0]["t"] >= 30


def test_incomplete_results_are_retried_a_bounded_number_of_times(server: SearchServer, clock: FakeClock) -> None:
    server.inject_incomplete(1)
    page = client_for(server, clock).search_repositories("pytorch stars:>=100")
    assert len(page.items) == 100 and len(server.log) == 2
    server.inject_incomplete(3, 4, 5, 6, 7, 8)
    with pytest.raises(IncompleteResults):
        client_for(server, clock, incomplete_retries=3).search_repositories("pytorch stars:>=100")
    assert len(server.log) == 6


def test_server_errors_back_off_exponentially_with_jitter(server: SearchServer, clock: FakeClock) -> None:
    for n in (1, 2, 3):
        server.inject_error(at=n, status=502)
    client_for(server, clock).search_repositories("pytorch stars:>=100")
    assert len(clock.sleeps) == 3
    for attempt, slept in enumerate(clock.sleeps, start=1):
        assert 2 ** (attempt - 2) <= slept <= 2 ** (attempt - 1)
    for n in range(5, 9):
        server.inject_error(at=n, status=503)
    with pytest.raises(GitHubError) as err:
        client_for(server, clock, max_retries=3).search_repositories("pytorch stars:>=100")
    assert err.value.status == 503


def test_primary_limit_waits_for_reset_without_busy_looping(population: list[dict[str, Any]],
                                                            clock: FakeClock) -> None:
    with SearchServer(population, clock=clock.time, token=TOKEN, limit_authenticated=3) as srv:
        client = client_for(srv, clock)
        for page in range(1, 11):
            client.search_repositories("pytorch stars:>=50", page=page)
        assert srv.violations == 0 and len(srv.log) == 10
        assert len(clock.sleeps) == 3 and all(0 < s <= 61 for s in clock.sleeps)
        assert client.rate_state().limit == 3


def test_bad_token_is_an_auth_error_that_does_not_leak_it(server: SearchServer, clock: FakeClock) -> None:
    client = client_for(server, clock, token="ghp_wrong_secret")
    with pytest.raises(AuthError) as err:
        client.search_repositories("pytorch")
    assert "ghp_wrong_secret" not in str(err.value) and "ghp_wrong_secret" not in repr(client)
    assert len(server.log) == 1  # not retried


def test_search_beyond_the_first_1000_is_refused(server: SearchServer, clock: FakeClock) -> None:
    with pytest.raises(GitHubError) as err:
        client_for(server, clock).search_repositories("pytorch", page=11)
    assert err.value.status == 422 and "first 1000" in str(err.value)


def test_link_header_pagination(server: SearchServer, clock: FakeClock) -> None:
    client = client_for(server, clock)
    page = client.search_repositories("pytorch stars:>=100", page=2)
    assert page.next_page == 3 and page.last_page and page.last_page >= 3
    assert page.total_count > 200
    last = client.search_repositories("pytorch stars:>=100", page=page.last_page)
    assert last.next_page is None
    assert parse_link_header('<https://x/a?page=2>; rel="next", <https://x/a?page=9>; rel="last"') == {
        "next": "https://x/a?page=2", "last": "https://x/a?page=9"}


def test_query_may_not_fight_the_slicing(store: Store) -> None:
    with pytest.raises(DiscoveryError):
        discover(store, api_base="http://127.0.0.1:9", query="pytorch stars:>5")
