#!/usr/bin/env python3
"""Project the API calls and wall time of `graphcrawl crawl --limit N` discovery.

Why a simulation: the real cost of discovery is set by GitHub's search rate
limit (30 requests a minute with a token, 10 without), not by our CPU. This
runs the real `crawler.discover.discover` over HTTP against the test server
(tests/github_server.py: a synthetic heavy-tailed population with ties, forks,
archived repos and one star value over 1,000 repos) with those limits in
60-second windows on a fake clock, plus an assumed latency per request, and
prints what a real run would spend. Nothing here contacts GitHub.

    python scripts/discovery_sim.py [--limit 7000] [--latency 0.5]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.discover import discover  # noqa: E402
from db.store import Store  # noqa: E402
from tests.github_server import START, FakeClock, SearchServer, make_population  # noqa: E402

TOKEN = "ghp_simulated"


def simulate(population: list[dict[str, Any]], *, limit: int | None, token: bool, latency_s: float,
             sort_noise: float, max_size_kb: int) -> dict[str, Any]:
    """One discovery under GitHub's search limits; returns counts and fake-clock seconds."""
    clock = FakeClock()
    events: Counter[str] = Counter()
    waited: Counter[str] = Counter()

    def on_event(kind: str, **info: Any) -> None:
        events[kind] += 1
        if kind == "wait":
            waited[info["reason"]] += info["seconds"]

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "sim.db") as store, SearchServer(
            population, clock=clock.time, advance=clock.advance, latency_s=latency_s, token=TOKEN,
            window_s=60.0, limit_authenticated=30, limit_anonymous=10, forks_by_default=True,
            sort_noise=sort_noise) as server:
        repos = discover(store, api_base=server.url, limit=limit, max_size_kb=max_size_kb,
                         token=TOKEN if token else None, on_event=on_event, sleep=clock.sleep, clock=clock.time)
        truth = server.ground_truth(limit=limit, max_size_kb=max_size_kb)
        return {"repos": len(repos), "exact": [r["id"] for r in repos] == truth, "requests": len(server.log),
                "violations": server.violations, "seconds": clock.now - START, "events": events,
                "waited": waited}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=7000, help="repos to discover (default 7000)")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per search request (default 0.5)")
    parser.add_argument("--sort-noise", type=float, default=0.0, help="stale sort order, e.g. 0.3 (default 0)")
    parser.add_argument("--seed", type=int, default=7, help="population seed")
    parser.add_argument("--max-size-kb", type=int, default=500_000)
    args = parser.parse_args(argv)

    population = make_population(args.seed)
    valid = len([r for r in population if r["stargazers_count"] >= 10 and not (
        r["fork"] or r["archived"] or r["disabled"] or r["size"] > args.max_size_kb)])
    print(f"population: {len(population)} search results, {valid} crawlable with >= 10 stars; "
          f"limit {args.limit}; assumed latency {args.latency:.2f} s/request")
    for token, rate in ((True, 30), (False, 10)):
        r = simulate(population, limit=args.limit, token=token, latency_s=args.latency,
                     sort_noise=args.sort_noise, max_size_kb=args.max_size_kb)
        ev = r["events"]
        label = "with GITHUB_TOKEN (30 req/min)" if token else "without a token (10 req/min)"
        print(f"\n{label}")
        print(f"  API calls          {r['requests']}  ({ev['page']} result pages, {ev['probe']} probes, "
              f"{ev['split']} split slices)")
        print(f"  projected wall     {r['seconds'] / 60:.1f} min  ({r['seconds']:.0f} s; "
              f"{r['requests'] / rate:.1f} min at a steady {rate}/min)")
        print(f"  waited             " + ", ".join(f"{k} {v:.0f} s" for k, v in r["waited"].items()))
        print(f"  result             {r['repos']} repos, exactly the top {args.limit}: {r['exact']}; "
              f"rate-limit violations: {r['violations']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
