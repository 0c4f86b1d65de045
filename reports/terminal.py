"""Render tables in the terminal with rich.

Titles and captions are printed as their own lines rather than rich's table
title/caption, which wrap to the table's width and break narrow tables'
headings into pieces.
"""
from __future__ import annotations

from typing import Iterable

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from reports.tables import Table


def to_rich(table: Table) -> RichTable:
    t = RichTable(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i, col in enumerate(table.columns):
        # The first column names the row (a status, a project): keep it on one line.
        t.add_column(escape(col), justify="right" if i in table.numeric else "left",
                     overflow="ellipsis" if i == 0 else "fold", no_wrap=i == 0,
                     min_width=min(max((len(r[i]) for r in table.rows), default=0), 40) if i == 0 else None)
    for row in table.rows:
        t.add_row(*(escape(c) for c in row))
    return t


def print_tables(tables: Iterable[Table], console: Console | None = None) -> None:
    console = console or Console()
    for i, table in enumerate(tables):
        if i:
            console.print()
        console.print(f"[bold]{escape(table.title)}[/]")
        console.print(to_rich(table))
        if table.caption:
            console.print(f"[dim]{escape(table.caption)}[/]")
