"""The worker side: load a crawled module, build its case, run the checks, in a sandbox.

Four parts, each a sub-package:

  workers/   how a case runs in a child process: the sandbox (bwrap argv and
             environment), the driver-side pool that starts and feeds workers,
             the worker that forks one child per case, the torch traces kept
  loading/   how crawled code is imported: the importer with stubs for missing
             packages, the repo's own source roots, torch shims, the einops
             stand-in, the crawl environment's package versions
  deduce/    how a case is built: constructor args and forward inputs found by
             reading the source and trying, stored as value specs that replay
  checks/    what a case is run through: the named steps and the funnels
             composed of them (inference, training, dynamic shapes)

Shared by them: torch_api.py (every private torch compiler API, one file)
and reasons.py (the reason classes beside a failure's status). Only
workers/worker.py and what it imports run inside the sandbox; workers/pool.py
and workers/sandbox.py run in the driver.
"""
