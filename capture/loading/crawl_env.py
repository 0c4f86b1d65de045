"""The crawl environment: the field's everyday packages, installed beside the pinned torch.

Why first-class: crawled model code imports numpy, scipy, PIL, yaml, tqdm,
matplotlib, pandas and einops all the time; where one is missing it is stubbed
and code that really uses it fails (`NameError: name 'pad_center' is not
defined`). `pip install -e ".[crawl-env]"` (or `scripts/setup.sh --crawl-env`)
installs the versions pinned in pyproject.toml; every run records what was
really there (`runs.packages`), so two runs' yields are compared knowing their
environments. torchvision and timm are left out: PyPI's torchvision does not
import beside the torch 2.13.0 CPU build this project pins (timm needs it), so
they stay stubbed there; install a matching pair by hand where one exists.

Versions are read with importlib.metadata: nothing is imported.
"""
from __future__ import annotations

from importlib import metadata

# distribution names, in the order reports list them
PACKAGES = ("torch", "numpy", "scipy", "pillow", "pyyaml", "tqdm", "matplotlib", "pandas", "einops",
            "torchvision", "torchaudio", "timm", "triton")


def versions() -> dict[str, str | None]:
    """{distribution: installed version or None} for the crawl environment's packages."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
