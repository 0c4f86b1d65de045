"""Exceptions the CLI shows as a one-line message instead of a traceback.

Why a list: an expected failure (bad input, an unreachable GitHub, a database
that is not one, a directory that cannot be written) is the user's to fix and
gets one clear line and a non-zero exit; anything else is a bug in graphcrawl
and keeps its traceback.
"""
from __future__ import annotations

from crawler.github_api import GitHubError
from db.store import StoreError
from reports.scope import ReportError
from reports.serve.server import ServeError


class UserError(Exception):
    """Bad arguments or environment, explained in the message."""


EXPECTED: tuple[type[BaseException], ...] = (
    UserError, StoreError, ReportError, ServeError, GitHubError,
    PermissionError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
)
