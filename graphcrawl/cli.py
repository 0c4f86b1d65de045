"""The `graphcrawl` command: parse arguments, call one package function, print.

Each subcommand lives in graphcrawl/commands/<name>.py with `add_parser` and
`run`; expected failures are raised as `UserError` (or a package's named
exception listed in EXPECTED) and shown as one clean line, exit code 2.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from graphcrawl.commands import COMMANDS
from graphcrawl.errors import EXPECTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphcrawl",
        description="Crawl PyTorch projects, capture their nn.Modules with TorchDynamo, "
                    "compile them with Inductor, and report what worked.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EXPECTED as exc:
        print(f"graphcrawl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("graphcrawl: interrupted; everything finished so far is saved", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
