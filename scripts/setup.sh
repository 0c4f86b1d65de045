#!/usr/bin/env bash
# Install graphcrawl and what it needs on a fresh Debian/Ubuntu machine.
#   scripts/setup.sh          the tool
#   scripts/setup.sh --test   the tool plus the test dependencies (pytest, chromium for the HTML and serve
#                             tests, datasette for `graphcrawl serve`, ray + unshare/nsenter/ip for the tests
#                             on a real two-node Ray cluster)
#   scripts/setup.sh --crawl-env   the tool plus the crawl environment: numpy, scipy, pillow, pyyaml,
#                     tqdm, matplotlib, pandas, einops, scikit-learn, opencv-python-headless, torchsummary,
#                     huggingface_hub, transformers
#                     pinned beside torch (pyproject's crawl-env extra),
#                     then the torchvision built for the installed torch, timm and safetensors without
#                     their dependencies, so pip never replaces that torch (capture/loading/crawl_env.py)
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v git >/dev/null || need+=(git)
command -v gcc >/dev/null || need+=(gcc g++)
if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null; then need+=(chromium); fi
if [ "${1:-}" = "--test" ]; then
  command -v nsenter >/dev/null || need+=(util-linux)
  command -v ip >/dev/null || need+=(iproute2)
fi
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need[@]}" >/dev/null || \
    echo "setup: could not install ${need[*]} (graphcrawl will say what is missing)" >&2
fi
# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build. Users with a
# GPU install the torch they want before running this; pyproject keeps the range open.
python -c "import torch" 2>/dev/null || python -m pip install -q torch==2.13.0
extra=""; [ "${1:-}" = "--test" ] && extra="[test,ray]"
[ "${1:-}" = "--crawl-env" ] && extra="[crawl-env]"
python -m pip install -q -e ".${extra}" 2>&1 | grep -v "Running pip as the 'root' user" || true
if [ "${1:-}" = "--crawl-env" ]; then
  python -m pip install -q --no-deps --root-user-action=ignore $(python -m capture.loading.crawl_env) || \
    echo "setup: could not install torchvision/timm for this torch (crawled code importing them meets a stub)" >&2
fi
