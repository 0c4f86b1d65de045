"""A small GitHub REST client for discovery: auth, rate limits, retries, Link pagination.

Why its own module: GitHub's search API allows 30 requests a minute with a
token and 10 without, answers 403/429 with Retry-After when a secondary limit
trips, fails now and then with 5xx, and sometimes answers a page with
`incomplete_results: true`. The discovery logic should see none of that: it
asks for a page and gets a complete one, or a named error after bounded
retries. Every wait goes through the injected `sleep` (never a busy loop) and
is reported as a `("wait", ...)` event, so a user watching a 7,000-repo
discovery knows why it paused.

The token lives in one request header and nowhere else: not in events, errors,
repr, or anything the caller stores. It is only ever sent to `api_base`.
"""
from __future__ import annotations

import email.utils
import http.client
import json
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

DEFAULT_API_BASE = "https://api.github.com"
SEARCH_CAP = 1000  # GitHub serves at most the first 1,000 results of a search
MAX_PER_PAGE = 100

EventFn = Callable[..., None]


class GitHubError(Exception):
    """GitHub answered with an error we do not retry (or retries ran out)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthError(GitHubError):
    """The token was rejected (401): retrying cannot help."""


class IncompleteResults(GitHubError):
    """A search page stayed `incomplete_results: true` after bounded retries."""


@dataclass(frozen=True)
class SearchPage:
    """One page of `/search/repositories`, with its Link-header pagination."""

    query: str
    page: int
    total_count: int
    items: list[dict[str, Any]]
    next_page: int | None
    last_page: int | None


@dataclass
class RateState:
    """What the last response said about one rate-limit resource (search, core)."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None


