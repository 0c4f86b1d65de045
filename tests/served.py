"""A real `graphcrawl serve` on 127.0.0.1 and a real headless Chromium, for the serve tests.

The server is the CLI in a subprocess (`--port 0`: the port it prints is the
one it listens on, no race for a free port); pages are read the way a user
sees them: Chromium renders them and --dump-dom gives the DOM, whose
Datasette tables are parsed back into rows.

Without Datasette or Chromium the tests skip, except in CI (.ci/run sets
GRAPHCRAWL_REQUIRE_SERVE), where a skip would hide a missing dependency.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def serve_problem() -> str | None:
    """None when a server and a browser can run here; otherwise why not."""
    try:
        import datasette  # noqa: F401
    except ImportError:
        return "datasette is not installed (pip install 'graphcrawl[serve]')"
    if shutil.which("chromium") is None:
        return "chromium not installed (apt-get install -y chromium)"
    return None


def require_serve() -> pytest.MarkDecorator:
    problem = serve_problem()
    if problem is not None and os.environ.get("GRAPHCRAWL_REQUIRE_SERVE"):  # CI (.ci/run) must run these
        raise RuntimeError(f"GRAPHCRAWL_REQUIRE_SERVE is set but {problem}")
    return pytest.mark.skipif(problem is not None, reason=str(problem))


class Server:
    """`graphcrawl serve --db DB --port 0 [extra]`, stopped with SIGINT (Ctrl-C)."""

    def __init__(self, db: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "graphcrawl.cli", "serve", "--db", str(db), "--port", "0", *extra],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        self.err: list[str] = []
        match = None
        for line in self.proc.stderr:          # the first line that says where it listens
            self.err.append(line)
            match = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
            if match:
                break
        if not match:
            self.proc.kill()
            raise AssertionError(f"serve did not start: {''.join(self.err)}")
        self.url = match.group(1)
        self.db_name = Path(db).stem
        # keep reading stderr, so a chatty server never blocks on a full pipe
        self._drain = threading.Thread(target=lambda: self.err.extend(self.proc.stderr), daemon=True)
        self._drain.start()

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=120) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def sql(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a read-only SQL query run by the server (its JSON API)."""
        status, body = self.get(f"/{self.db_name}.json?" + urllib.parse.urlencode({"sql": sql, "_shape": "array"}))
        assert status == 200, body[:500]
        return json.loads(body)

    def stop(self) -> tuple[int, str]:
        """Ctrl-C: the exit code and what it wrote to stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        self._drain.join(timeout=60)
        return self.proc.returncode, "".join(self.err)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.stop()


class Browser:
    """Headless Chromium with its own profile; `dom(url)` is the rendered page."""

    def __init__(self, profile: Path) -> None:
        self.base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                     f"--user-data-dir={profile}"]

    def dom(self, url: str) -> str:
        proc = subprocess.run([*self.base, "--dump-dom", url], capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    def screenshot(self, url: str, path: Path, size: str = "1400,1000") -> None:
        proc = subprocess.run([*self.base, f"--window-size={size}", f"--screenshot={path}", url],
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0 and path.stat().st_size > 10_000, proc.stderr[-2000:]


class _Rows(HTMLParser):
    """Datasette's <table class="rows-and-columns">: column names and cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.columns: list[str] = []
        self.rows: list[list[str]] = []
        self._in_table = self._in_cell = self._in_th = False
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and "rows-and-columns" in (a.get("class") or ""):
            self._in_table = True
        elif self._in_table and tag == "th":   # a table page names the column; a query page's th is its name
            self.columns.append(a.get("data-column") or "")
            self._in_th = a.get("data-column") is None
        elif self._in_table and tag == "tr":
            self.rows.append([])
        elif self._in_table and tag == "td":
            self._in_cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_cell = False
        elif tag == "th":
            self._in_th = False
        elif tag == "table" and self._in_table:
            self._in_table = False

    def handle_data(self, data: str) -> None:
        if self._in_th:
            self.columns[-1] += data.strip()
        elif self._in_cell:
            self.rows[-1][-1] += data


def table_rows(html: str) -> list[dict[str, str]]:
    """The rows a Datasette page shows, as {column: cell text} (blank cells are "")."""
    parser = _Rows()
    parser.feed(html)
    out = []
    for cells in parser.rows:
        if cells:
            texts = [" ".join(c.replace("\xa0", " ").split()) for c in cells]
            out.append(dict(zip(parser.columns, texts)))
    return out


def case_text(cell: str) -> str:
    """A case id cell without the links graphcrawl's plugin appends ("(repro · trace)")."""
    return re.sub(r"\s*\((repro|trace)[^)]*\)\s*$", "", cell)
