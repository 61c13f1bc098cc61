#!/usr/bin/env bash
# One virtual environment per SNN framework that cannot be installed beside neurokit's Lava pins:
#   .venv-sinabs        sinabs 3.1.3       (pins nir<=1.0.4 and pulls samna; neurokit needs nir>=1.0.8)
#   .venv-spikingjelly  spikingjelly 2.0.0 (needs torch>=2.6; lava-dl pins neurokit's .venv to torch 2.3)
# Only the framework goes in (NOT neurokit): tests/interop_export.py runs inside it, builds the reference
# networks with the framework, and writes NIR files + the framework's own spikes that tests/test_interop.py
# (run from neurokit's .venv, `pytest -m interop`) compares against neurokit.
#
# Python 3.11 (PYTHON311 overrides). torch is pinned to the CPU build that pip finds on this machine's disk
# for 3.11 (torch==2.13.0); elsewhere pip downloads it. Reinstalls only when this script changed.
# Usage: scripts/setup-interop.sh [sinabs] [spikingjelly]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_PIN=${INTEROP_TORCH:-torch==2.13.0}
declare -A PKGS=(
    [sinabs]="sinabs==3.1.3"
    [spikingjelly]="spikingjelly[nir]==2.0.0"  # the nir extra: nir>=1.0.7, nirtorch 2.6 (nir_exchange)
)

find_python311() {
    for cand in "${PYTHON311:-}" python3.11 python3.12; do
        [ -n "$cand" ] || continue
        if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; assert sys.version_info[:2] in ((3, 11), (3, 12))' 2>/dev/null; then
            command -v "$cand"; return 0
        fi
    done
    return 1
}

stamp_value=$(sha256sum "$0" | cut -d' ' -f1)
frameworks=("$@")
[ ${#frameworks[@]} -gt 0 ] || frameworks=(sinabs spikingjelly)
status=0
for fw in "${frameworks[@]}"; do
    pkg=${PKGS[$fw]:-}
    if [ -z "$pkg" ]; then echo "setup-interop: unknown framework '$fw' (sinabs, spikingjelly)" >&2; exit 2; fi
    venv=".venv-$fw"
    stamp="$venv/.interop-installed"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_value" ]; then
        continue
    fi
    if [ ! -x "$venv/bin/python" ]; then
        if ! PY=$(find_python311); then
            echo "setup-interop: needs Python 3.11 or 3.12 (set PYTHON311=/path/to/python3.11)" >&2; exit 1
        fi
        echo "setup-interop: creating $venv with $PY" >&2
        "$PY" -m venv "$venv"
    fi
    echo "setup-interop: installing $TORCH_PIN, $pkg into $venv" >&2
    # torch first, from its own pin: otherwise the framework's torch requirement pulls a multi-GB CUDA build
    if "$venv/bin/python" -m pip install -q "$TORCH_PIN" && "$venv/bin/python" -m pip install -q "$TORCH_PIN" "$pkg"; then
        echo "$stamp_value" > "$stamp"
    else
        echo "setup-interop: installing $pkg into $venv FAILED (the pip error is above)" >&2
        status=1
    fi
done
exit $status
