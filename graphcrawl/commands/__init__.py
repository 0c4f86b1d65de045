"""Registry of subcommands: each module has add_parser(subparsers) and sets func."""
from __future__ import annotations

import importlib
from types import ModuleType

_NAMES = ["crawl", "merge", "report", "serve", "triage"]


def _load() -> list[ModuleType]:
    mods = []
    for name in _NAMES:
        try:
            mods.append(importlib.import_module(f"graphcrawl.commands.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"graphcrawl.commands.{name}":
                raise
    return mods


COMMANDS = _load()
