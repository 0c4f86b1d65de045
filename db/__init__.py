"""The SQLite store: one file holds every repo, module, case, run and result.

All SQL lives in this package; the rest of graphcrawl calls `Store` methods.
"""
from db.status import CaseStatus, RepoStatus, Stage
from db.store import Store, StoreError, StoreLocked

__all__ = ["CaseStatus", "RepoStatus", "Stage", "Store", "StoreError", "StoreLocked"]