@dataclass
class GitHubClient:
    """GET JSON from the GitHub REST API, waiting and retrying as GitHub asks.

    `sleep` and `clock` are injectable so tests run a minute-long rate-limit
    window in no real time; `rng` makes the backoff jitter reproducible.
    """

    api_base: str = DEFAULT_API_BASE
    token: str | None = field(default=None, repr=False)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    on_event: EventFn | None = None
    timeout_s: float = 30.0
    max_retries: int = 6            # 5xx and network errors, per request
    first_contact_retries: int = 1  # network errors before the API has ever answered: it is unreachable
    incomplete_retries: int = 3     # pages answered with incomplete_results
    max_rate_waits: int = 30        # rate-limit answers in a row before giving up
    backoff_s: float = 1.0
    backoff_cap_s: float = 120.0
    reset_margin_s: float = 1.0     # clocks differ: wait a little past X-RateLimit-Reset
    user_agent: str = "graphcrawl"
    rng: random.Random = field(default_factory=random.Random, repr=False)
    requests: int = field(default=0, init=False)
    answered: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.api_base = self.api_base.rstrip("/")
        self._rate: dict[str, RateState] = {}
        host = urllib.parse.urlsplit(self.api_base).hostname or ""
        # A proxy from the environment is right for api.github.com, never for a local test server.
        handlers = [urllib.request.ProxyHandler({})] if host in ("127.0.0.1", "localhost", "::1") else []
        self._opener = urllib.request.build_opener(*handlers)

    @property
    def authenticated(self) -> bool:
        return bool(self.token)

    # -- public API ----------------------------------------------------------
    def search_repositories(self, q: str, *, page: int = 1, per_page: int = MAX_PER_PAGE,
                            sort: str = "stars", order: str = "desc") -> SearchPage:
        """One search page; retried while GitHub says its results are incomplete."""
        params = {"q": q, "sort": sort, "order": order, "per_page": per_page, "page": page}
        for attempt in range(self.incomplete_retries + 1):
            body, headers = self.get("/search/repositories", params)
            if not body.get("incomplete_results"):
                links = parse_link_header(headers.get("Link"))
                return SearchPage(query=q, page=page, total_count=int(body.get("total_count", 0)),
                                  items=list(body.get("items") or []),
                                  next_page=_page_of(links.get("next")), last_page=_page_of(links.get("last")))
            if attempt < self.incomplete_retries:
                self._wait(self._backoff(attempt + 1), "incomplete results", query=q, page=page)
        raise IncompleteResults(
            f"search {q!r} page {page}: incomplete_results after {self.incomplete_retries} retries")

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[Any, Mapping[str, str]]:
        """GET `api_base + path`; returns (decoded JSON, headers) of the first usable answer."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r} (the token is only sent to api_base)")
        url = self.api_base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        resource = "search" if path.startswith("/search/") else "core"
        failures = 0
        limited = 0
        while True:
            self._respect_budget(resource)
            self.requests += 1
            try:
                status, headers, body = self._send(url)
                self.answered += 1
            except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets
                failures += 1
                if not self.answered and failures > self.first_contact_retries:
                    # never answered (no network, no DNS, a closed port): retrying for minutes won't help
                    raise GitHubError(f"cannot reach the GitHub API at {self.api_base} ({type(exc).__name__}: "
                                      f"{getattr(exc, 'reason', None) or exc}); check the network or --api-base, "
                                      "or give repositories with --repo / --repos-file") from None
                if failures > self.max_retries:
                    raise GitHubError(f"GET {path}: {type(exc).__name__}: {exc}") from None
                self._wait(self._backoff(failures), f"network error ({type(exc).__name__})")
                continue
            state = self._note_rate(resource, headers)
            if 200 <= status < 300:
                try:
                    return json.loads(body or b"null"), headers
                except ValueError:
                    raise GitHubError(f"GET {path} -> {status}: not JSON: {body[:120]!r}", status=status) from None
            message = _message(body)
            if status in (403, 429) and _is_rate_limited(status, headers, message):
                limited += 1
                if limited > self.max_rate_waits:
                    raise GitHubError(f"GET {path}: still rate limited after {self.max_rate_waits} waits: "
                                      f"{message}", status=status)
                self._wait_after_limit(headers, state, limited)
                continue
            if status >= 500:
                failures += 1
                if failures > self.max_retries:
                    raise GitHubError(f"GET {path} -> {status} after {self.max_retries} retries: {message}",
                                      status=status)
                self._wait(self._backoff(failures), f"server error {status}")
                continue
            if status == 401:
                raise AuthError(f"GitHub rejected the token (GITHUB_TOKEN): {message}", status=401)
            raise GitHubError(f"GET {path} -> {status}: {message}", status=status)

    def rate_state(self, resource: str = "search") -> RateState:
        return self._rate.setdefault(resource, RateState())

    # -- internals -------------------------------------------------------------
    def _send(self, url: str) -> tuple[int, Mapping[str, str], bytes]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": self.user_agent}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.headers, exc.read()

    def _note_rate(self, resource: str, headers: Mapping[str, str]) -> RateState:
        state = self._rate.setdefault(headers.get("X-RateLimit-Resource") or resource, RateState())
        for attr, name, conv in (("limit", "X-RateLimit-Limit", int), ("remaining", "X-RateLimit-Remaining", int),
                                 ("reset", "X-RateLimit-Reset", float)):
            value = headers.get(name)
            if value is not None:
                try:
                    setattr(state, attr, conv(value))
                except ValueError:
                    pass
        return state

    def _respect_budget(self, resource: str) -> None:
        """Before a request: if the window's budget is spent, sleep until it resets."""
        state = self._rate.get(resource)
        if state is None or state.remaining is None or state.remaining > 0 or state.reset is None:
            return
        delay = state.reset + self.reset_margin_s - self.clock()
        if delay > 0:
            self._wait(delay, "rate limit", limit=state.limit)
        state.remaining = None  # a new window: unknown until the next answer

    def _wait_after_limit(self, headers: Mapping[str, str], state: RateState, limited: int) -> None:
        retry_after = _retry_after(headers, self.clock())
        if retry_after is not None:
            self._wait(max(retry_after, 1.0), "secondary rate limit (Retry-After)")
        elif state.remaining == 0 and state.reset is not None:
            delay = state.reset + self.reset_margin_s - self.clock()
            # a reset already past (clock skew) must still not turn into a busy loop
            self._wait(delay if delay > 0 else self._backoff(limited), "rate limit", limit=state.limit)
        else:
            # GitHub: without Retry-After, wait at least a minute, longer on repeats
            self._wait(max(60.0, self._backoff(limited)), "secondary rate limit")
        state.remaining = None

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: a uniform pick in [d/2, d], d doubling per attempt."""
        delay = min(self.backoff_cap_s, self.backoff_s * 2 ** (attempt - 1))
        return delay / 2 + self.rng.uniform(0, delay / 2)

    def _wait(self, seconds: float, reason: str, **info: Any) -> None:
        until = self.clock() + seconds
        if self.on_event is not None:
            self.on_event("wait", until=until, seconds=seconds, reason=reason,
                          until_text=time.strftime("%H:%M:%S", time.localtime(until)), **info)
        self.sleep(seconds)


def parse_link_header(value: str | None) -> dict[str, str]:
    """`<url>; rel="next", <url>; rel="last"` -> {"next": url, "last": url}."""
    links: dict[str, str] = {}
    for part in (value or "").split(","):
        match = re.match(r'\s*<([^>]*)>(.*)', part)
        if not match:
            continue
        rel = re.search(r'rel="?([^";]+)"?', match.group(2))
        if rel:
            for name in rel.group(1).split():
                links[name] = match.group(1)
    return links


def _page_of(url: str | None) -> int | None:
    if not url:
        return None
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("page")
    try:
        return int(values[0]) if values else 1
    except ValueError:
        return None


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message", ""))[:300]
    except (ValueError, AttributeError):
        return body[:300].decode("utf-8", "replace")


def _is_rate_limited(status: int, headers: Mapping[str, str], message: str) -> bool:
    """A 403 is a rate limit only when GitHub says so; otherwise it is a real refusal."""
    return (status == 429 or headers.get("Retry-After") is not None
            or headers.get("X-RateLimit-Remaining") == "0" or "rate limit" in message.lower())


def _retry_after(headers: Mapping[str, str], now: float) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            return None
