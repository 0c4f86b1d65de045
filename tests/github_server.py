"""A GitHub search API double on 127.0.0.1, for discovery tests and the simulation.

Why a real HTTP server rather than a mocked client: discovery's hard parts
(rate-limit headers, Retry-After, Link pagination, the 1,000-result cap, a
token sent as a header) are only tested honestly over HTTP. The server speaks
the subset of `GET /search/repositories` discovery uses and *enforces* its
rate limit: a request over the window's budget, or inside a Retry-After
period, is answered 403 and counted in `violations`.

Time comes from an injectable clock. With a `FakeClock` shared with the client
(its `sleep` advances the clock), a 60-second window costs no real time.

Deliberate differences from GitHub, to make the client prove more:
- ties in star count come back in an order that differs from query to query;
- `forks_by_default=True` returns forks unless the query says `fork:false`
  (GitHub hides them unless `fork:true`), so the client's own filter is tested;
- `sort_noise=0.3` sorts by a stale star count (up to 30% off), as a search
  index that lags behind can, while `stars:` filters use the true count.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import random
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode, urlsplit

CAP = 1000
CAP_MESSAGE = "Only the first 1000 search results are available"
START = dt.datetime(2025, 7, 1, tzinfo=dt.timezone.utc).timestamp()


class FakeClock:
    """A clock whose `sleep` returns at once and moves time forward; records every sleep."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"negative sleep {seconds}")
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


# -- population ----------------------------------------------------------------
_WORDS = ("torch", "deep", "neural", "vision", "gan", "bert", "yolo", "diffusion", "graph", "rl", "audio",
          "seg", "detect", "lite", "fast", "tiny", "mega", "meta", "auto", "zoo", "lab", "kit", "net", "former")
_LICENSES = (("mit", "MIT"), ("apache-2.0", "Apache-2.0"), ("bsd-3-clause", "BSD-3-Clause"),
             ("gpl-3.0", "GPL-3.0"), ("other", "NOASSERTION"), None, None)
_TOPICS = ("pytorch", "deep-learning", "machine-learning", "computer-vision", "nlp", "transformer")


