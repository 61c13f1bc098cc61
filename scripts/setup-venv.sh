#!/usr/bin/env bash
# Create .venv with a Python 3.10 interpreter (Lava needs <3.11) and install neurokit[dev] into it.
# Reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${NEUROKIT_VENV:-.venv}
STAMP="$VENV/.neurokit-installed"

find_python310() {
    for cand in "${PYTHON310:-}" python3.10; do
        [ -n "$cand" ] || continue
        if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
            command -v "$cand"; return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' | sort -t. -k3 -n -r); do
            p="$(pyenv prefix "$v" 2>/dev/null)/bin/python3.10"
            if [ -x "$p" ]; then echo "$p"; return 0; fi
        done
    fi
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    if ! PY=$(find_python310); then
        echo "error: neurokit needs Python 3.10 (lava-nc 0.10 and lava-dl 0.6 require <3.11) and none was found on PATH or in pyenv." >&2
        echo "fix: install it, e.g. 'pyenv install 3.10.13' or 'apt-get install python3.10 python3.10-venv', or set PYTHON310=/path/to/python3.10" >&2
        exit 1
    fi
    echo "setup: creating $VENV with $PY" >&2
    "$PY" -m venv "$VENV"
fi

want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
    echo "setup: installing neurokit[dev] into $VENV (first time: ~3 GB download, a few minutes)" >&2
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[dev]"
    # neurobench's op counter (tests compare neurokit's counts with it): its declared requirements would replace
    # torchaudio and pull librosa and numba; the counter itself needs only torch
    "$VENV/bin/python" -m pip install -q --no-deps neurobench==2.3.0
    echo "$want" > "$STAMP"
fi
