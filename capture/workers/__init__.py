"""How a case runs in a process of its own: sandbox, worker pool, forked child, traces.

sandbox.py builds the bwrap command and environment; pool.py (driver side)
starts, feeds and replaces workers; worker.py (`python -m
capture.workers.worker`, inside the sandbox) forks one child per case with
limits and a process group; traces.py collects torch's structured trace.
"""
