"""Discover the most-starred PyTorch projects on GitHub into the repos table.

Why slicing: one GitHub search returns at most 1,000 results, and a PyTorch
query matches tens of thousands. So the star axis is cut top-down into slices
of under 1,000 results each (`stars:A..B`), and a single star value that alone
has more than 1,000 results (common at low star counts) is cut by creation date
(`created:X..Y`, bisected). A slice is always a whole star range, so the N
most-starred repos are known exactly (ties broken by full name) as soon as the
slices cover N valid repos: a `limit` stops without enumerating the rest.

How a slice is chosen: ask for page P of `stars:MIN..H` (sorted by stars); the
star value v of its last item bounds the next slice `stars:v+1..H`, which has
fewer than 100*P results. Sort order only guides that choice: each slice's own
`total_count` is checked against the cap, and a slice found over it is split
again, so no repo is lost to an inconsistent sort.

Resume: every page is committed with its slice's progress; a re-run of the same
discovery reuses finished slices from the database, continues a partial one at
its next page, and ends with the same set.

Known limit: stars move while a discovery runs; a repo whose count crosses a
slice boundary between two queries can be seen twice (deduplicated) or missed.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

from crawler.github_api import MAX_PER_PAGE, SEARCH_CAP, EventFn, GitHubClient, SearchPage
from db.store import Store, now

DEFAULT_QUERY = "language:Python pytorch"
MAX_PAGES = SEARCH_CAP // MAX_PER_PAGE
DAY = 86400
GITHUB_START = int(dt.datetime(2007, 1, 1, tzinfo=dt.timezone.utc).timestamp())
RESERVED_QUALIFIERS = ("stars:", "created:", "sort:")
REPO_FIELDS = ("id", "url", "owner", "name", "stars", "license", "default_branch", "size_kb",
               "pushed_at", "created_at", "topics", "source", "discovered_at")


class DiscoveryError(ValueError):
    """The discovery cannot be run as asked (e.g. a query that fights the slicing)."""


@dataclass(frozen=True)
class Slice:
    """A star range, optionally narrowed to a creation-time range (epoch seconds, inclusive).

    `stars_hi` None: no upper bound. `created_lo` None: all of history.
    `created_hi` None: open-ended (repos created while discovery runs still fit).
    """

    stars_lo: int
    stars_hi: int | None
    created_lo: int | None = None
    created_hi: int | None = None

    def qualifiers(self) -> str:
        if self.stars_hi is None:
            stars = f"stars:>={self.stars_lo}"
        elif self.stars_lo == self.stars_hi:
            stars = f"stars:{self.stars_lo}"
        else:
            stars = f"stars:{self.stars_lo}..{self.stars_hi}"
        if self.created_lo is None:
            return stars
        return f"{stars} created:{_created_range(self.created_lo, self.created_hi)}"


def discover(store: Store, *, api_base: str = "https://api.github.com", query: str | None = None,
             min_stars: int = 10, limit: int | None = None, max_size_kb: int | None = None,
             token: str | None = None, on_event: EventFn | None = None,
             sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
             client: GitHubClient | None = None) -> list[dict[str, Any]]:
    """Record the `limit` most-starred matching repos (all if None); return them, stars desc.

    Forks, archived and disabled repos and repos over `max_size_kb` are skipped.
    Ties at the same star count are broken by full name, so the answer is a
    deterministic function of GitHub's data. `on_event(kind, **info)` receives
    "probe", "slice", "split", "page", "wait", "truncated" and a final
    "discovered". Re-running the same call resumes.
    """
    base = " ".join((query or DEFAULT_QUERY).split())
    lowered = base.lower()
    for qualifier in RESERVED_QUALIFIERS:
        if qualifier in lowered:
            raise DiscoveryError(f"the discovery query must not contain {qualifier!r}: discovery "
                                 "slices by stars and creation date itself (use min_stars)")
    emit: EventFn = on_event or (lambda kind, **info: None)
    if limit is not None and limit <= 0:
        emit("discovered", count=0, requests=0, skipped={})
        return []
    if client is None:
        client = GitHubClient(api_base, token, sleep=sleep, clock=clock, on_event=emit)
    run = _Discovery(store, client, base=base, min_stars=min_stars, max_size_kb=max_size_kb,
                     emit=emit, clock=clock)
    requests_before = client.requests
    run.collect(limit)
    repos = run.top(limit)
    mark_selected(store, [r["id"] for r in repos])
    emit("discovered", count=len(repos), requests=client.requests - requests_before, skipped=dict(run.skipped))
    return repos


def mark_selected(store: Store, repo_ids: list[str]) -> None:
    """Record that a crawl chose these repos (repos.selected = 1).

    Why: a `--limit N` discovery stores every repo it saw in the slices it
    walked (7,103 for N = 7,000) so that a resumed or larger discovery need not
    fetch them again; the repo funnel counts only the selected ones, or the
    extra repos would look like discovered-but-never-cloned.
    """
    for i in range(0, len(repo_ids), 500):
        chunk = repo_ids[i:i + 500]
        store.db.execute(f"update repos set selected = 1 where id in ({','.join('?' * len(chunk))})", chunk)


def discovery_key(base: str, min_stars: int, max_size_kb: int | None) -> str:
    """What makes two discoveries the same (and so able to share slices)."""
    return json.dumps({"q": base, "min_stars": min_stars, "max_size_kb": max_size_kb}, sort_keys=True)


def skip_reason(item: dict[str, Any], max_size_kb: int | None) -> str | None:
    """Why a search result is not a project to crawl, or None if it is."""
    if item.get("fork"):
        return "fork"
    if item.get("archived"):
        return "archived"
    if item.get("disabled"):
        return "disabled"
    if max_size_kb is not None and (item.get("size") or 0) > max_size_kb:
        return "too_large"
    return None


def repo_record(item: dict[str, Any], discovered_at: str) -> dict[str, Any]:
    """A search result as a repos-table row (the id is owner/name)."""
    full_name = item["full_name"]
    owner, _, name = full_name.partition("/")
    url = item.get("clone_url") or (item["html_url"].rstrip("/") + ".git")
    spdx = (item.get("license") or {}).get("spdx_id")
    return {
        "id": full_name, "url": url, "owner": owner, "name": name,
        "stars": int(item.get("stargazers_count") or 0), "license": spdx,
        "default_branch": item.get("default_branch"), "size_kb": item.get("size"),
        "pushed_at": item.get("pushed_at"), "created_at": item.get("created_at"),
        "topics": list(item.get("topics") or []), "fork": 0, "archived": 0,
        "source": "search", "discovered_at": discovered_at,
    }


class _Discovery:
    """The state of one discovery run: stored slices, repos found, the star cursor."""

    def __init__(self, store: Store, client: GitHubClient, *, base: str, min_stars: int,
                 max_size_kb: int | None, emit: EventFn, clock: Callable[[], float]) -> None:
        self.store, self.client, self.base = store, client, base
        self.min_stars, self.max_size_kb, self.emit, self.clock = min_stars, max_size_kb, emit, clock
        self.key = discovery_key(base, min_stars, max_size_kb)
        self.rows: dict[str, dict[str, Any]] = {r["query"]: r for r in store.discovery_slices(self.key)}
        self.found: dict[str, int] = {}          # full_name -> stars
        self.github_ids: set[int] = set()
        self.skipped: dict[str, int] = {}
        self.seen_items = 0
        self.kept_items = 0
        self.below_total: int | None = None      # total_count of stars:MIN..hi, when known
        self._prefetched: dict[tuple[str, int], SearchPage] = {}

    # -- the star cursor ----------------------------------------------------
    def collect(self, limit: int | None) -> None:
        """Walk down the star axis, one complete slice at a time, until `limit` repos are known."""
        hi: int | None = None
        while hi is None or hi >= self.min_stars:
            if limit is not None and len(self.found) >= limit:
                return
            need = None if limit is None else limit - len(self.found)
            sl = self._next_slice(hi, need)
            total = self._collect(sl, parent=None)
            if self.below_total is not None:
                self.below_total -= total
            hi = sl.stars_lo - 1

    def top(self, limit: int | None) -> list[dict[str, Any]]:
        """The found repos, stars desc then full name, as stored."""
        ids = sorted(self.found, key=lambda rid: (-self.found[rid], rid))[:limit]
        rows = self.store.repos_by_ids(ids)
        out = []
        for rid in ids:
            row = rows.get(rid) or {"id": rid}
            rec = {k: row.get(k) for k in REPO_FIELDS}
            rec["topics"] = json.loads(rec["topics"]) if isinstance(rec["topics"], str) else (rec["topics"] or [])
            out.append(rec)
        return out

    def _next_slice(self, hi: int | None, need: int | None) -> Slice:
        """The star range right below `hi` that has under 1,000 results (or one star value)."""
        row = self._top_row(hi)
        if row is not None:
            return _slice_of(row)
        pages = self._pages_wanted(need)
        whole = Slice(self.min_stars, hi)
        if self.below_total is not None and self.below_total <= pages * MAX_PER_PAGE:
            return whole
        q = self._q(whole)
        probe = self.client.search_repositories(q, page=pages, per_page=MAX_PER_PAGE)
        self.emit("probe", query=q, page=pages, total=probe.total_count)
        self.below_total = probe.total_count
        if probe.total_count <= pages * MAX_PER_PAGE or not probe.items:
            if probe.items:
                self._prefetched[(q, pages)] = probe
            return whole
        v = int(probe.items[-1].get("stargazers_count") or 0)
        if hi is not None and v >= hi:
            return Slice(hi, hi)  # star value `hi` alone fills the probe: a slice of its own
        return Slice(max(v + 1, self.min_stars), hi)

    def _pages_wanted(self, need: int | None) -> int:
        """How deep the next slice should reach: all 10 pages, or enough for what `limit` still needs."""
        if need is None:
            return MAX_PAGES
        kept_share = self.kept_items / self.seen_items if self.seen_items >= 100 else 0.9
        return max(1, min(MAX_PAGES, math.ceil(need * 1.2 / max(kept_share, 0.3) / MAX_PER_PAGE)))

    def _top_row(self, hi: int | None) -> dict[str, Any] | None:
        """A stored top-level slice right below `hi` (resume), preferring the most advanced."""
        rank = {"done": 0, "split": 1, "partial": 2}
        rows = [r for r in self.rows.values() if r.get("parent") is None and r.get("created_lo") is None
                and _num(r.get("stars_hi")) == hi]
        return min(rows, key=lambda r: rank.get(r.get("state"), 3), default=None)

    # -- one slice ----------------------------------------------------------
    def _collect(self, sl: Slice, parent: str | None) -> int:
        """Make every repo of `sl` known: stored, resumed, split or fetched. Returns its total."""
        q = self._q(sl)
        row = self.rows.get(q)
        if row is not None and row["state"] == "done":
            self._absorb_stored(row["repo_ids"])
            self.emit("slice", query=q, total=row["total"], pages=row["pages"], resumed=True)
            return int(row["total"] or 0)
        if row is not None and row["state"] == "split":
            for child in _children(sl, int(row["split_at"])):
                self._collect(child, parent=q)
            return int(row["total"] or 0)
        if row is not None and row["state"] == "partial":
            start, repo_ids = int(row["done"]) + 1, list(row["repo_ids"])
        else:
            start, repo_ids = 1, []
        page_no = start
        while True:
            page = self._fetch(q, page_no)
            if page_no == start and start > 1 and row is not None and page.total_count != row["total"]:
                # the slice changed since the kill: pages no longer line up, start over
                page_no, start, repo_ids, row = 1, 1, [], None
                continue
            if page_no == 1 and page.total_count > SEARCH_CAP:
                split_at = self._split_point(sl, page)
                if split_at is not None:
                    return self._split(sl, q, parent, page.total_count, split_at)
                self.emit("truncated", query=q, total=page.total_count)
            if page_no == start:
                self.emit("slice", query=q, total=page.total_count, pages=_pages(page.total_count),
                          resumed=start > 1)
                if start > 1:
                    self._absorb_stored(repo_ids)
            records = self._keep(page.items)
            repo_ids += [r["id"] for r in records]
            finished = page.next_page is None or not page.items or page_no >= MAX_PAGES
            new_row = self._row(sl, q, parent, total=page.total_count, done=page_no,
                                pages=page_no if finished else _pages(page.total_count),
                                state="done" if finished else "partial", repo_ids=repo_ids)
            self.store.record_discovery_page(new_row, records)
            self.rows[q] = new_row
            self.emit("page", query=q, page=page_no, items=len(page.items), kept=len(records),
                      total=page.total_count, found=len(self.found))
            if finished:
                return page.total_count
            page_no += 1

    def _split(self, sl: Slice, q: str, parent: str | None, total: int, split_at: int) -> int:
        row = self._row(sl, q, parent, total=total, done=0, pages=0, state="split", repo_ids=[],
                        split_at=split_at)
        self.store.save_discovery_slice(row)
        self.rows[q] = row
        by = "created" if sl.stars_lo == sl.stars_hi else "stars"
        self.emit("split", query=q, total=total, by=by, at=split_at)
        for child in _children(sl, split_at):
            self._collect(child, parent=q)
        return total

    def _split_point(self, sl: Slice, first_page: SearchPage) -> int | None:
        """Where to cut a slice over the cap: mid-stars, else mid-creation-time; None if atomic."""
        if sl.stars_hi is None or sl.stars_lo < sl.stars_hi:
            top = sl.stars_hi
            if top is None:
                top = max([int(i.get("stargazers_count") or 0) for i in first_page.items] + [sl.stars_lo])
            return (sl.stars_lo + top) // 2
        lo = GITHUB_START if sl.created_lo is None else sl.created_lo
        hi = sl.created_hi
        if hi is None:
            hi = max(lo + 2 * DAY, (int(self.clock()) // DAY + 1) * DAY) - 1
        days = (hi + 1 - lo) // DAY
        if lo % DAY == 0 and (hi + 1) % DAY == 0 and days >= 2:
            return lo + (days // 2) * DAY - 1
        return lo + (hi - lo) // 2 if hi > lo else None

    def _fetch(self, q: str, page_no: int) -> SearchPage:
        cached = self._prefetched.pop((q, page_no), None)
        return cached if cached is not None else self.client.search_repositories(
            q, page=page_no, per_page=MAX_PER_PAGE)

    def _keep(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Filter one page; returns the records to store (deduplicated across slices)."""
        stamp = now()
        records = []
        for item in items:
            self.seen_items += 1
            reason = skip_reason(item, self.max_size_kb)
            if reason is not None:
                self.skipped[reason] = self.skipped.get(reason, 0) + 1
                continue
            self.kept_items += 1
            gid = item.get("id")
            if item["full_name"] in self.found or (gid is not None and gid in self.github_ids):
                continue
            if gid is not None:
                self.github_ids.add(gid)
            record = repo_record(item, stamp)
            self.found[record["id"]] = record["stars"]
            records.append(record)
        return records

    def _absorb_stored(self, repo_ids: list[str]) -> None:
        rows = self.store.repos_by_ids([rid for rid in repo_ids if rid not in self.found])
        for rid, row in rows.items():
            self.found[rid] = int(row.get("stars") or 0)

    def _q(self, sl: Slice) -> str:
        return f"{self.base} {sl.qualifiers()}"

    def _row(self, sl: Slice, q: str, parent: str | None, **fields: Any) -> dict[str, Any]:
        return {
            "id": hashlib.sha1(f"{self.key}\n{q}".encode()).hexdigest()[:20], "query": q,
            "discovery": self.key, "parent": parent, "stars_lo": sl.stars_lo, "stars_hi": sl.stars_hi,
            "created_lo": sl.created_lo, "created_hi": sl.created_hi, "split_at": None, **fields,
        }


