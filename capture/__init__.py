"""Sandboxed workers: load a crawled module, build a case, run eager and capture.

Only capture/worker.py, capture/replay.py and what they import run inside the
sandbox; capture/pool.py and capture/sandbox.py run in the driver.
"""
