#!/usr/bin/env bash
# On a CUDA machine: crawl the fixture repositories with --device cuda (Triton)
# and print the report. Meant to finish in under 5 minutes on one GPU.
#   scripts/gpu_check.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU visible'; print(torch.__version__, torch.cuda.get_device_name(0))"
python - "$out" <<'PY'
import sys
from pathlib import Path
from tests.fixture_repos import make_zoo
print(make_zoo(Path(sys.argv[1])).as_uri(), file=open(Path(sys.argv[1]) / "zoo.url", "w"))
PY
flags=()
python -c "from capture.workers.sandbox import bwrap_problem; import sys; sys.exit(bwrap_problem() is not None)" || flags+=(--unsafe-no-sandbox)
time graphcrawl crawl --db "$out/gpu.db" --repo "$(cat "$out/zoo.url")" --workdir "$out/work" \
  --device cuda --timeout 240 --no-progress "${flags[@]}"
graphcrawl report --db "$out/gpu.db" || true
python - "$out/gpu.db" <<'PY'
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
print(conn.execute("select id, device, device_name, torch, triton from runs").fetchall())
for row in conn.execute("select case_id, status, stage, compile_s, compiled_ms, eager_ms, speedup, max_abs_err "
                        "from results order by case_id"):
    print(row)
PY
