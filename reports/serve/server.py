"""Start Datasette over one crawl database, on 127.0.0.1 unless told otherwise.

How a database that a crawl is writing is served without blocking it: the
crawl's store is in WAL mode (db/store.py), and Datasette opens a mutable
database with read-only connections (`?mode=ro`). In WAL mode readers never
block the writer and the writer never blocks readers: every page sees the
last committed results, and the crawl's commits go on at full speed (a long
read only delays the WAL checkpoint). A database not yet in WAL mode is
switched to it first where the file is writable (a persistent property of
the file; no row changes), since with a rollback journal a reader's lock
would hold up the crawl's commits.

Why not Datasette's immutable mode by default: `?immutable=1` tells SQLite
the file never changes, so it takes no locks and ignores the -wal file,
where the newest committed results of a running crawl live; pages would
be stale or wrong. `--immutable` is for a finished database (table counts are
computed once and cached); it is refused while a crawl holds the database's
write lock or the -wal file holds writes not yet checkpointed into it.
"""
from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import sqlite3
import sys
from pathlib import Path
from typing import TextIO

INSTALL_HINT = "graphcrawl serve needs Datasette: pip install 'graphcrawl[serve]' (or pip install 'datasette>=0.65,<0.66')"


class ServeError(Exception):
    """The database cannot be served as asked (not a database, Datasette missing, port in use, ...)."""


def _connect_ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=30)


def check_database(path: Path) -> None:
    """A clear error unless `path` is a graphcrawl database SQLite can read."""
    if not path.exists():
        raise ServeError(f"{path}: no such database (run `graphcrawl crawl` first)")
    if path.is_dir():
        raise ServeError(f"{path} is a directory, not a database file")
    try:
        conn = _connect_ro(path)
        try:
            tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ServeError(f"{path}: not a graphcrawl SQLite database ({exc})") from None
    if not {"runs", "results"} <= tables:
        raise ServeError(f"{path}: not a graphcrawl SQLite database (no runs/results tables)")


def ensure_wal(path: Path) -> str:
    """Switch a writable database to WAL mode so readers never hold up a crawl's commits; the mode it has."""
    ro = _connect_ro(path)
    try:
        mode = ro.execute("pragma journal_mode").fetchone()[0]
    finally:
        ro.close()
    if mode.lower() == "wal" or not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        return mode.lower()
    conn = sqlite3.connect(str(path), timeout=30)
    try:
        return conn.execute("pragma journal_mode=wal").fetchone()[0].lower()
    except sqlite3.OperationalError:
        return mode.lower()
    finally:
        conn.close()


def being_written(path: Path) -> str | None:
    """Why `path` is not safe to open immutable (a crawl holds its lock, uncheckpointed WAL), or None."""
    lock = Path(str(path) + ".lock")
    if lock.exists():
        fd = os.open(lock, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except BlockingIOError:
            return f"a running crawl is writing to it ({lock.read_text().strip() or 'lock held'})"
        finally:
            os.close(fd)
    wal = Path(str(path) + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return f"{wal.name} holds writes not yet checkpointed into the file"
    return None


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or a one-line error (port in use, unknown host)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServeError(f"cannot serve on host {host!r}: {exc.strerror}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}; give another --port") from None
    sock.listen(128)
    return sock


def serve(db: str | Path, host: str = "127.0.0.1", port: int = 8001, immutable: bool = False,
          out: TextIO | None = None) -> int:
    """Serve `db` until Ctrl-C; returns the exit code (130 after Ctrl-C)."""
    out = out or sys.stderr
    path = Path(db)
    check_database(path)
    try:
        import uvicorn
        from datasette.app import Datasette
        from datasette.plugins import pm
    except ImportError:
        raise ServeError(INSTALL_HINT) from None
    from reports.serve import plugin
    from reports.serve.metadata import SETTINGS, build_metadata
    from reports.serve.queries import Columns

    if immutable:
        why = being_written(path)
        if why:
            raise ServeError(f"{path} cannot be served --immutable: {why}; serve it without --immutable "
                             "(read-only, live)")
    else:
        ensure_wal(path)
    conn = _connect_ro(path)
    try:
        columns = Columns.of(conn)
    finally:
        conn.close()
    sock = bind(host, port)
    if not pm.is_registered(plugin):
        pm.register(plugin, name="graphcrawl")
    files = [str(path)]
    ds = Datasette([] if immutable else files, immutables=files if immutable else [],
                   metadata=build_metadata(path, columns, immutable), settings=SETTINGS)
    asyncio.run(ds.invoke_startup())
    bound_host, bound_port = sock.getsockname()[:2]
    url = f"http://{'[' + bound_host + ']' if ':' in bound_host else bound_host}:{bound_port}/"
    print(f"graphcrawl serve: {path} at {url} ({'immutable' if immutable else 'read-only, live'}); "
          "Ctrl-C stops", file=out, flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"graphcrawl serve: listening on {host}: anyone who can reach this machine can read the "
              "database and run read-only SQL on it", file=out, flush=True)
    config = uvicorn.Config(ds.app(), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])   # uvicorn shuts down on SIGINT/SIGTERM, then re-raises the signal
    except KeyboardInterrupt:
        print("graphcrawl serve: stopped", file=out, flush=True)
        return 130
    finally:
        sock.close()
    print("graphcrawl serve: stopped", file=out, flush=True)   # SIGINT ignored by our parent (a background job)
    return 0
