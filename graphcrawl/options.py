"""Options shared by several subcommands, defined once."""
from __future__ import annotations

import argparse


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="graphcrawl.db",
                        help="SQLite database file (default: ./graphcrawl.db)")


def add_run_option(parser: argparse.ArgumentParser, help: str = "run name (default: the latest run)") -> None:
    parser.add_argument("--run", default=None, help=help)


def add_project_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", metavar="OWNER/NAME", help="only this project")
