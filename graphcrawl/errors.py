"""Exceptions the CLI shows as a one-line message instead of a traceback."""
from __future__ import annotations

from db.store import StoreError


class UserError(Exception):
    """Bad arguments or environment, explained in the message."""


EXPECTED: tuple[type[BaseException], ...] = (UserError, StoreError)
