"""`graphcrawl merge`: fold shard databases (from `crawl --shard i/n`) into one."""
from __future__ import annotations

import argparse
from pathlib import Path

from graphcrawl.options import add_db_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("merge", help="merge shard databases into one",
                       description="Fold databases made by `graphcrawl crawl --shard i/n` (or any graphcrawl "
                                   "databases) into --db: repos, modules, cases, runs and results keep their "
                                   "keys; a source that disagrees with what --db holds is refused whole.")
    p.add_argument("sources", nargs="+", type=Path, metavar="SHARD.db", help="databases to merge in")
    add_db_option(p)
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from db.merge import merge_databases
    from db.store import Store

    console = Console()
    with Store(args.db) as store:
        store.lock_for_writing()
        for counts in merge_databases(store, args.sources):
            added = ", ".join(f"{n} {t}" for t, n in counts.added.items() if n) or "nothing new"
            console.print(f"{counts.source}: {added}", highlight=False)
    return 0