def _num(value: Any) -> int | None:
    return None if value is None else int(value)


def _slice_of(row: dict[str, Any]) -> Slice:
    return Slice(int(row["stars_lo"]), _num(row["stars_hi"]), _num(row.get("created_lo")), _num(row.get("created_hi")))


def _children(sl: Slice, split_at: int) -> list[Slice]:
    """The two halves of a split slice, higher stars first."""
    if sl.stars_hi is None or sl.stars_lo < sl.stars_hi:
        return [Slice(split_at + 1, sl.stars_hi), Slice(sl.stars_lo, split_at)]
    lo = GITHUB_START if sl.created_lo is None else sl.created_lo
    return [Slice(sl.stars_lo, sl.stars_hi, lo, split_at),
            Slice(sl.stars_lo, sl.stars_hi, split_at + 1, sl.created_hi)]


def _pages(total: int) -> int:
    return min(MAX_PAGES, math.ceil(total / MAX_PER_PAGE))


def _created_range(lo: int, hi: int | None) -> str:
    """Whole days as dates (`2020-01-01..2020-06-30`), anything finer as UTC timestamps."""
    whole_days = lo % DAY == 0 and (hi is None or (hi + 1) % DAY == 0)

    def fmt(t: int) -> str:
        stamp = dt.datetime.fromtimestamp(t, dt.timezone.utc)
        return stamp.strftime("%Y-%m-%d") if whole_days else stamp.strftime("%Y-%m-%dT%H:%M:%S+00:00")

    return f"{fmt(lo)}..{'*' if hi is None else fmt(hi)}"
