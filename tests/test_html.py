"""`graphcrawl report --html FILE`: one self-contained page whose script draws the plots.

The headless-browser test needs chromium (`apt-get install -y chromium`; CI
installs it through scripts/setup.sh --test) and is skipped without it. It
keeps a screenshot at /tmp/graphcrawl_report.png for a human to look at.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from db.store import Store
from graphcrawl.cli import main

try:
    from tests.test_report_data import case_id, make_report_db
except ImportError:  # tests/ itself on sys.path (plain `pytest`)
    from test_report_data import case_id, make_report_db

HOSTILE = "</script><img src=x onerror=alert(1)> & 'quotes'"
CHARTS = ["funnel-chart", "rates-chart", "compile-hist", "speedup-hist", "break-reasons-chart",
          "breaks-per-module-chart", "history-chart"]
SCREENSHOT = Path("/tmp/graphcrawl_report.png")


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("html")
    db = make_report_db(root / "graphcrawl.db")
    with Store(db) as store:  # names and reasons come from crawled code: the page must not run them
        store.db.execute("update results set break_reasons = ? where run_id = 'r1' and case_id = ?",
                         [json.dumps([HOSTILE]), case_id("bob/nlp", "nlp/layers.py", "M5")])
    out = root / "report.html"
    assert main(["report", "--db", str(db), "--run", "r1", "--html", str(out)]) == 0
    return out


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "action", "poster") and value:
                self.urls.append((tag, name, value))


def test_page_is_self_contained(page, capsys):
    text = page.read_text()
    parser = Links()
    parser.feed(text)
    assert parser.urls == []                          # no src=/href= at all, let alone http(s)://
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "@import" not in text and "url(" not in text
    assert "img" not in parser.tags                   # the hostile break reason stayed text
    assert HOSTILE not in text
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                                text, re.S).group(1))
    assert data["cases"] == 11 and any(b["reason"].startswith("</script>") or "<img" in b["example"]
                                       for b in data["break_reasons"])


def test_page_tables_readable_without_script(page):
    text = page.read_text()
    assert "captured (graph breaks allowed)" in text and "87.5%" in text
    for chart in CHARTS:
        assert f'id="{chart}-host"' in text


def test_page_has_the_history_of_every_run(page):
    text = page.read_text()
    assert '<h2 id="history">History: every run of the database</h2>' in text
    assert "History: inference (3 runs, 11 same cases)" in text
    assert "cases that changed status from the previous run" in text
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                                text, re.S).group(1))
    [inference] = data["history"]
    assert [(r["run"], r["pass_pct"], r["changed"]) for r in inference["runs"]] == [
        ("r1", 25.0, 0), ("r2", 25.0, 2), ("r3", 37.5, 1)]


def test_page_with_a_server_url_links_only_there(tmp_path):
    db = make_report_db(tmp_path / "gc.v2.db")
    out = tmp_path / "linked.html"
    assert main(["report", "--db", str(db), "--run", "r1", "--html", str(out),
                 "--serve-url", "http://127.0.0.1:8001/"]) == 0
    parser = Links()
    parser.feed(out.read_text())
    urls = [u for _, _, u in parser.urls]
    assert len(urls) == 8 and all(u.startswith("http://127.0.0.1:8001/gc~2Ev2/") for u in urls)
    assert "http://127.0.0.1:8001/gc~2Ev2/compiler_clusters?run=r1" in urls
    assert "http://127.0.0.1:8001/gc~2Ev2/results?run_id=r1&_kind=compiler" in urls


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (apt-get install -y chromium)")
def test_headless_browser_renders_plots(page, tmp_path):
    base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    url = page.resolve().as_uri()
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert re.search(r'<body[^>]*data-rendered="1"', html), "the page's script did not finish"
    assert re.search(r'<body[^>]*data-charts="7"', html)
    for chart in CHARTS:
        assert re.search(rf'<svg[^>]*id="{chart}"', html), chart
    assert html.count("<rect") >= 20                  # bars and histogram bins were drawn
    assert html.count('class="history-point"') == 6  # 3 runs x (pass, capture)
    assert re.search(r'<table id="projects"[^>]*data-rendered="1"', html)
    assert "alice/vision" in html and "bob/nlp" in html
    consoles = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert any("graphcrawl: rendered 7 charts" in line for line in consoles), dom.stderr[-2000:]
    assert [line for line in consoles if "graphcrawl: rendered" not in line] == []   # no errors, no warnings
    shot = tmp_path / "page.png"
    proc = subprocess.run([*base, "--window-size=1300,2600", f"--screenshot={shot}", url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.stat().st_size > 20_000, proc.stderr[-2000:]
    try:
        shutil.copyfile(shot, SCREENSHOT)
    except OSError:
        pass
