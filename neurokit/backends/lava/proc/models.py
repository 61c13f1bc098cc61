"""Process models for neurokit's Lava processes, floating_pt and fixed_pt.

ConversionLIF's models inherit all sub-threshold arithmetic from Lava's own abstract LIF models
(24-bit wrap of u, saturation of v, 12-bit decays with du's +1 offset, bias_mant << bias_exp,
a_in << 6, spike if v > vth << 6) and change only the reset (its amount), the window start (its offset, u_init,
v_init, which input is dropped then) and add a second input port for recurrent projections (a_rec).
Absolute imports only: Lava's compiler loads this file as a standalone module.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import AbstractPyLifModelFixed, AbstractPyLifModelFloat

from neurokit.backends.lava.proc.process import (ConversionLIF, InputSource, PhaseNeuron, PotentialReader,
                                                SpikeCounter, StateRecorder)


class _ConversionMixin:
    """Window start, recurrent input, reset and refractory steps, shared by the float and fixed models."""

    def _setup_conversion(self):
        p = self.proc_params
        self.subtract = p["reset_mode"] == "subtract"
        self.interval = int(p["reset_interval"])
        self.offset = int(p.get("reset_offset", 1)) % self.interval if self.interval else 0
        self.keep_first = bool(p.get("keep_first_input", False))
        self.reset_amount = p.get("reset_amount", None)
        self.refractory = int(p.get("refractory", 0))
        self.hold = None  # refractory steps left per neuron

    def run_spk(self):
        a_in = self.a_in.recv()
        a_rec = self.a_rec.recv()  # zeros when nothing is connected
        if self.interval and self.time_step % self.interval == self.offset:
            self.u[:] = self.u_init
            self.v[:] = self.v_init
            # what the previous sample caused: a fresh network has none in flight
            if not self.keep_first:
                a_in = np.zeros_like(a_in)
            a_rec = np.zeros_like(a_rec)
            if self.hold is not None:
                self.hold[:] = 0
        if self.a_rec_connected:
            a_in = a_in + a_rec  # as one InPort adds its channels (int32 wraps)
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        before = self.v.copy() if self.refractory else None
        self.subthr_dynamics(activation_in=a_in)
        if self.refractory:  # a refractory neuron's v is not updated (u integrates); the engine's rule
            if self.hold is None:
                self.hold = np.zeros(self.v.shape, np.int64)
            held = self.hold > 0
            self.v[held] = before[held]
            self.hold[held] -= 1
        spikes = self.spiking_activation()
        if self.subtract:
            self.v[spikes] -= self.threshold_value() if self.reset_amount is None else self.reset_amount
        else:
            self.v[spikes] = 0
        if self.refractory:
            self.hold[spikes] = self.refractory
        self.s_out.send(spikes)

    @property
    def a_rec_connected(self) -> bool:
        return bool(self.a_rec.csp_ports)


@implements(proc=ConversionLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyConversionLIFModelFloat(_ConversionMixin, AbstractPyLifModelFloat):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_rec: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    vth: float = LavaPyType(float, float)
    v_init: np.ndarray = LavaPyType(np.ndarray, float)
    u_init: np.ndarray = LavaPyType(np.ndarray, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._setup_conversion()
        self.isthrscaled = True
        self.ge = bool(proc_params.get("threshold_ge", False))
        self.u_bias = proc_params.get("u_bias", None)
        if self.reset_amount is not None:
            self.reset_amount = float(self.reset_amount)

    def subthr_dynamics(self, activation_in: np.ndarray):
        if self.u_bias is None:
            return super().subthr_dynamics(activation_in)
        # Lava's order, with the bias into u after the input (neurokit's float engine's order)
        self.u[:] = self.u * (1 - self.du)
        self.u[:] += activation_in
        self.u[:] += self.u_bias
        self.v[:] = self.v * (1 - self.dv) + self.u + self.bias_mant

    def scale_bias(self):
        pass  # Lava's float LIF adds bias_mant as is

    def scale_threshold(self):
        pass

    def threshold_value(self):
        return self.vth

    def spiking_activation(self):
        return self.v >= self.vth if self.ge else self.v > self.vth


@implements(proc=ConversionLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyConversionLIFModelBitAcc(_ConversionMixin, AbstractPyLifModelFixed):
    # Types and threshold handling as Lava's PyLifModelBitAcc (lava/proc/lif/models.py).
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    a_rec: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int16, precision=16)  # as Lava's LIF declares a_in
    vth: int = LavaPyType(int, np.int32, precision=17)
    v_init: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    u_init: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._setup_conversion()
        self.effective_vth = 0
        if self.reset_amount is not None:
            self.reset_amount = np.int32(self.reset_amount)  # raw v units

    def scale_threshold(self):
        self.effective_vth = np.left_shift(self.vth, self.vth_shift)
        self.isthrscaled = True

    def threshold_value(self):
        # v was saturated to 24 bits before the spike test; subtracting vth << 6 stays in range.
        return self.effective_vth

    def spiking_activation(self):
        return self.v > self.effective_vth


class _AbstractInputSourceModel(PyLoihiProcessModel):
    s_out = None
    data = None

    def run_spk(self):
        frame = ((self.time_step - 1) // self.proc_params["hold"]) % self.data.shape[-1]
        self.s_out.send(self.data[..., frame])


@implements(proc=InputSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyInputSourceModelFloat(_AbstractInputSourceModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    data: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=InputSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyInputSourceModelFixed(_AbstractInputSourceModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    data: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)


class _AbstractSpikeCounterModel(PyLoihiProcessModel):
    a_in = None
    per_window: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)
    per_neuron: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)
    count: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)

    def run_spk(self):
        spikes = (self.a_in.recv() != 0).astype(np.int32)
        step = self.time_step - 1 - self.proc_params.get("offset", 0)
        window = step // self.proc_params["interval"]
        if step < 0 or window >= self.per_window.shape[0]:
            return  # before the population's first window, or after the last
        self.per_window[window] += spikes.sum()
        self.per_neuron += spikes
        if self.proc_params["per_neuron_windows"]:
            self.count[window] += spikes


@implements(proc=SpikeCounter, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySpikeCounterModelFloat(_AbstractSpikeCounterModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)


@implements(proc=SpikeCounter, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeCounterModelFixed(_AbstractSpikeCounterModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)


class _AbstractStateRecorderModel(PyLoihiProcessModel):
    s_in = None
    u_ref = None
    v_ref = None
    dtype = None

    def __init__(self, proc_params):
        super().__init__(proc_params)
        shape = (proc_params["steps"],) + tuple(proc_params["shape"])
        self.history = {k: np.zeros(shape, self.dtype) for k in ("s", "u", "v")}

    def run_spk(self):
        s = self.s_in.recv()
        if self.time_step <= self.proc_params["steps"]:
            self.history["s"][self.time_step - 1] = s

    def post_guard(self):
        return self.time_step <= self.proc_params["steps"]

    def run_post_mgmt(self):
        # after the neuron's spiking phase of this step: u and v after reset
        self.history["u"][self.time_step - 1] = self.u_ref.read()
        self.history["v"][self.time_step - 1] = self.v_ref.read()
        if self.time_step == self.proc_params["steps"]:
            np.savez(self.proc_params["path"], **self.history)


@implements(proc=StateRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyStateRecorderModelFloat(_AbstractStateRecorderModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    u_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, float)
    v_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, float)
    dtype = np.float64


@implements(proc=StateRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStateRecorderModelFixed(_AbstractStateRecorderModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    u_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32, precision=24)
    v_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32, precision=24)
    dtype = np.int64


class _AbstractPhaseNeuronModel(PyLoihiProcessModel):
    """The window schedule of PhaseNeuron; the models differ in integrate() only."""

    a_in = None
    s_out = None
    u = None
    v = None

    def run_spk(self):
        a_in = self.a_in.recv()
        p = self.proc_params
        interval = int(p["reset_interval"])
        t = (self.time_step - 1) % interval if interval else self.time_step - 1
        if t == 0:
            self.u[:] = 0
            self.v[:] = 0
        offset, integrate, window = int(p["offset"]), int(p["integrate"]), int(p["window"])
        end = offset + integrate - 1
        if offset <= t <= end and t > 0:
            self.integrate(a_in)
            if t == end:
                self.v[:] = self.u
                self.u[:] = 0
        k = t - end - 1
        if 0 <= k < window:
            spikes = (self.v >= self.lo[k]) & (self.v < self.hi[k])
        else:
            spikes = np.zeros(self.v.shape, bool)
        self.s_out.send(spikes)


@implements(proc=PhaseNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyPhaseNeuronModelFloat(_AbstractPhaseNeuronModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    u: np.ndarray = LavaPyType(np.ndarray, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, float)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, float)
    decay: float = LavaPyType(float, float)
    lo: np.ndarray = LavaPyType(np.ndarray, float)
    hi: np.ndarray = LavaPyType(np.ndarray, float)

    def integrate(self, a_in):
        # (u * decay + a_in) + bias, the order neurokit's float engine uses
        self.u[:] = self.u * self.decay + a_in + self.bias_mant


@implements(proc=PhaseNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyPhaseNeuronModelFixed(_AbstractPhaseNeuronModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    u: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=16)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    decay: int = LavaPyType(int, np.int32, precision=13)
    lo: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)
    hi: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)

    def integrate(self, a_in):
        u = self.u.astype(np.int64)
        d = int(np.asarray(self.decay).reshape(-1)[0])
        if d != 4096:
            x = u * d
            u = np.where(x < 0, -((-x) >> 12), x >> 12)  # trunc(u * d / 4096), toward zero
        e = int(np.asarray(self.bias_exp).reshape(-1)[0])
        mant = self.bias_mant.astype(np.int64)
        bias = mant << e if e >= 0 else mant >> -e
        u = u + (np.asarray(a_in).astype(np.int64) << 6) + bias
        self.u[:] = np.clip(u, -((1 << 23) - 1), (1 << 23) - 1)


class _AbstractPotentialReaderModel(PyLoihiProcessModel):
    v_ref = None
    scores = None

    def post_guard(self):
        step = self.time_step - self.proc_params.get("offset", 0)
        return step > 0 and step % self.proc_params["interval"] == 0 and \
            (step - 1) // self.proc_params["interval"] < self.scores.shape[0]

    def run_post_mgmt(self):
        window = (self.time_step - self.proc_params.get("offset", 0) - 1) // self.proc_params["interval"]
        self.scores[window] = self.v_ref.read()

    def run_spk(self):
        pass


@implements(proc=PotentialReader, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyPotentialReaderModelFloat(_AbstractPotentialReaderModel):
    v_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, float)
    scores: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=PotentialReader, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyPotentialReaderModelFixed(_AbstractPotentialReaderModel):
    v_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32, precision=24)
    scores: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)