def make_population(seed: int = 7, *, n_bulk: int = 6700, bulk_floor: int = 13, tie_stars: int = 12,
                    n_tie: int = 1300, n_low: dict[int, int] | None = None, n_below: int = 300,
                    fork_rate: float = 0.05, archived_rate: float = 0.03, disabled_rate: float = 0.005,
                    huge_rate: float = 0.01) -> list[dict[str, Any]]:
    """Synthetic search results: a heavy-tailed (Pareto) bulk with hundreds of ties at
    low counts, one star value with more than 1,000 repos (forces date slicing),
    repos under the star floor, and forks, archived, disabled and huge repos mixed in."""
    rng = random.Random(seed)
    n_low = {11: 600, 10: 500} if n_low is None else n_low
    stars: list[int] = [min(250_000, int(bulk_floor / (1 - rng.random()) ** (1 / 1.1))) for _ in range(n_bulk)]
    stars += [tie_stars] * n_tie
    for value, count in n_low.items():
        stars += [value] * count
    below = min([tie_stars, *n_low])  # repos under the floor: never returned by `stars:>=floor`
    stars += [rng.randrange(0, below) for _ in range(n_below)]
    lo = dt.datetime(2012, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    names: set[str] = set()
    out = []
    for i, s in enumerate(stars):
        while True:
            owner = rng.choice(_WORDS).capitalize() if rng.random() < 0.3 else rng.choice(_WORDS)
            full = f"{owner}{rng.randrange(10_000)}/{rng.choice(_WORDS)}-{rng.choice(_WORDS)}{rng.randrange(100)}"
            if full.lower() not in names:
                names.add(full.lower())
                break
        created = lo + rng.random() * (START - 86400 - lo)
        pushed = created + rng.random() * (START - created)
        lic = rng.choice(_LICENSES)
        out.append({
            "id": 1_000_000 + i, "name": full.split("/")[1], "full_name": full,
            "owner": {"login": full.split("/")[0]}, "private": False,
            "html_url": f"https://github.com/{full}", "clone_url": f"https://github.com/{full}.git",
            "fork": rng.random() < fork_rate, "archived": rng.random() < archived_rate,
            "disabled": rng.random() < disabled_rate,
            "size": rng.randrange(500_001, 3_000_000) if rng.random() < huge_rate else rng.randrange(50, 200_000),
            "stargazers_count": s, "watchers_count": s, "language": "Python",
            "license": None if lic is None else {"key": lic[0], "spdx_id": lic[1], "name": lic[1]},
            "default_branch": rng.choice(("main", "master", "dev")),
            "topics": sorted(rng.sample(_TOPICS, rng.randrange(0, 4))),
            "created_at": _iso(created), "pushed_at": _iso(pushed), "updated_at": _iso(pushed),
            "visibility": "public",
        })
    return out


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(int(t), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# -- query parsing -------------------------------------------------------------
def _int_bounds(text: str) -> tuple[float, float]:
    return float(int(text)), float(int(text))


def _time_bounds(text: str) -> tuple[float, float]:
    """A date covers its whole UTC day; a timestamp is one second."""
    if "T" not in text:
        start = dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp()
        return start, start + 86399
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.timestamp(), stamp.timestamp()


def parse_range(expr: str, bounds: Callable[[str], tuple[float, float]]) -> tuple[float | None, float | None]:
    """GitHub range syntax: `A..B` (either side `*`), `>=A`, `>A`, `<=B`, `<B`, `A`; inclusive bounds."""
    if ".." in expr:
        a, b = expr.split("..", 1)
        return (None if a == "*" else bounds(a)[0]), (None if b == "*" else bounds(b)[1])
    for op in (">=", "<=", ">", "<"):
        if expr.startswith(op):
            lo, hi = bounds(expr[len(op):])
            return {">=": (lo, None), "<=": (None, hi), ">": (hi + 1, None), "<": (None, lo - 1)}[op]
    lo, hi = bounds(expr)
    return lo, hi


def parse_query(q: str) -> dict[str, Any]:
    """The qualifiers discovery uses; free text and other qualifiers are ignored (all repos match)."""
    out: dict[str, Any] = {"stars": (None, None), "created": (None, None), "fork": None, "archived": None}
    for token in q.split():
        key, sep, value = token.partition(":")
        key = key.lower()
        if not sep:
            continue
        if key == "stars":
            out["stars"] = parse_range(value, _int_bounds)
        elif key == "created":
            out["created"] = parse_range(value, _time_bounds)
        elif key in ("fork", "archived"):
            out[key] = value.lower()
    return out


def _within(value: float, bounds: tuple[float | None, float | None]) -> bool:
    lo, hi = bounds
    return (lo is None or value >= lo) and (hi is None or value <= hi)


# -- the server ----------------------------------------------------------------
class SearchServer:
    """`GET /search/repositories` over a fixed population, with an enforced rate limit."""

    def __init__(self, population: list[dict[str, Any]], *, clock: Callable[[], float] = time.time,
                 window_s: float = 60.0, limit_authenticated: int = 30, limit_anonymous: int = 10,
                 token: str = "ghp_test_token", forks_by_default: bool = False, latency_s: float = 0.0,
                 advance: Callable[[float], None] | None = None, sort_noise: float = 0.0) -> None:
        self.population = population
        self.clock, self.window_s, self.token = clock, window_s, token
        self.limits = {"authenticated": limit_authenticated, "anonymous": limit_anonymous}
        self.forks_by_default = forks_by_default
        self.latency_s, self.advance = latency_s, advance
        self.log: list[dict[str, Any]] = []
        self.violations = 0
        self.max_in_window = 0
        self._windows: dict[str, list[float]] = {}
        self._blocked_until = 0.0
        self._secondary: dict[int, int] = {}
        self._incomplete: set[int] = set()
        self._errors: dict[int, int] = {}
        self._cache: dict[str, list[dict[str, Any]]] = {}
        self._created = {r["id"]: _epoch(r["created_at"]) for r in population}
        noise = random.Random(11)
        self._sort_stars = {r["id"]: r["stargazers_count"] * (1 + noise.uniform(-sort_noise, sort_noise))
                            for r in population}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- injections: n is the 1-based index of a request as the server counts them
    def inject_secondary(self, at: int, retry_after: int = 30) -> None:
        self._secondary[at] = retry_after

    def inject_incomplete(self, *at: int) -> None:
        self._incomplete.update(at)

    def inject_error(self, at: int, status: int = 502) -> None:
        self._errors[at] = status

    # -- lifecycle
    def start(self) -> "SearchServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                if parts.path != "/search/repositories":
                    status, headers, body = 404, {}, {"message": "Not Found"}
                else:
                    params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                    status, headers, body = server.handle(params, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "SearchServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- ground truth
    def ground_truth(self, *, min_stars: int = 10, max_size_kb: int | None = None,
                     limit: int | None = None) -> list[str]:
        """The `limit` most-starred crawlable repos, stars desc then full name."""
        valid = [r for r in self.population
                 if r["stargazers_count"] >= min_stars and not r["fork"] and not r["archived"]
                 and not r["disabled"] and (max_size_kb is None or r["size"] <= max_size_kb)]
        valid.sort(key=lambda r: (-r["stargazers_count"], r["full_name"]))
        return [r["full_name"] for r in valid[:limit]]

    def queries(self, since: int = 0) -> list[str]:
        return [e["q"] for e in self.log[since:] if e.get("q")]

    # -- one request
    def handle(self, params: dict[str, str], authorization: str | None) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            if self.latency_s and self.advance is not None:
                self.advance(self.latency_s)
            now = self.clock()
            n = len(self.log) + 1
            entry: dict[str, Any] = {"n": n, "t": now, "q": params.get("q"), "page": params.get("page"),
                                     "auth": authorization is not None}
            self.log.append(entry)
            status, headers, body = self._answer(n, now, params, authorization, entry)
            entry["status"] = status
            return status, headers, body

    def _answer(self, n: int, now: float, params: dict[str, str], authorization: str | None,
                entry: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() not in ("bearer", "token") or token != self.token:
                return 401, {}, {"message": "Bad credentials"}
        bucket = "anonymous" if authorization is None else "authenticated"
        limit = self.limits[bucket]
        start = math.floor(now / self.window_s) * self.window_s
        window = self._windows.get(bucket)
        if window is None or window[0] != start:
            window = self._windows[bucket] = [start, 0]
        window[1] += 1
        used = int(window[1])
        self.max_in_window = max(self.max_in_window, min(used, limit + 1))
        rate = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(max(0, limit - used)),
                "X-RateLimit-Reset": str(math.ceil(start + self.window_s)), "X-RateLimit-Used": str(used),
                "X-RateLimit-Resource": "search"}
        if used > limit:
            self.violations += 1
            entry["violation"] = "rate limit"
            return 403, rate, {"message": "API rate limit exceeded for search."}
        if now < self._blocked_until:
            self.violations += 1
            entry["violation"] = "retry-after"
            return 403, dict(rate, **{"Retry-After": str(math.ceil(self._blocked_until - now))}), {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
        if n in self._secondary:
            self._blocked_until = now + self._secondary[n]
            return 403, dict(rate, **{"Retry-After": str(self._secondary[n])}), {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
        if n in self._errors:
            return self._errors[n], rate, {"message": "Server Error"}
        try:
            page = int(params.get("page", "1"))
            per_page = min(100, int(params.get("per_page", "30")))
        except ValueError:
            return 422, rate, {"message": "Validation Failed"}
        if page < 1 or per_page < 1:
            return 422, rate, {"message": "Validation Failed"}
        if (page - 1) * per_page >= CAP:
            entry["violation"] = "beyond cap"
            return 422, rate, {"message": CAP_MESSAGE,
                               "documentation_url": "https://docs.github.com/v3/search/"}
        q = params.get("q", "")
        matches = self._search(q)
        items = matches[(page - 1) * per_page: page * per_page]
        incomplete = n in self._incomplete
        if incomplete:
            items = items[: len(items) // 2]
        last = max(1, min(math.ceil(len(matches) / per_page), CAP // per_page))
        return 200, dict(rate, **self._links(params, page, last)), {
            "total_count": len(matches), "incomplete_results": incomplete, "items": items}

    def _links(self, params: dict[str, str], page: int, last: int) -> dict[str, str]:
        def url(p: int) -> str:
            return f"{self.url}/search/repositories?{urlencode(dict(params, page=str(p)))}"

        rels = []
        if page < last:
            rels += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            rels += [f'<{url(page - 1)}>; rel="prev"', f'<{url(1)}>; rel="first"']
        return {"Link": ", ".join(rels)} if rels else {}

    def _search(self, q: str) -> list[dict[str, Any]]:
        """Matches sorted by stars desc; ties in an order that depends on the query text."""
        if q not in self._cache:
            f = parse_query(q)
            fork_ok = {"true": lambda r: True, "only": lambda r: r["fork"], "false": lambda r: not r["fork"]}.get(
                f["fork"] or "", (lambda r: True) if self.forks_by_default else (lambda r: not r["fork"]))
            archived = f["archived"]
            matches = [r for r in self.population
                       if _within(r["stargazers_count"], f["stars"]) and fork_ok(r)
                       and (archived is None or r["archived"] == (archived == "true"))
                       and (f["created"] == (None, None) or _within(self._created[r["id"]], f["created"]))]
            salt = q.encode()
            matches.sort(key=lambda r: (-self._sort_stars[r["id"]], zlib.crc32(salt + r["full_name"].encode())))
            self._cache[q] = matches
        return self._cache[q]
