"""Clean interrupts (issue 15, item 4): Ctrl-C to the whole process group, or SIGTERM to neurokit, while Lava's
processes run, ends neurokit and every Lava process within seconds, frees their shared memory, prints one
line and exits 130 / 143."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quantize import quantize, save_quantized

NEUROKIT = str(Path(sys.executable).with_name("neurokit"))


def _children(session: int) -> list[str]:
    """Live processes of the session other than its leader (an exited one waiting to be reaped is not alive)."""
    out = subprocess.run(["pgrep", "-s", str(session)], capture_output=True, text=True).stdout.split()
    alive = []
    for pid in out:
        state = subprocess.run(["ps", "-o", "stat=", "-p", pid], capture_output=True, text=True).stdout.strip()
        if pid != str(session) and state and not state.startswith("Z"):
            alive.append(pid)
    return alive


@pytest.fixture(scope="module")
def quantized_cnn(digits_cnn_net, digits, profile, tmp_path_factory):
    q, _ = quantize(digits_cnn_net, profile, digits.x_train[:100])
    path = tmp_path_factory.mktemp("interrupt") / "cnn.q.nir"
    save_quantized(q, path)
    return path


@pytest.mark.parametrize("sig, group, code", [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)])
def test_an_interrupt_during_the_lava_run_stops_everything(sig, group, code, quantized_cnn):
    shm_before = set(os.listdir("/dev/shm"))
    p = subprocess.Popen([NEUROKIT, "verify", str(quantized_cnn), "--data", "digits", "--samples", "200", "--steps",
                          "64"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(_children(p.pid)) < 2:  # Lava's processes are up
        time.sleep(0.2)
    assert len(_children(p.pid)) >= 2, "Lava's processes never started"
    time.sleep(1.0)
    sent = time.time()
    if group:
        os.killpg(p.pid, sig)  # what a terminal's Ctrl-C does
    else:
        p.send_signal(sig)
    try:
        _, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        pytest.fail("neurokit did not stop within 20 s of the signal")
    assert p.returncode == code
    lines = err.decode().strip().splitlines()
    assert lines == [f"neurokit: interrupted ({signal.Signals(sig).name}); stopped cleanly"]
    assert time.time() - sent < 20
    for _ in range(10):
        if not _children(p.pid):
            break
        time.sleep(0.5)
    assert _children(p.pid) == []  # no Lava process left behind
    assert set(os.listdir("/dev/shm")) - shm_before == set()  # no shared memory leaked
