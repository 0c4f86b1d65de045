"""The crawl environment: the field's everyday packages, installed beside the pinned torch.

Why first-class: crawled model code imports numpy, scipy, PIL, yaml, tqdm,
matplotlib, pandas, einops, sklearn, cv2, torchsummary, huggingface_hub and transformers all the time; where one is missing it is stubbed
and code that really uses it fails (`NameError: name 'pad_center' is not
defined`). `pip install -e ".[crawl-env]"` (or `scripts/setup.sh --crawl-env`)
installs the versions pinned in pyproject.toml; every run records what was
really there (`runs.packages`), so two runs' yields are compared knowing their
environments. torchvision and timm are not pins of the extra: torchvision
must match the installed torch exactly (a pin would make pip replace a user's
torch), so `scripts/setup.sh --crawl-env` installs `matching_torchvision()`
beside whatever torch is there, without dependencies, and timm with it.
PyPI's torchvision links its C++ ops against CUDA torch; beside a CPU torch
capture/loading/vision_ops.py lets its Python import without them.

Versions are read with importlib.metadata: nothing is imported.
"""
from __future__ import annotations

from importlib import metadata

# distribution names, in the order reports list them
PACKAGES = ("torch", "numpy", "scipy", "pillow", "pyyaml", "tqdm", "matplotlib", "pandas", "einops",
            "scikit-learn", "opencv-python-headless", "torchsummary", "huggingface_hub", "transformers", "torchvision", "torchaudio", "timm", "triton")


def versions() -> dict[str, str | None]:
    """{distribution: installed version or None} for the crawl environment's packages."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def matching_torchvision(torch_version: str) -> str:
    """The pip requirement for the torchvision built for `torch_version` (2.13.0+cpu -> torchvision==0.28.*).

    torchvision's minor has followed torch 2.x's minor plus 15 since 2.0 / 0.15.
    """
    major, minor = (int(p) for p in torch_version.split("+")[0].split(".")[:2])
    if major != 2:
        raise ValueError(f"no known torchvision for torch {torch_version}")
    return f"torchvision==0.{minor + 15}.*"


# installed without their dependencies, after the extra: timm's would replace torch through torchvision's pin
WITHOUT_DEPS = ("timm==1.0.31", "safetensors==0.8.0")


def requirements_without_deps() -> list[str]:
    """What `scripts/setup.sh --crawl-env` installs with --no-deps: a matching torchvision unless one is there."""
    try:
        metadata.version("torchvision")
        vision: list[str] = []
    except metadata.PackageNotFoundError:
        vision = [matching_torchvision(metadata.version("torch"))]
    return vision + list(WITHOUT_DEPS)


if __name__ == "__main__":   # scripts/setup.sh --crawl-env
    print(" ".join(requirements_without_deps()))
