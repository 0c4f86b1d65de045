"""The machine's load while a run validates, recorded on its runs row (runs.load_avg).

Why: compile times of two runs made under different load differ 1.5-3x for
the same graphs on a shared machine; `report --compare` reads these figures to
say when two runs are not comparable on wall time (reports/compare.py).
"""
from __future__ import annotations

import json
import os
from typing import Any


class LoadSampler:
    """1-minute load average samples (one per finished case), summarized; resumes a stored summary."""

    def __init__(self, stored: str | None = None) -> None:
        self.n, self.total, self.lo, self.hi = 0, 0.0, float("inf"), 0.0
        try:
            prior = json.loads(stored) if stored else None
        except ValueError:
            prior = None
        if isinstance(prior, dict) and prior.get("n"):
            self.n, self.total = int(prior["n"]), float(prior["mean"]) * int(prior["n"])
            self.lo, self.hi = float(prior["min"]), float(prior["max"])

    def sample(self) -> None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            return
        self.n += 1
        self.total += load
        self.lo, self.hi = min(self.lo, load), max(self.hi, load)

    def summary(self) -> dict[str, Any] | None:
        if not self.n:
            return None
        return {"n": self.n, "mean": round(self.total / self.n, 3), "min": round(self.lo, 3),
                "max": round(self.hi, 3), "cores": len(os.sched_getaffinity(0))}

    def json(self) -> str | None:
        s = self.summary()
        return None if s is None else json.dumps(s, sort_keys=True)
