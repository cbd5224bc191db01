"""``python -m relukit bench``: relukit against NumPy (and PyTorch / numexpr / JAX when installed).

Every op of :data:`relukit.OPS` is measured (plus ``gelu_tanh``, gelu with
``approximate="tanh"``), in the variants that apply to it:

``forward in place``
    relukit ``op.forward(x, out=x)`` against the op's NumPy idiom written back into ``x``
    (``op.numpy_forward``: for relu ``np.maximum(x, 0, out=x)``, for the smooth ops the
    formula assigned with ``x[...] = ...``). Every op but crelu and brelu.
``forward out of place``
    relukit ``op.forward(x)`` against NumPy's out-of-place formula (:data:`NUMPY_IDIOMS`,
    ``np.maximum(x, 0)`` for relu). Every op.
``forward + mask``
    (ops whose backward needs a mask: relu, relu6, leaky_relu) relukit
    ``op.forward(x, out=x, return_mask=True)``, which writes a bit-packed mask in the same
    pass, against NumPy saving a bool mask and then rectifying in place:
    ``m = op.numpy_saved(x); op.numpy_forward(x)``.
``backward``
    relukit ``op.backward(g, saved, out=g)``, ``saved`` being the bit mask, the forward's
    output or its input as ``op.backward_needs`` says, against
    ``op.numpy_backward(g, op.numpy_saved(x))`` (for relu ``np.multiply(g, m, out=g)`` with
    the bool mask ``m``). prelu, crelu and brelu return new arrays.

The composite ops run on shapes of their own (:func:`composite_shape`): prelu on an NCHW
array ``(32, C, H, W)`` of n elements with one weight per channel, crelu on ``(n / 1000,
1000)`` (output twice as wide), brelu on ``(n,)`` with 4 biases (output ``(n, 4)``).

Columns: NumPy, relukit (automatic dispatch), the speed-up NumPy time / relukit time, the
backend automatic dispatch chose, relukit forced to each compiled backend (``use_backend``),
and the PyTorch / numexpr / JAX peers when they are importable (``--peers`` picks some,
``--no-peers`` none), PyTorch also as "vs torch" = torch time / relukit time, and "best
peer" (the fastest peer of the row) with "vs best" = its time / relukit time. A bandwidth
table compares relukit's in-place forward with ``np.negative(x, out=x)``, a
one-read-one-write pass over the same memory (2 * x.nbytes moved per call), and shows the
best peer's GB/s. ``--plot FILE.png`` draws the results (matplotlib).

JAX (:func:`_jax_elementwise`, :func:`_jax_contender`): jax.nn's function for every op that
has one (relu, relu6, leaky_relu, elu, selu, celu, softplus, silu, gelu with
``approximate=False`` and ``True``); for prelu, crelu, brelu the straightforward formula
(``jnp.where(x > 0, x, x * w)``, ``jnp.concatenate((relu(x), relu(-x)), -1)``,
``relu(x[..., None] - b)``), and for "forward + mask" ``(f(x), x > 0)`` (relu6:
``(x > 0) & (x < 6)``) from one jitted function; no cell is left without a JAX form.
Backwards are ``jax.vjp`` of the forward applied to g (prelu: to x and w). Each is
``jax.jit``-compiled and warmed up before timing, its inputs made JAX arrays once (outside
the timing), and the timed call ends with ``.block_until_ready()``. JAX arrays are
immutable: there is no in-place form, so JAX's "forward in place" cells time the functional
op, which allocates its result. float64 cells need ``jax_enable_x64``, which the command
turns on when it runs float64 (float32 results are bit-identical with it on). XLA's CPU
client reports no thread count; its intra-op pool has one thread per usable core and no
XLA flag limits it for elementwise ops, the CPU affinity does (``taskset``;
:func:`jax_threads`); the header says what it found.

Timing method (:func:`measure`): the contenders of one cell (op, variant, n, dtype) are
timed interleaved, in a new random order each repeat (seeded, so reruns take the same
sequence; a fixed rotation would put each contender behind the same neighbour every time,
and what runs just before a call, a single-threaded idiom with the other core asleep or a
parallel one with it awake, changes a parallel call's time), the garbage collector off.
A sample is k calls of one contender, k calibrated per contender so that a sample takes about
2 ms (1 ms with ``--quick``), except from n = 10**6 on, where k = 1. The table shows the
median over the repeats ("reps") of sample time / k. Inputs are standard normal (half
negative), so a kernel with a data-dependent branch pays for its mispredictions.

Whatever mutates its input gets it back from a pristine copy (``np.copyto``, never inside
the timed region):

* input "fresh": from n = 10**6 on, for every smooth and composite op and leaky_relu
  (fed back, their outputs drift towards the subnormals), or when every
  contender's call takes at least 10 us, each call is timed on its own right after a
  restore, so every timed call sees the original data (a timer read per call costs < 1 %
  at 10 us, ~70 ns per call on the development machine; nothing is subtracted);
* input "reused": shorter calls of relu and relu6 (forward, mask and backward)
  are timed k back-to-back after one restore, so calls 2..k
  of an in-place op see its own output (for relu: no negatives left). That flatters kernels
  whose speed depends on the data, and the table says so in its "input" column.

Before timing, each contender's result is checked against ``relukit.reference``: relukit
bit-exactly for the piecewise-linear ops, within ``op.max_ulp`` ulp for the smooth ones; the
NumPy idiom and the peers within a relative tolerance (:func:`_close_checker`; JAX's float
results must also keep the input's dtype). A wrong relukit result is flagged with ``!`` (and
the exit status is 1); a peer that fails is dropped with a note.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import importlib.metadata
import inspect
import json
import math
import os
import platform
import random
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import relukit

VARIANTS = ("forward in place", "forward out of place", "forward + mask", "backward")
VARIANT_KEYS = {"inplace": "forward in place", "oop": "forward out of place",
                "mask": "forward + mask", "backward": "backward"}

DEFAULT_SIZES = (10**3, 10**4, 10**5, 10**6, 10**7)
QUICK_SIZES = (10**3, 10**5, 10**6, 10**7)
QUICK_EXTRA = ((10**6, "float64"),)      # --quick: float32 at QUICK_SIZES plus these
# --quick runs the smooth and composite ops (compute-heavy, or many contenders) only here:
QUICK_SMOOTH_PAIRS = ((10**3, "float32"), (10**6, "float32"))
BIG_SIZE = 10**8
LARGE_N = 10**6                          # from here on: k = 1, input restored before every call
OVERHEAD_SIZES = (10, 1000)

GELU_C = math.sqrt(2 / math.pi)          # the tanh approximation's constants
GELU_K = 0.044715


# --------------------------------------------------------------------------------------
# What is benchmarked: the op table, plus parameter variants worth their own rows
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchOp:
    """One benchmarked op: an entry of ``relukit.OPS`` with the parameters it is called with.

    ``key`` names the rows (and ``--ops``): the op's name, or e.g. ``gelu_tanh``."""
    key: str
    op: object                     # relukit.ops.Op
    params: dict
    group: str                     # "masked", "smooth" or "composite"

    @property
    def name(self):
        return self.key


# extra rows: op name -> ((key, parameter overrides), ...)
EXTRA_PARAMS = {"gelu": (("gelu_tanh", {"approximate": "tanh"}),)}


def _group(op):
    if op.kind != "elementwise":
        return "composite"
    return "masked" if op.backward_needs == "mask" else "smooth"


def bench_ops():
    """Every :class:`BenchOp`, in op-table order (parameter variants after their op)."""
    out = []
    for name, op in relukit.OPS.items():
        out.append(BenchOp(name, op, dict(op.params), _group(op)))
        for key, over in EXTRA_PARAMS.get(name, ()):
            out.append(BenchOp(key, op, {**op.params, **over}, _group(op)))
    return out


def as_bench_op(op):
    """A BenchOp for ``op`` (a BenchOp, an ``relukit.OPS`` entry, or a key)."""
    if isinstance(op, BenchOp):
        return op
    key = op if isinstance(op, str) else op.name
    for b in bench_ops():
        if b.key == key:
            return b
    raise KeyError(f"unknown op {key!r}; known: {[b.key for b in bench_ops()]}")


def variants_of(op):
    """The variants that apply to ``op`` (a BenchOp or an op-table entry)."""
    b = as_bench_op(op)
    if b.group == "masked":
        return list(VARIANTS)
    if b.group == "smooth":
        return ["forward in place", "forward out of place", "backward"]
    if b.key == "prelu":
        return ["forward in place", "forward out of place", "backward"]
    return ["forward out of place", "backward"]                # crelu, brelu: new arrays


def memory_bound(op):
    """Whether the op's time is set by memory traffic (piecewise-linear ops) rather than by
    arithmetic (the smooth ops); the plot shows GB/s for the first kind, ns/element else."""
    return as_bench_op(op).group != "smooth"


# --------------------------------------------------------------------------------------
# NumPy idioms
# --------------------------------------------------------------------------------------
def _assign(x, value):
    x[...] = value
    return x


def _gelu_tanh(x):
    # x * x * x, not x ** 3: NumPy's power has fast paths for squares and square roots only
    return 0.5 * x * (1 + np.tanh(GELU_C * (x + GELU_K * (x * x * x))))


def _gelu_tanh_backward(g, x):
    t = np.tanh(GELU_C * (x + GELU_K * (x * x * x)))
    return _assign(g, g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_K * x * x)))


def _np_erf():
    from relukit import ops
    return ops._erf()


# Out-of-place NumPy formulas (what a NumPy user writes when the input must be kept), and
# overrides of the op table's idioms: key -> {"oop": (f(x, **params), text), "forward":
# f(x) in place, "saved": f(x), "backward": f(g, saved)}. Where "oop" is missing, an op whose
# backward takes the forward's output uses op.numpy_saved (that is its forward formula).
NUMPY_IDIOMS: dict[str, dict] = {
    "relu": {"oop": (lambda x: np.maximum(x, 0), "np.maximum(x, 0)")},
    "relu6": {"oop": (lambda x: np.clip(x, 0, 6), "np.clip(x, 0, 6)")},
    "leaky_relu": {"oop": (lambda x, negative_slope=0.01: np.where(x > 0, x, x * x.dtype.type(negative_slope)),
                           "np.where(x > 0, x, x * slope)")},
    "silu": {"oop": (lambda x: x / (1 + np.exp(-x)), "x / (1 + np.exp(-x))")},
    "gelu": {"oop": (lambda x, approximate="none": 0.5 * x * (1 + _np_erf()(x * math.sqrt(0.5))),
                     "0.5 * x * (1 + erf(x * sqrt(0.5)))")},
    "gelu_tanh": {"oop": (lambda x, approximate="tanh": _gelu_tanh(x),
                          "0.5 * x * (1 + np.tanh(c * (x + 0.044715 * (x * x * x))))"),
                  "forward": lambda x: _assign(x, _gelu_tanh(x)),
                  "saved": lambda x: x.copy(),
                  "backward": _gelu_tanh_backward},
}


@dataclass
class NumpyIdioms:
    forward: Callable | None       # in place: f(x) -> x
    oop: Callable | None           # f(x) -> new array
    oop_text: str
    saved: Callable | None         # f(x) -> what a NumPy user keeps for the backward
    backward: Callable | None      # f(g, saved) -> g (in place)


def numpy_idioms(bop):
    """The NumPy idioms an elementwise BenchOp is compared with, its parameters bound."""
    op, P = bop.op, bop.params
    over = NUMPY_IDIOMS.get(bop.key, {})

    def bind(f):
        # bind the parameters the idiom takes (leaky_relu's numpy_saved takes none)
        if f is None or not P:
            return f
        try:
            names = inspect.signature(f).parameters
        except (TypeError, ValueError):
            return functools.partial(f, **P)
        kw = {k: v for k, v in P.items() if k in names}
        return functools.partial(f, **kw) if kw else f
    forward = over.get("forward") or bind(op.numpy_forward)
    saved = over.get("saved") or bind(op.numpy_saved)
    backward = over.get("backward") or bind(op.numpy_backward)
    if "oop" in over:
        f, text = over["oop"]
        oop = bind(f)
    elif op.backward_needs == "output" and op.numpy_saved is not None:
        oop, text = bind(op.numpy_saved), op.numpy_text
    else:
        oop, text = None, ""
    return NumpyIdioms(forward, oop, text, saved, backward)


# --------------------------------------------------------------------------------------
# Peers: PyTorch and numexpr, on arrays sharing memory with the NumPy buffers
# --------------------------------------------------------------------------------------
def _torch_idioms(torch, bop):
    """PyTorch's calls for an elementwise op: ``forward_`` (in place), ``forward``,
    ``keep`` (bool mask a user would save), ``saved`` (what torch's autograd saves for the
    backward: "output" or "input") and ``backward_(g, saved)`` (aten's backward kernel,
    written into g through its ``grad_input=`` overload)."""
    F, aten = torch.nn.functional, torch.ops.aten
    P = bop.params
    key = bop.key
    if key == "relu":
        return dict(forward_=torch.relu_, forward=torch.relu, keep=lambda t: t > 0, saved="output",
                    backward_=lambda g, y: aten.threshold_backward.grad_input(g, y, 0, grad_input=g))
    if key == "relu6":
        return dict(forward_=lambda t: F.relu6(t, inplace=True), forward=F.relu6,
                    keep=lambda t: (t > 0) & (t < 6), saved="input",
                    backward_=lambda g, x: aten.hardtanh_backward.grad_input(g, x, 0.0, 6.0, grad_input=g))
    if key == "leaky_relu":
        s = P["negative_slope"]
        return dict(forward_=lambda t: F.leaky_relu_(t, s), forward=lambda t: F.leaky_relu(t, s),
                    keep=lambda t: t > 0, saved="input",
                    backward_=lambda g, x: aten.leaky_relu_backward.grad_input(g, x, s, False, grad_input=g))
    if key in ("elu", "selu", "celu"):
        if key == "elu":
            a = P["alpha"]
            fwd_, fwd, coef = (lambda t: F.elu_(t, a)), (lambda t: F.elu(t, a)), (a, 1.0, 1.0)
        elif key == "selu":
            fwd_, fwd = torch.selu_, torch.selu
            coef = (relukit.reference.SELU_ALPHA, relukit.reference.SELU_SCALE, 1.0)
        else:
            a = P["alpha"]
            fwd_, fwd, coef = (lambda t: torch.celu_(t, a)), (lambda t: F.celu(t, a)), (a, 1.0, 1.0 / a)
        return dict(forward_=fwd_, forward=fwd, saved="output",
                    backward_=lambda g, y: aten.elu_backward.grad_input(g, *coef, True, y, grad_input=g))
    if key == "softplus":
        b, th = P["beta"], P["threshold"]
        # torch has no in-place softplus: its out= overload writes into x
        return dict(forward_=lambda t: aten.softplus.out(t, b, th, out=t),
                    forward=lambda t: F.softplus(t, b, th), saved="input",
                    backward_=lambda g, x: aten.softplus_backward.grad_input(g, x, b, th, grad_input=g))
    if key == "silu":
        return dict(forward_=lambda t: F.silu(t, inplace=True), forward=F.silu, saved="input",
                    backward_=lambda g, x: aten.silu_backward.grad_input(g, x, grad_input=g))
    if key in ("gelu", "gelu_tanh"):
        ap = P["approximate"]
        return dict(forward_=lambda t: aten.gelu_(t, approximate=ap),
                    forward=lambda t: F.gelu(t, approximate=ap), saved="input",
                    backward_=lambda g, x: aten.gelu_backward.grad_input(g, x, approximate=ap, grad_input=g))
    return None


TORCH_TEXT = {
    "relu": "torch.relu_ / torch.relu; backward aten.threshold_backward(g, y, 0)",
    "relu6": "F.relu6(inplace=True) / F.relu6; backward aten.hardtanh_backward(g, x, 0, 6)",
    "leaky_relu": "F.leaky_relu_ / F.leaky_relu; backward aten.leaky_relu_backward(g, x, slope, False)",
    "prelu": "F.prelu (no in-place form); backward aten._prelu_kernel_backward + sum over (N, H, W)",
    "crelu": "torch.cat((torch.relu(x), torch.relu(-x)), -1); backward threshold_backward on both halves",
    "brelu": "torch.relu(x[..., None] - b); backward threshold_backward(g, y, 0).sum(-1)",
    "elu": "F.elu_ / F.elu; backward aten.elu_backward(g, alpha, 1, 1, is_result=True, y)",
    "selu": "torch.selu_ / torch.selu; backward aten.elu_backward(g, alpha, scale, 1, True, y)",
    "celu": "torch.celu_ / F.celu; backward aten.elu_backward(g, alpha, 1, 1/alpha, True, y)",
    "softplus": "aten.softplus.out(x, out=x) (no in-place softplus) / F.softplus; backward "
                "aten.softplus_backward(g, x)",
    "silu": "F.silu(inplace=True) / F.silu; backward aten.silu_backward(g, x)",
    "gelu": "aten.gelu_ / F.gelu(approximate='none'); backward aten.gelu_backward(g, x)",
    "gelu_tanh": "aten.gelu_ / F.gelu(approximate='tanh'); backward aten.gelu_backward(g, x, 'tanh')",
}


def _numexpr_idioms(bop, dtype):
    """numexpr expressions over x (input), y (output), m (bool mask), g (gradient) and typed
    constants (so float32 stays float32): {"forward", "saved"(mask), "backward",
    "backward_saved" ("mask", "output" or "input"), "const"}; None where numexpr has no
    natural form (gelu: numexpr has no erf; composite ops)."""
    P = bop.params
    t = np.dtype(dtype).type
    key = bop.key
    if key == "relu":
        return dict(forward="where(x > 0, x, 0)", saved="x > 0", backward="where(m, g, 0)",
                    backward_saved="mask", const={})
    if key == "relu6":
        return dict(forward="where(x > 0, where(x < 6, x, 6), 0)", saved="(x > 0) & (x < 6)",
                    backward="where(m, g, 0)", backward_saved="mask", const={})
    if key == "leaky_relu":
        return dict(forward="where(x > 0, x, x * s)", saved="x > 0", backward="where(m, g, g * s)",
                    backward_saved="mask", const={"s": t(P["negative_slope"])})
    if key == "elu":
        return dict(forward="where(x > 0, x, a * expm1(x))", backward="where(y > 0, g, g * (y + a))",
                    backward_saved="output", const={"a": t(P["alpha"])})
    if key == "selu":
        al, sc = relukit.reference.SELU_ALPHA, relukit.reference.SELU_SCALE
        return dict(forward="where(x > 0, sc * x, asc * expm1(x))",
                    backward="where(y > 0, g * sc, g * (y + asc))", backward_saved="output",
                    const={"sc": t(sc), "asc": t(al * sc)})
    if key == "celu":
        return dict(forward="where(x > 0, x, a * expm1(x / a))",
                    backward="where(y > 0, g, g * (y + a) / a)", backward_saved="output",
                    const={"a": t(P["alpha"])})
    if key == "softplus":
        return dict(forward="where(b * x > th, x, log1p(exp(b * x)) / b)",
                    backward="where(b * y > th, g, g * (1 - exp(-b * y)))", backward_saved="output",
                    const={"b": t(P["beta"]), "th": t(P["threshold"])})
    if key == "silu":
        return dict(forward="x / (1 + exp(-x))",
                    backward="g * (1 / (1 + exp(-x))) * (1 + x * (1 - 1 / (1 + exp(-x))))",
                    backward_saved="input", const={})
    if key == "gelu_tanh":
        u = "c * (x + k * x * x * x)"
        return dict(forward=f"h * x * (1 + tanh({u}))",
                    backward=f"g * (h * (1 + tanh({u})) + h * x * (1 - tanh({u}) ** 2) * c * (1 + k3 * x * x))",
                    backward_saved="input",
                    const={"h": t(0.5), "c": t(GELU_C), "k": t(GELU_K), "k3": t(3 * GELU_K)})
    if key == "prelu":
        return dict(forward="where(x > 0, x, x * w)", const={})
    return None


def _jax_idioms(jax, bop):
    """JAX's functions for an elementwise op: ``forward`` (f(x), jax.nn's function with the
    op's parameters) and, for the masked ops, ``keep`` (the bool mask a user would save).
    The backward is ``jax.vjp`` of ``forward`` (:func:`_jax_elementwise`). None where jax.nn
    has no such function."""
    nn = jax.nn
    P = bop.params
    key = bop.key
    # Python floats for the parameters: JAX treats them as weakly typed, so float32 stays float32
    if key == "relu":
        return dict(forward=nn.relu, keep=lambda x: x > 0)
    if key == "relu6":
        return dict(forward=nn.relu6, keep=lambda x: (x > 0) & (x < 6))
    if key == "leaky_relu":
        s = float(P["negative_slope"])
        return dict(forward=lambda x: nn.leaky_relu(x, s), keep=lambda x: x > 0)
    if key == "elu":
        a = float(P["alpha"])
        return dict(forward=lambda x: nn.elu(x, a))
    if key == "selu":
        return dict(forward=nn.selu)
    if key == "celu":
        a = float(P["alpha"])
        return dict(forward=lambda x: nn.celu(x, a))
    if key == "softplus":
        # jax.nn.softplus is logaddexp(x, 0): no beta, no threshold (where torch and relukit
        # return x; beyond it the two differ by < exp(-threshold), and the bench's standard
        # normal inputs never reach it)
        b = float(P["beta"])
        if b == 1.0:
            return dict(forward=nn.softplus)
        return dict(forward=lambda x: nn.softplus(b * x) / b)
    if key == "silu":
        return dict(forward=nn.silu)
    if key in ("gelu", "gelu_tanh"):
        ap = P["approximate"] == "tanh"
        return dict(forward=lambda x: nn.gelu(x, approximate=ap))
    return None


# Where JAX's derivative at a kink is not relukit's (and torch's): the backward check accepts
# JAX's value at x == 0 (standard normal float32 inputs hold an exact 0 at n = 10**7).
JAX_KINK_GRAD = {
    "leaky_relu": "jax.nn.leaky_relu's derivative at x = 0 is 1 (jnp.where(x >= 0, ...)), relukit's and "
                  "torch's the slope",
}

JAX_TEXT = {
    "relu": "jax.nn.relu; mask x > 0",
    "relu6": "jax.nn.relu6; mask (x > 0) & (x < 6)",
    "leaky_relu": "jax.nn.leaky_relu(x, slope); mask x > 0",
    "prelu": "jnp.where(x > 0, x, x * w[:, None, None]) (formula; jax.nn has no prelu)",
    "crelu": "jnp.concatenate((jax.nn.relu(x), jax.nn.relu(-x)), -1) (formula)",
    "brelu": "jax.nn.relu(x[..., None] - b) (formula)",
    "elu": "jax.nn.elu(x, alpha)",
    "selu": "jax.nn.selu",
    "celu": "jax.nn.celu(x, alpha)",
    "softplus": "jax.nn.softplus (logaddexp(x, 0): no threshold)",
    "silu": "jax.nn.silu",
    "gelu": "jax.nn.gelu(x, approximate=False)",
    "gelu_tanh": "jax.nn.gelu(x, approximate=True)",
}


def jax_enable_x64(jax):
    """Let JAX hold float64 arrays (its default truncates them to float32). Needed for the
    float64 cells; float32 results do not change: jax.nn's functions and their vjp gave
    bit-identical float32 outputs with x64 off and on (every op of the bench, 10**5
    standard normal inputs, jax 0.10.2)."""
    jax.config.update("jax_enable_x64", True)


def _jax_x64(jax):
    return bool(getattr(jax.config, "jax_enable_x64", False))


def jax_threads(jax=None):
    """How many threads XLA's CPU client runs an elementwise op on, as far as can be told:
    returns (threads, text). JAX has no call that reports or sets it; its CPU client sizes
    its intra-op pool to the usable cores (the process's CPU affinity), and XLA_FLAGS does
    not change that for elementwise fusions: ``--xla_cpu_multi_thread_eigen=false`` concerns
    Eigen calls only (with it, two pool threads still shared a 3 * 10**7 float32 gelu on 2
    cores, jax 0.10.2, per-thread CPU time sampled every 0.1 s), while ``taskset -c 0`` left
    one thread doing all the work. So: the usable cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count()
    flags = os.environ.get("XLA_FLAGS", "")
    extra = f"; XLA_FLAGS={flags!r} (does not limit it)" if flags else ""
    return cores, f"XLA CPU intra-op pool, one thread per usable core{extra}"


def _to_numpy(r):
    return r.numpy() if hasattr(r, "numpy") else np.asarray(r)


# --------------------------------------------------------------------------------------
# Contenders and cells
# --------------------------------------------------------------------------------------
@dataclass
class Contender:
    """One implementation in a cell: ``call()`` does one call; ``restore()`` (if any) resets
    the arrays it mutates; ``check(result)`` raises AssertionError on a wrong result."""
    name: str                     # column: numpy, relukit, cython, numba, torch, numexpr, np.negative
    call: Callable[[], object]
    restore: Callable[[], object] | None = None
    check: Callable[[object], None] | None = None
    backend: str | None = None    # relukit backend forced with use_backend() around the calls
    kind: str = "relukit"         # relukit | numpy | peer | reference
    bytes_moved: int = 0
    prime: Callable[[], object] | None = None   # untimed call before each sample (JAX: see _jax_contender)

    def context(self):
        return relukit.use_backend(self.backend) if self.backend else contextlib.nullcontext()

    def run_checked(self):
        """Restore, call once (inside the backend context) and check the result; returns
        (result, seconds the call took)."""
        if self.restore is not None:
            self.restore()
        with self.context():
            t0 = time.perf_counter()
            result = self.call()
            seconds = time.perf_counter() - t0
        if self.check is not None:
            self.check(result)
        return result, seconds


@dataclass
class Cell:
    op: str
    variant: str
    n: int
    dtype: str
    contenders: list
    notes: list = field(default_factory=list)
    auto_backend: str = "?"
    fresh: bool = True            # set by measure(): every timed call saw the pristine input
    group: str = "masked"
    shape: tuple = ()
    bytes_moved: int = 0          # what the variant must move at least (GB/s in the plot)


class Inputs:
    """Pristine, read-only inputs for one (n, dtype): x0 (forward input) and g0 (gradient),
    plus :meth:`extra` arrays and a cache of reference results shared by the cells."""

    def __init__(self, n, dtype, seed=0):
        rng = np.random.default_rng(seed)
        dt = np.dtype(dtype)
        self.x0 = self._normal(rng, n, dt)
        self.g0 = self._normal(rng, n, dt)
        self.x0.flags.writeable = False
        self.g0.flags.writeable = False
        self.n = n
        self.dtype = dt
        self.seed = seed
        self.cache = {}

    @staticmethod
    def _normal(rng, size, dt):
        if dt in (np.float32, np.float64):
            return rng.standard_normal(size, dtype=dt)
        return rng.standard_normal(size).astype(dt)

    def extra(self, name, size):
        """A read-only standard-normal array of ``size`` elements, the same on every call."""
        key = ("extra", name, size)
        if key not in self.cache:
            rng = np.random.default_rng([self.seed, size, sum(map(ord, name))])
            a = self._normal(rng, size, self.dtype)
            a.flags.writeable = False
            self.cache[key] = a
        return self.cache[key]

    def cached(self, key, compute):
        if key not in self.cache:
            v = compute()
            for a in (v if isinstance(v, tuple) else (v,)):
                if isinstance(a, np.ndarray):
                    a.flags.writeable = False
            self.cache[key] = v
        return self.cache[key]


PEER_NAMES = ("torch", "numexpr", "jax")


def load_peers(enabled=True, names=None):
    """The optional peers that import: {"torch": module, "numexpr": module, "jax": module};
    ``names`` limits them to those named (default: all of :data:`PEER_NAMES`)."""
    peers = {}
    if not enabled:
        return peers
    for name in PEER_NAMES:
        if names is not None and name not in names:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mod = __import__(name)
                if name == "jax":
                    import jax.numpy  # noqa: F401
                    mod.devices("cpu")          # a jaxlib that cannot start fails here
            peers[name] = mod
        except Exception:        # absent, or broken install: the column is left out
            pass
    return peers


def relukit_saved(op, x0, params=None):
    """What relukit's backward of elementwise ``op`` takes for input ``x0``, as the op table
    says: the bit mask, the forward's output, or ``x0`` itself."""
    op = op.op if isinstance(op, BenchOp) else op
    P = op.params if params is None else params
    if op.backward_needs == "mask":
        return op.ref_forward(x0, return_mask=True, **P)[1]
    if op.backward_needs == "output":
        return op.ref_forward(x0, **P)
    return x0


def _exact_checker(op, expected, what, max_ulp=None):
    """Bit-exact comparison (or within the op's ``max_ulp`` for float results)."""
    max_ulp = op.max_ulp if max_ulp is None else max_ulp

    def check(actual):
        actual = np.asarray(actual)
        if actual.shape != expected.shape or actual.dtype != expected.dtype:
            raise AssertionError(f"{what}: got {actual.dtype}{actual.shape}, expected "
                                 f"{expected.dtype}{expected.shape}")
        if max_ulp and expected.dtype.kind == "f":
            np.testing.assert_array_max_ulp(actual, expected, maxulp=max_ulp)
        elif not np.array_equal(actual, expected, equal_nan=True):
            bad = int(np.count_nonzero(~((actual == expected) | (np.isnan(actual) & np.isnan(expected)))))
            raise AssertionError(f"{what}: {bad} of {actual.size} elements differ from the NumPy reference")
    return check


def _ulp_checker(op, expected, what, slack=None):
    """Within ``op.max_ulp`` ulp of the reference (smooth ops).

    In float64 the NumPy reference is no more precise than the kernels (it evaluates in
    float64 too), and where its formula cancels (silu's and gelu's derivatives near their
    zero) or amplifies rounding (gelu tanh's far negative tail) the reference itself is off
    by more than 4 ulp; relukit's bound is measured against mpmath in
    tests/test_smooth_accuracy.py. So in float64 an element may also differ by
    ``max_ulp * slack()`` (:func:`_float64_slack`: a few eps times the size of the terms
    the formula combines)."""
    max_ulp = op.max_ulp

    def check(actual):
        actual = np.asarray(actual)
        if actual.shape != expected.shape or actual.dtype != expected.dtype:
            raise AssertionError(f"{what}: got {actual.dtype}{actual.shape}, expected "
                                 f"{expected.dtype}{expected.shape}")
        try:
            np.testing.assert_array_max_ulp(actual, expected, maxulp=max_ulp)
            return
        except AssertionError:
            if slack is None or expected.dtype != np.float64:
                raise
        with np.errstate(all="ignore"):
            tol = max_ulp * (np.spacing(np.abs(expected)) + slack())
            diff = np.abs(actual - expected)
            bad = ~((diff <= tol) | (actual == expected) | (np.isnan(actual) & np.isnan(expected)))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise AssertionError(f"{what}: {int(bad.sum())} of {actual.size} elements are more than "
                                 f"{max_ulp} ulp from the reference, beyond its own rounding "
                                 f"(first: {actual.flat[i]!r} vs {expected.flat[i]!r})")
    return check


def _float64_slack(scale, arg):
    """eps * |scale| * (1 + |arg|)**3: what evaluating a smooth op's formula in float64 may
    lose (terms up to (1 + |x|) times the result cancel; exp(c x**3) amplifies rounding)."""
    with np.errstate(all="ignore"):
        a = np.abs(np.asarray(arg, dtype=np.float64))
        return np.finfo(np.float64).eps * np.abs(np.asarray(scale, dtype=np.float64)) * (1 + a) ** 3


# Tolerances for NumPy's idioms and the peers: (rtol, atol) by itemsize. The smooth ops'
# straightforward formulas cancel (exp(x) - 1 near 0) and the peers evaluate them in the
# input's precision, so they get an absolute slack too.
CLOSE_TOL = {"exact": {4: (1e-5, 0.0), 8: (1e-12, 0.0)},
             "smooth": {4: (1e-4, 1e-6), 8: (1e-10, 1e-13)}}


def _close_checker(expected, what, kind="exact", scale=None):
    """np.allclose with :data:`CLOSE_TOL`; ``scale`` (an array) multiplies the absolute
    tolerance element by element (the smooth backwards: 1 + |g|, the size of the upstream
    gradient the formula's terms carry; float32 formulas lose that much where they cancel,
    e.g. 1 - tanh(u)**2 in gelu tanh's tail)."""
    rtol, atol = CLOSE_TOL[kind][4 if expected.dtype.itemsize <= 4 else 8]
    if scale is not None:
        atol = atol * scale

    def check(actual):
        actual = np.asarray(actual)
        if actual.shape != expected.shape:
            raise AssertionError(f"{what}: got shape {actual.shape}, expected {expected.shape}")
        if not np.allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True):
            err = np.abs(actual.astype(np.float64) - expected) / (atol + rtol * np.abs(expected.astype(np.float64)))
            i = int(np.nanargmax(err))
            raise AssertionError(f"{what}: result differs from the NumPy reference (worst: "
                                 f"{actual.flat[i]!r} vs {expected.flat[i]!r})")
    return check


def _sum_checker(expected, scale, what):
    """For a reduction (prelu's weight gradient): |actual - expected| <= tol * sum |terms|."""
    tol = 1e-5 if expected.dtype.itemsize <= 4 else 1e-12

    def check(actual):
        actual = np.asarray(actual)
        if actual.shape != expected.shape:
            raise AssertionError(f"{what}: got shape {actual.shape}, expected {expected.shape}")
        if not np.all(np.abs(actual.astype(np.float64) - expected) <= tol * scale + 1e-30):
            raise AssertionError(f"{what}: result differs from the NumPy reference")
    return check


def _backend_runs(explain_text):
    try:
        return explain_text.splitlines()[0].split("backend ", 1)[1].strip()
    except (IndexError, AttributeError):
        return "?"


def which_backend(op, variant, x, g=None, saved=None, forced=None):
    """The backend relukit runs for this call (automatic, or with ``forced`` in force)."""
    bop = as_bench_op(op)
    op = bop.op
    with (relukit.use_backend(forced) if forced else contextlib.nullcontext()):
        try:
            if bop.group == "composite":
                # one decision per call, on x (crelu's and brelu's outputs have other shapes)
                if variant == "backward":
                    return _backend_runs(relukit.explain(op.backward.__name__, x))
                if variant == "forward in place":
                    return _backend_runs(relukit.explain(op.name, x, out=x))
                return _backend_runs(relukit.explain(op.name, x))
            if variant == "backward":
                return _backend_runs(relukit.explain(op.backward.__name__, g, out=g))
            if variant == "forward out of place":
                return _backend_runs(relukit.explain(op.name, x))
            return _backend_runs(relukit.explain(op.name, x, out=x, return_mask=variant == "forward + mask"))
        except Exception:
            return "?"


def composite_shape(key, n):
    """The shape x has in the composite ops' cells.

    prelu: NCHW ``(B, C, H, W)`` with B the largest of 32, 16, ... 1 dividing n, C the
    divisor of n / B closest to 64 (log scale), H x W the rest (10**6: (32, 50, 25, 25));
    crelu: ``(n / 1000, 1000)`` (``(n,)`` when 1000 does not divide n); brelu: ``(n,)``."""
    if key == "prelu":
        B = next(b for b in (32, 16, 8, 4, 2, 1) if n % b == 0)
        rest = n // B
        divs = [d for d in range(1, min(rest, 4096) + 1) if rest % d == 0]
        C = min(divs, key=lambda d: (abs(math.log(d / 64)), d))
        L = rest // C
        H = max(d for d in range(1, math.isqrt(L) + 1) if L % d == 0)
        return (B, C, H, L // H)
    if key == "crelu":
        return (n // 1000, 1000) if n % 1000 == 0 and n >= 1000 else (n,)
    return (n,)


def build_cell(op, variant, inputs, *, backends=True, peers=None, bandwidth=False):
    """The contenders of one cell, sharing work buffers restored from ``inputs``.

    ``op``: a :class:`BenchOp` (or an ``relukit.OPS`` entry, or a key); ``backends``: add
    relukit forced to each compiled backend; ``peers``: the dict from :func:`load_peers`;
    ``bandwidth``: add the ``np.negative`` bandwidth reference (in place on the mutated
    buffer for in-place variants, allocating for out of place; elementwise ops only).
    """
    bop = as_bench_op(op)
    if variant not in variants_of(bop):
        raise ValueError(f"variant {variant!r} does not apply to {bop.key}; it has {variants_of(bop)}")
    cell = Cell(bop.key, variant, inputs.n, inputs.dtype.name, [], group=bop.group)
    if bop.group == "composite":
        _build_composite(cell, bop, variant, inputs, backends, peers or {})
    else:
        _build_elementwise(cell, bop, variant, inputs, backends, peers or {}, bandwidth)
    return cell


def _add_relukit(cell, bop, variant, make, backends, x, g=None, saved=None):
    """make(forced_backend) -> Contender, for automatic dispatch and each forced backend."""
    cell.contenders.append(make(None))
    if not backends:
        return
    forced = backends if isinstance(backends, tuple) else ("cython", "numba")
    for b in forced:
        if b not in relukit.backends():
            continue
        runs = which_backend(bop, variant, x, g, saved, forced=b)
        if runs != b:
            cell.notes.append(f"{b} column: this call cannot run on {b} (it runs {runs})")
            continue
        cell.contenders.append(make(b))


def _torch_call(idiom, variant, t, tg, ts):
    """The zero-argument PyTorch call of ``variant`` (None where it has none); ``ts`` is the
    tensor torch's autograd would have kept for the backward."""
    if variant == "forward in place":
        fwd_ = idiom["forward_"]
        return lambda: fwd_(t)
    if variant == "forward out of place":
        fwd = idiom["forward"]
        return lambda: fwd(t)
    if variant == "forward + mask" and "keep" in idiom:
        fwd_, keep = idiom["forward_"], idiom["keep"]

        def mask_forward():
            m = keep(t)
            fwd_(t)
            return m
        return mask_forward
    if variant == "backward":
        bwd_ = idiom["backward_"]
        return lambda: bwd_(tg, ts)
    return None


def _numexpr_call(evaluate, expr, variant, x, g, saved):
    """The zero-argument numexpr call of ``variant``; ``saved``: (name, array) for the backward."""
    dx = {"x": x, **expr["const"]}
    fwd = expr["forward"]
    if variant == "forward in place":
        return lambda: evaluate(fwd, local_dict=dx, out=x)
    if variant == "forward out of place":
        return lambda: evaluate(fwd, local_dict=dx)
    if variant == "forward + mask" and "saved" in expr:
        keep = expr["saved"]

        def mask_forward():
            m = evaluate(keep, local_dict=dx)
            evaluate(fwd, local_dict=dx, out=x)
            return m
        return mask_forward
    if variant == "backward" and saved is not None:
        dg = {"g": g, saved[0]: saved[1], **expr["const"]}
        bexpr = expr["backward"]
        return lambda: evaluate(bexpr, local_dict=dg, out=g)
    return None


def _jax_array(jax, inputs, name, a):
    """``a`` as a JAX array on the CPU device, made once per :class:`Inputs` (outside any
    timing) from the pristine read-only array, so no contender's in-place call can reach it."""
    def make():
        arr = jax.numpy.array(a)                 # a copy
        arr.block_until_ready()
        return arr
    return inputs.cached(("jax", name, a.shape), make)


def _jax_dtype_ok(jax, cell, dtype):
    if np.dtype(dtype) == np.float64 and not _jax_x64(jax):
        cell.notes.append("jax column: float64 needs jax_enable_x64 (off in this process); left out")
        return False
    return True


def _jax_contender(cell, jax, fn, args, check, dtype, bytes_moved):
    """The JAX contender timing ``fn(*args)`` (``fn`` jitted), or None (with a note on the
    cell) where JAX cannot run it. ``fn`` is compiled and warmed up here, outside the timing;
    the timed call ends with ``block_until_ready()`` (JAX dispatches asynchronously), so it
    measures the op until its result exists. ``check`` sees the result; a float output must
    also have the input's dtype (float32 stays float32 with x64 enabled).

    The contender's ``prime`` makes one untimed call before each sample (and before each
    call timed alone): XLA's CPU runtime hands the work to a pool thread that sleeps once
    idle, and the first call after the other contenders ran paid for waking it: a jitted
    relu on 10**3 float32 took 8 us per call back to back, 66 us after 0.1 ms of NumPy
    work and 150 us after 2 ms (2-core machine, jax 0.10.2). Primed, the samples measure
    the op and JAX's steady per-call dispatch, not that wake-up."""
    dt = np.dtype(dtype)
    try:
        out = jax.block_until_ready(fn(*args))      # compiles
        jax.block_until_ready(fn(*args))            # and runs once compiled
    except Exception as exc:
        cell.notes.append(f"jax dropped: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        return None
    if isinstance(out, (tuple, list)):
        sync = jax.block_until_ready

        def call():
            return sync(fn(*args))
    else:
        def call():
            return fn(*args).block_until_ready()

    def checked(r):
        for a in (r if isinstance(r, (tuple, list)) else (r,)):
            if np.dtype(a.dtype).kind == "f" and np.dtype(a.dtype) != dt:
                raise AssertionError(f"jax returned {np.dtype(a.dtype)} for a {dt} input")
        check(r)
    return Contender("jax", call, None, checked, kind="peer", bytes_moved=bytes_moved, prime=call)


def _jax_elementwise(jax, cell, bop, variant, inputs, check, bytes_moved):
    """The JAX contender of an elementwise cell (None where JAX has no such call).

    JAX arrays are immutable: there is no in-place form, so the "forward in place" cells
    time the functional op (a new array), as the out-of-place ones do. "forward + mask"
    returns (f(x), mask) from one jitted function; "backward" is ``jax.vjp(f, x)`` applied
    to g, jitted together: JAX keeps the input x and recomputes what the derivative needs."""
    idiom = _jax_idioms(jax, bop)
    if idiom is None:
        return None
    f = idiom["forward"]
    if variant == "forward + mask":
        if "keep" not in idiom:
            return None
        keep = idiom["keep"]
        fn = jax.jit(lambda x: (f(x), keep(x)))
    elif variant == "backward":
        fn = jax.jit(lambda x, g: jax.vjp(f, x)[1](g)[0])
    else:
        fn = jax.jit(f)
    if not _jax_dtype_ok(jax, cell, inputs.dtype):
        return None
    args = (_jax_array(jax, inputs, "x0", inputs.x0),)
    if variant == "backward":
        args += (_jax_array(jax, inputs, "g0", inputs.g0),)
    return _jax_contender(cell, jax, fn, args, check, inputs.dtype, bytes_moved)


def _build_elementwise(cell, bop, variant, inputs, backends, peers, bandwidth):
    op, P = bop.op, bop.params
    masked = bop.group == "masked"
    x0, g0 = inputs.x0, inputs.g0
    nbytes = x0.nbytes
    x = x0.copy()
    g = g0.copy()
    cell.shape = x0.shape

    def restore_x():
        np.copyto(x, x0)

    def restore_g():
        np.copyto(g, g0)

    # The timed relukit calls bind the op's parameters up front: a call spelled
    # f(x, out=x, **P) costs ~200 ns more than f(x, out=x) even when P is empty, which at
    # n = 10**3 would be more than the kernel itself.
    rk_forward = functools.partial(op.forward, **P) if P else op.forward
    rk_backward = functools.partial(op.backward, **P) if P else op.backward
    if masked:
        y_ref, mask_ref = inputs.cached((bop.key, "forward"),
                                        lambda: op.ref_forward(x0, return_mask=True, **P))
    else:
        y_ref, mask_ref = inputs.cached((bop.key, "forward"), lambda: op.ref_forward(x0, **P)), None
    rk_saved = {"mask": mask_ref, "output": y_ref, "input": x0}[op.backward_needs]
    close_kind = "exact" if masked else "smooth"
    C = Contender

    # The op's NumPy idioms; where the op table has none, its NumPy reference stands in.
    idioms = numpy_idioms(bop)
    np_forward, np_saved_of, np_backward = idioms.forward, idioms.saved, idioms.backward
    if np_forward is None:
        np_forward = lambda a: op.ref_forward(a, out=a, **P)                   # noqa: E731
        if variant != "backward":
            cell.notes.append("NumPy column: the op has no numpy_forward; its NumPy reference is timed")
    if np_saved_of is None or np_backward is None:
        np_saved_of = lambda a: relukit_saved(op, a, P)                       # noqa: E731
        np_backward = lambda gr, sv: op.ref_backward(gr, sv, out=gr, **P)     # noqa: E731
        if variant in ("backward", "forward + mask"):
            cell.notes.append("NumPy column: the op has no numpy_saved/numpy_backward; its NumPy "
                              "reference is timed")
    np_saved = inputs.cached((bop.key, "numpy saved"), lambda: np_saved_of(x0)) \
        if variant in ("backward", "forward + mask") else None

    def forward_checker(what):
        if masked:
            return _exact_checker(op, y_ref, what)
        return _ulp_checker(op, y_ref, what, lambda: _float64_slack(y_ref, x0))

    if variant == "forward in place":
        bm = 2 * nbytes
        x_ok = forward_checker(f"{bop.key}(x, out=x)")
        x_close = _close_checker(y_ref, f"{bop.key} in place", close_kind)
        cell.contenders.append(C("numpy", lambda: np_forward(x), restore_x,
                                 lambda r: x_close(x), kind="numpy", bytes_moved=bm))
        _add_relukit(cell, bop, variant, lambda b: C(b or "relukit", lambda: rk_forward(x, out=x), restore_x,
                                                     lambda r: x_ok(x), backend=b, bytes_moved=bm),
                     backends, x, g, rk_saved)
        peer_spec = (restore_x, lambda r: x_close(x), bm)
        jax_spec = (lambda r: x_close(np.asarray(r)), bm)

    elif variant == "forward out of place":
        bm = 2 * nbytes
        y_ok = forward_checker(f"{bop.key}(x)")
        y_close = _close_checker(y_ref, f"{bop.key} out of place", close_kind)
        np_oop = idioms.oop
        if np_oop is None:
            np_oop = lambda a: op.ref_forward(a, **P)    # noqa: E731
            cell.notes.append("NumPy column: no out-of-place idiom registered; the NumPy reference is timed")
        cell.contenders.append(C("numpy", lambda: np_oop(x), None, y_close, kind="numpy", bytes_moved=bm))
        _add_relukit(cell, bop, variant, lambda b: C(b or "relukit", lambda: rk_forward(x), None, y_ok,
                                                     backend=b, bytes_moved=bm),
                     backends, x, g, rk_saved)
        peer_spec = (None, lambda r: y_close(_to_numpy(r)), bm)
        jax_spec = (lambda r: y_close(np.asarray(r)), bm)

    elif variant == "forward + mask":
        x_ok = _exact_checker(op, y_ref, f"{bop.key}(x, out=x, return_mask=True) output")
        m_ok = _exact_checker(op, mask_ref, f"{bop.key}(x, out=x, return_mask=True) mask", max_ulp=0)
        x_close = _close_checker(y_ref, f"{bop.key} in place")
        bits_ref = relukit.reference.unpack_mask(mask_ref, x0.shape)
        bits_ok = _exact_checker(op, bits_ref, f"{bop.key} saved bool mask", max_ulp=0)

        def rk_check(r):
            x_ok(x)
            m_ok(r[1])

        def np_mask_forward():
            m = np_saved_of(x)
            np_forward(x)
            return m

        def peer_check(m):
            x_close(x)
            m = np.asarray(m)
            if m.dtype == bool:                # a bool mask as NumPy users keep it
                bits_ok(m)

        bm_np = 2 * nbytes + x0.size          # read + write x, write a bool per element
        bm = 2 * nbytes + (x0.size + 7) // 8
        cell.contenders.append(C("numpy", np_mask_forward, restore_x, peer_check, kind="numpy", bytes_moved=bm_np))
        _add_relukit(cell, bop, variant,
                     lambda b: C(b or "relukit", lambda: rk_forward(x, out=x, return_mask=True),
                                 restore_x, rk_check, backend=b, bytes_moved=bm),
                     backends, x, g, rk_saved)
        peer_spec = (restore_x, lambda m: peer_check(_to_numpy(m)), bm_np)

        def jax_check(r):
            x_close(np.asarray(r[0]))
            bits_ok(np.asarray(r[1]))
        jax_spec = (jax_check, bm_np)

    elif variant == "backward":
        g_ref = inputs.cached((bop.key, "backward"), lambda: op.ref_backward(g0, rk_saved, **P))
        if masked:
            g_ok = _exact_checker(op, g_ref, f"{op.backward.__name__}(g, saved, out=g)")
        else:
            g_ok = _ulp_checker(op, g_ref, f"{op.backward.__name__}(g, saved, out=g)",
                                lambda: _float64_slack(g0, rk_saved))
        g_close = _close_checker(g_ref, f"{bop.key} backward in place", close_kind,
                                 None if masked else 1 + np.abs(g0.astype(np.float64)))
        bm = 2 * nbytes + rk_saved.nbytes
        cell.contenders.append(C("numpy", lambda: np_backward(g, np_saved), restore_g,
                                 lambda r: g_close(g), kind="numpy", bytes_moved=2 * nbytes + np_saved.nbytes))
        _add_relukit(cell, bop, variant,
                     lambda b: C(b or "relukit", lambda: rk_backward(g, rk_saved, out=g), restore_g,
                                 lambda r: g_ok(g), backend=b, bytes_moved=bm),
                     backends, x, g, rk_saved)
        peer_spec = (restore_g, lambda r: g_close(g), 2 * nbytes + nbytes)
        jax_close = g_close
        if "jax" in peers and bop.key in JAX_KINK_GRAD and np.any(x0 == 0):
            # where x == 0 JAX's derivative takes the other side's value (both are subgradients)
            jax_close = _close_checker(np.where(x0 == 0, g0, g_ref), f"{bop.key} backward (jax)", close_kind)
            cell.notes.append(f"jax column: {JAX_KINK_GRAD[bop.key]}; its {int(np.sum(x0 == 0))} "
                              "element(s) at x == 0 are checked against that")
        jax_spec = (lambda r: jax_close(np.asarray(r)), 2 * nbytes + nbytes)     # reads x and g
    else:
        raise ValueError(f"unknown variant {variant!r}; known: {VARIANTS}")
    cell.bytes_moved = bm

    # Peers: the same calls on the same buffers, checked like NumPy's idiom.
    rest, check, bm_peer = peer_spec
    torch = peers.get("torch")
    idiom = _torch_idioms(torch, bop) if torch is not None else None
    if idiom is not None:
        t, tg = torch.from_numpy(x), torch.from_numpy(g)
        call = None
        call = _torch_call(idiom, variant, t, tg, torch.from_numpy(
            np.array(y_ref if idiom["saved"] == "output" else x0)) if variant == "backward" else None)
        if call is not None:
            cell.contenders.append(C("torch", call, rest, check, kind="peer", bytes_moved=bm_peer))

    ne = peers.get("numexpr")
    expr = _numexpr_idioms(bop, x0.dtype) if ne is not None else None
    if expr is not None and "backward_saved" in expr:
        sv = None
        if variant == "backward":
            sv = {"mask": ("m", np_saved), "output": ("y", np.ascontiguousarray(y_ref)),
                  "input": ("x", x0)}[expr["backward_saved"]]
            if sv[0] == "m" and (sv[1] is None or sv[1].dtype != bool):
                sv = None
        call = _numexpr_call(ne.evaluate, expr, variant, x, g, sv)
        if call is not None:
            cell.contenders.append(C("numexpr", call, rest, check, kind="peer", bytes_moved=bm_peer))

    jx = peers.get("jax")
    if jx is not None:
        c = _jax_elementwise(jx, cell, bop, variant, inputs, *jax_spec)
        if c is not None:
            cell.contenders.append(c)

    if bandwidth:
        # One read and one write of the array, with the variant's memory pattern.
        if variant == "forward out of place":
            neg_ok = _exact_checker(op, -x0, "np.negative(x)", max_ulp=0)
            cell.contenders.append(C("np.negative", lambda: np.negative(x), None, neg_ok,
                                     kind="reference", bytes_moved=2 * nbytes))
        else:
            buf, buf0, rest = (g, g0, restore_g) if variant == "backward" else (x, x0, restore_x)
            neg_ok = _exact_checker(op, -buf0, "np.negative(a, out=a)", max_ulp=0)
            cell.contenders.append(C("np.negative", lambda: np.negative(buf, out=buf), rest,
                                     lambda r: neg_ok(buf), kind="reference", bytes_moved=2 * nbytes))
    cell.auto_backend = which_backend(bop, variant, x, g, rk_saved)


def _jax_crelu(jax):
    relu, jnp = jax.nn.relu, jax.numpy
    return lambda a: jnp.concatenate((relu(a), relu(-a)), axis=-1)


def _build_composite(cell, bop, variant, inputs, backends, peers):
    """prelu, crelu, brelu: their own shapes, extra arguments and output shapes."""
    op, key = bop.op, bop.key
    dt, n = inputs.dtype, inputs.n
    shape = composite_shape(key, n)
    cell.shape = shape
    x0 = inputs.x0.reshape(shape)
    x = x0.copy()
    nb = x0.nbytes
    C = Contender
    args = op.sample_args(x0, np.random.default_rng(1))
    torch = peers.get("torch")
    ne = peers.get("numexpr")
    tx = torch.from_numpy(x) if torch is not None else None
    jx = peers.get("jax")
    if jx is not None and not _jax_dtype_ok(jx, cell, dt):
        jx = None
    jax_call = None                   # (jitted fn, args, check): the straightforward JAX formula
    close = functools.partial(_close_checker, kind="exact")
    peer_calls = {}                   # name -> (call, restore, check)

    def restore_x():
        np.copyto(x, x0)

    if key == "prelu":
        w = np.asarray(args["weight"]).astype(dt)
        wb = w.reshape((1, -1) + (1,) * (x0.ndim - 2))          # w[:, None, None] for NCHW
        y_ref = inputs.cached((key, "forward"), lambda: op.ref_forward(x0, w))
        if variant in ("forward in place", "forward out of place"):
            inplace = variant == "forward in place"
            ok = _exact_checker(op, y_ref, f"prelu(x, w{', out=x' if inplace else ''})")
            near = close(y_ref, f"prelu {'in place' if inplace else 'out of place'}")
            bm = 2 * nb
            if inplace:
                np_call = lambda: _assign(x, np.where(x > 0, x, x * wb))   # noqa: E731
                cell.contenders.append(C("numpy", np_call, restore_x, lambda r: near(x), kind="numpy",
                                         bytes_moved=bm))
                _add_relukit(cell, bop, variant,
                             lambda b: C(b or "relukit", lambda: op.forward(x, w, out=x), restore_x,
                                         lambda r: ok(x), backend=b, bytes_moved=bm), backends, x)
                if ne is not None:
                    dx = {"x": x, "w": wb}
                    peer_calls["numexpr"] = (lambda: ne.evaluate("where(x > 0, x, x * w)", local_dict=dx, out=x),
                                             restore_x, lambda r: near(x))
            else:
                cell.contenders.append(C("numpy", lambda: np.where(x > 0, x, x * wb), None, near,
                                         kind="numpy", bytes_moved=bm))
                _add_relukit(cell, bop, variant,
                             lambda b: C(b or "relukit", lambda: op.forward(x, w), None, ok, backend=b,
                                         bytes_moved=bm), backends, x)
                if torch is not None:
                    tw = torch.from_numpy(w)
                    peer_calls["torch"] = (lambda: torch.nn.functional.prelu(tx, tw), None,
                                           lambda r: near(_to_numpy(r)))
                if ne is not None:
                    dx = {"x": x, "w": wb}
                    peer_calls["numexpr"] = (lambda: ne.evaluate("where(x > 0, x, x * w)", local_dict=dx),
                                             None, near)
            if jx is not None:
                # no in-place form: both forward cells time the functional formula
                jnp = jx.numpy
                jax_call = (jx.jit(lambda a, ww: jnp.where(a > 0, a, a * ww)),
                            (_jax_array(jx, inputs, "x0", x0), _jax_array(jx, inputs, "prelu w", wb)),
                            lambda r: near(np.asarray(r)))
        else:                                                      # backward
            g0 = inputs.g0.reshape(shape)
            gx_ref, gw_ref = inputs.cached((key, "backward"), lambda: op.ref_backward(g0, x0, w))
            axes = tuple(d for d in range(x0.ndim) if d != 1)
            scale = inputs.cached((key, "wscale"), lambda: np.abs(
                np.where(x0 > 0, 0, x0.astype(np.float64) * g0)).sum(axis=axes))
            gx_ok = _exact_checker(op, gx_ref, "prelu_backward grad_x")
            gw_ok = _exact_checker(op, gw_ref, "prelu_backward grad_weight")
            gx_near = close(gx_ref, "prelu backward grad_x")
            gw_near = _sum_checker(gw_ref, scale, "prelu backward grad_weight")

            def rk_check(r):
                gx_ok(r[0])
                gw_ok(r[1])

            def near(r):
                gx_near(_to_numpy(r[0]))
                gw_near(_to_numpy(r[1]))

            def np_backward():
                pos = x0 > 0
                return np.where(pos, g0, g0 * wb), np.where(pos, 0, x0 * g0).sum(axis=axes)
            bm = 3 * nb
            cell.contenders.append(C("numpy", np_backward, None, near, kind="numpy", bytes_moved=bm))
            _add_relukit(cell, bop, variant,
                         lambda b: C(b or "relukit", lambda: op.backward(g0, x0, w), None, rk_check,
                                     backend=b, bytes_moved=bm), backends, x0)
            if torch is not None:
                tg0, tx0 = torch.from_numpy(np.array(g0)), torch.from_numpy(np.array(x0))
                tw4 = torch.from_numpy(wb.copy())
                kernel_backward = torch.ops.aten._prelu_kernel_backward

                def torch_backward():
                    gi, gw_full = kernel_backward(tg0, tx0, tw4)
                    return gi, gw_full.sum(dim=axes)
                peer_calls["torch"] = (torch_backward, None, near)
            if jx is not None:
                jnp = jx.numpy

                def jax_backward(a, ww, gr):
                    gx, gw = jx.vjp(lambda a_, w_: jnp.where(a_ > 0, a_, a_ * w_), a, ww)[1](gr)
                    return gx, gw.reshape(-1)
                jax_call = (jx.jit(jax_backward),
                            (_jax_array(jx, inputs, "x0", x0), _jax_array(jx, inputs, "prelu w", wb),
                             _jax_array(jx, inputs, "g0", g0)), near)

    elif key == "crelu":
        ax = -1
        if variant == "forward out of place":
            y_ref = inputs.cached((key, "forward"), lambda: op.ref_forward(x0))
            ok = _exact_checker(op, y_ref, "crelu(x)")
            near = close(y_ref, "crelu")
            bm = 3 * nb
            cell.contenders.append(C("numpy", lambda: np.concatenate((np.maximum(x, 0), np.maximum(-x, 0)), axis=ax),
                                     None, near, kind="numpy", bytes_moved=bm))
            _add_relukit(cell, bop, variant, lambda b: C(b or "relukit", lambda: op.forward(x), None, ok,
                                                         backend=b, bytes_moved=bm), backends, x)
            if torch is not None:
                peer_calls["torch"] = (lambda: torch.cat((torch.relu(tx), torch.relu(-tx)), dim=ax), None,
                                       lambda r: near(_to_numpy(r)))
            if jx is not None:
                jax_call = (jx.jit(_jax_crelu(jx)), (_jax_array(jx, inputs, "x0", x0),),
                            lambda r: near(np.asarray(r)))
        else:
            gshape = shape[:-1] + (2 * shape[-1],)
            g0 = inputs.extra("crelu grad", 2 * n).reshape(gshape)
            g_ref = inputs.cached((key, "backward"), lambda: op.ref_backward(g0, x0))
            ok = _exact_checker(op, g_ref, "crelu_backward(g, x)")
            near = close(g_ref, "crelu backward")
            bm = 4 * nb
            k = shape[-1]

            def np_backward():
                g1, g2 = g0[..., :k], g0[..., k:]
                return np.where(x0 > 0, g1, 0) - np.where(x0 < 0, g2, 0)
            cell.contenders.append(C("numpy", np_backward, None, near, kind="numpy", bytes_moved=bm))
            _add_relukit(cell, bop, variant, lambda b: C(b or "relukit", lambda: op.backward(g0, x0), None, ok,
                                                         backend=b, bytes_moved=bm), backends, x0)
            if torch is not None:
                tg = torch.from_numpy(np.array(g0))
                tg1, tg2 = tg[..., :k], tg[..., k:]
                # what autograd keeps: the two relu outputs
                ty1 = torch.from_numpy(np.maximum(x0, 0))
                ty2 = torch.from_numpy(np.maximum(-x0, 0))
                tb = torch.ops.aten.threshold_backward
                peer_calls["torch"] = (lambda: tb(tg1, ty1, 0) - tb(tg2, ty2, 0), None,
                                       lambda r: near(_to_numpy(r)))
            if jx is not None:
                f = _jax_crelu(jx)
                jax_call = (jx.jit(lambda a, gr: jx.vjp(f, a)[1](gr)[0]),
                            (_jax_array(jx, inputs, "x0", x0), _jax_array(jx, inputs, "crelu grad", g0)),
                            lambda r: near(np.asarray(r)))

    elif key == "brelu":
        b = np.asarray(args["biases"]).astype(dt)
        if variant == "forward out of place":
            y_ref = inputs.cached((key, "forward"), lambda: op.ref_forward(x0, b))
            ok = _exact_checker(op, y_ref, "brelu(x, b)")
            near = close(y_ref, "brelu")
            bm = (1 + len(b)) * nb
            cell.contenders.append(C("numpy", lambda: np.maximum(x[..., None] - b, 0), None, near,
                                     kind="numpy", bytes_moved=bm))
            _add_relukit(cell, bop, variant, lambda bk: C(bk or "relukit", lambda: op.forward(x, b), None, ok,
                                                          backend=bk, bytes_moved=bm), backends, x)
            if torch is not None:
                tb_ = torch.from_numpy(b)
                peer_calls["torch"] = (lambda: torch.relu(tx.unsqueeze(-1) - tb_), None,
                                       lambda r: near(_to_numpy(r)))
            if jx is not None:
                jax_call = (jx.jit(lambda a, bb: jx.nn.relu(a[..., None] - bb)),
                            (_jax_array(jx, inputs, "x0", x0), _jax_array(jx, inputs, "brelu b", b)),
                            lambda r: near(np.asarray(r)))
        else:
            g0 = inputs.extra("brelu grad", len(b) * n).reshape(shape + (len(b),))
            g_ref = inputs.cached((key, "backward"), lambda: op.ref_backward(g0, x0, b))
            ok = _exact_checker(op, g_ref, "brelu_backward(g, x, b)")
            # a sum of len(b) terms: NumPy and the peers may add them in another order, and
            # where they cancel the sum's relative error is unbounded (JAX: 3.889203e-05 vs
            # 3.886223e-05, 10**6 float32); so the tolerance is relative to sum |g|
            gscale = inputs.cached((key, "gscale"), lambda: np.abs(g0.astype(np.float64)).sum(axis=-1))
            near = _sum_checker(g_ref, gscale, "brelu backward")
            bm = (2 + len(b)) * nb
            cell.contenders.append(C("numpy", lambda: np.where(x0[..., None] > b, g0, 0).sum(axis=-1), None,
                                     near, kind="numpy", bytes_moved=bm))
            _add_relukit(cell, bop, variant, lambda bk: C(bk or "relukit", lambda: op.backward(g0, x0, b), None,
                                                          ok, backend=bk, bytes_moved=bm), backends, x0)
            if torch is not None:
                tg = torch.from_numpy(np.array(g0))
                ty = torch.from_numpy(op.ref_forward(x0, b))           # autograd keeps the output
                tb = torch.ops.aten.threshold_backward
                peer_calls["torch"] = (lambda: tb(tg, ty, 0).sum(dim=-1), None, lambda r: near(_to_numpy(r)))
            if jx is not None:
                jax_call = (jx.jit(lambda a, bb, gr: jx.vjp(lambda a_: jx.nn.relu(a_[..., None] - bb), a)[1](gr)[0]),
                            (_jax_array(jx, inputs, "x0", x0), _jax_array(jx, inputs, "brelu b", b),
                             _jax_array(jx, inputs, "brelu grad", g0)),
                            lambda r: near(np.asarray(r)))
    else:
        raise ValueError(f"no benchmark for composite op {key!r}")

    cell.bytes_moved = bm
    for name in ("torch", "numexpr"):
        if name in peer_calls:
            call, rest, check = peer_calls[name]
            cell.contenders.append(C(name, call, rest, check, kind="peer", bytes_moved=bm))
    if jax_call is not None:
        c = _jax_contender(cell, jx, *jax_call, dt, bm)
        if c is not None:
            cell.contenders.append(c)
    cell.auto_backend = which_backend(bop, variant, x)


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------
_clock = time.perf_counter_ns


def _time_block(c, k):
    """Seconds for k back-to-back calls of ``c`` (restore and prime, if any, done before,
    untimed)."""
    if c.restore is not None:
        c.restore()
    call = c.call
    if c.prime is not None:
        c.prime()
    with c.context():
        t0 = _clock()
        for _ in range(k):
            call()
        t1 = _clock()
    return (t1 - t0) * 1e-9


def _time_fresh(c, k):
    """Seconds for k calls of ``c``, each timed alone after an untimed restore of its input."""
    call, restore, prime = c.call, c.restore, c.prime
    total = 0
    with c.context():
        for _ in range(k):
            if restore is not None:
                restore()
            if prime is not None:
                prime()
            t0 = _clock()
            call()
            total += _clock() - t0
    return total * 1e-9


def _time_restore(c):
    """Seconds of the untimed work before a sample (restore and prime)."""
    if c.restore is None and c.prime is None:
        return 0.0
    t0 = _clock()
    if c.restore is not None:
        c.restore()
    if c.prime is not None:
        c.prime()
    return (_clock() - t0) * 1e-9


@dataclass
class Timing:
    median: float                 # seconds per call
    minimum: float
    k: int                        # calls per sample
    repeats: int                  # samples
    samples: list
    fresh: bool                   # every timed call saw the pristine input
    error: str | None = None


_ORDER_SEED = 20261123      # the contenders' order within each repeat (see _measure)
FRESH_MIN_S = 10e-6   # a call this long is timed on its own (timer cost < 1%) on fresh input
# The smooth and composite ops: always (0 s). Their outputs fed back in drift (repeated selu
# overflows, repeated gelu zeroes the negatives, repeated silu, prelu and the backwards'
# g * f'(x) shrink towards the subnormals), and on a CPU with a subnormal penalty that is
# what gets timed: on a 2-core Xeon (Emerald Rapids), n = 10**3 float32, silu in place
# reused ran at 2.6 us for relukit and 3.3 us for PyTorch against 1.0 and 2.2 us out of
# place, and selu's backward in float64 at 4.3-4.8 us for every contender against 0.7 us
# on fresh input. The timer's cost, ~70 ns per call there, is counted for every contender
# alike (it narrows the ratios of the shortest calls, never widens them).
FRESH_MIN_S_SMOOTH = 0.0
# Masked ops whose short calls are timed on fresh input too, as FRESH_MIN_S_SMOOTH: fed back,
# leaky_relu multiplies the negatives by the slope again on every call (forward in place,
# + mask, and the backward's g * slope), so after ~20 calls they are subnormal: float32,
# n = 10, in place, relukit took 669 ns reused against 135 ns on fresh input.
DRIFTING_MASKED = frozenset({"leaky_relu"})


def measure(cell, *, repeats=15, min_repeats=5, target_s=2e-3, budget_s=4.0, large_n=LARGE_N,
            fresh_min_s=None):
    """Time the contenders of ``cell`` interleaved; returns {name: Timing} (see module doc).

    Each contender is first run once and checked (this is also its warm-up: a Numba kernel
    compiles or loads here). A relukit contender that fails its check is still timed and
    its Timing carries the error; a peer that fails is dropped (note added to the cell).

    Two ways to take a sample of k calls, chosen per cell:

    * fresh (n >= ``large_n``, where k = 1, or when every contender's single call takes at
      least ``fresh_min_s``, default :data:`FRESH_MIN_S` for the masked ops but leaky_relu
      and :data:`FRESH_MIN_S_SMOOTH` for the others): each call is timed on its own right after an untimed restore
      of its input, so every timed call sees the pristine data;
    * block (short calls): the input is restored once, then k back-to-back calls are timed
      together; calls 2..k of an in-place contender see its own output.
    """
    if fresh_min_s is None:
        fresh_min_s = (FRESH_MIN_S if cell.group == "masked" and cell.op not in DRIFTING_MASKED
                       else FRESH_MIN_S_SMOOTH)
    # reused input can overflow in the NumPy idioms (repeated selu): no warnings from that
    with np.errstate(all="ignore"):
        return _measure(cell, repeats, min_repeats, target_s, budget_s, large_n, fresh_min_s)


def _measure(cell, repeats, min_repeats, target_s, budget_s, large_n, fresh_min_s):
    live = []
    first = {}
    for c in cell.contenders:
        err = None
        try:
            _, first[c.name] = c.run_checked()
        except AssertionError as exc:
            err = str(exc)
        except Exception as exc:          # a peer idiom that does not run here
            if c.kind in ("relukit", "numpy", "reference"):
                raise
            err = f"{type(exc).__name__}: {exc}"
        if err is not None and c.kind == "peer":
            cell.notes.append(f"{c.name} dropped: {err}")
            continue
        if err is not None:
            cell.notes.append(f"{c.name}: WRONG RESULT: {err}")
            first.setdefault(c.name, 0.0)
        live.append((c, err))

    gc_was = gc.isenabled()
    gc.disable()
    try:
        # single-call probe (the checked call above stands in for it at large n)
        if cell.n >= large_n:
            single = {c.name: max(first[c.name], 1e-9) for c, _ in live}
        else:
            single = {c.name: max(min(_time_fresh(c, 1) for _ in range(3)), 1e-9) for c, _ in live}
        # (the np.negative yardstick is short by design: it does not decide)
        decisive = [single[c.name] for c, _ in live if c.kind != "reference"] or list(single.values())
        fresh = cell.n >= large_n or (bool(decisive) and min(decisive) >= fresh_min_s)
        ks = {}
        round_s = 0.0
        for c, _ in live:
            restore_s = _time_restore(c)
            if cell.n >= large_n:
                k = 1
            elif fresh:
                k = max(1, round(target_s / single[c.name]))
            else:
                k = 1                      # grow k until a block is long enough to scale from
                while True:
                    blk = _time_block(c, k)
                    if blk >= target_s / 8 or k >= 1 << 20:
                        break
                    k *= 8 if blk < target_s / 64 else 2
                single[c.name] = max(blk / k, 1e-9)
                k = max(1, min(1 << 22, round(target_s / single[c.name])))
            ks[c.name] = k
            round_s += k * single[c.name] + restore_s * (k if fresh else 1)
        reps = repeats
        if round_s * repeats > budget_s:
            reps = max(min_repeats, int(budget_s / max(round_s, 1e-12)))
        timer = _time_fresh if fresh else _time_block
        samples = {c.name: [] for c, _ in live}
        # A new random order per repeat (seeded: reruns time the same sequence). A rotating
        # order kept each contender behind the same one in every repeat: automatic dispatch
        # always ran right after NumPy's single-threaded idiom, while the second core slept,
        # and paid for waking the parallel backend's thread every time, whereas PyTorch ran
        # right after the forced Numba column, on warm cores (10**6 float32, elu backward:
        # relukit 312 us against 170 us for the same kernel in the numba column).
        order_rng = random.Random(_ORDER_SEED)
        for r in range(reps):
            for c, _ in order_rng.sample(live, len(live)):
                k = ks[c.name]
                samples[c.name].append(timer(c, k) / k)
    finally:
        if gc_was:
            gc.enable()
    cell.fresh = fresh or all(c.restore is None for c, _ in live)
    results = {}
    for c, err in live:
        s = samples[c.name]
        results[c.name] = Timing(statistics.median(s), min(s), ks[c.name], len(s), s,
                                 fresh or c.restore is None, err)
    return results


# --------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------
def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [f for f in ("avx512f", "avx2", "sse4_2", "neon", "asimd") if f in flags]
    except OSError:
        pass
    return []


def _l3_cache():
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for d in sorted(os.listdir(base)):
            p = os.path.join(base, d)
            with open(os.path.join(p, "level")) as fh:
                if fh.read().strip() == "3":
                    with open(os.path.join(p, "size")) as fh2:
                        return fh2.read().strip()
    except OSError:
        pass
    return None


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(peers):
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    env = {
        "cpu": _cpu_model(),
        "processor": platform.processor(),
        "machine": platform.machine(),
        "simd": _cpu_flags(),
        "l3": _l3_cache(),
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": _version("numba"),
        "relukit": relukit.__version__,
        "relukit_threads": relukit.get_num_threads(),
        "relukit_backends": relukit.backends(),
        "thresholds": relukit.thresholds(),
        "forced_backend": relukit.get_backend(),
    }
    if "torch" in peers:
        env["torch"] = peers["torch"].__version__
        env["torch_threads"] = peers["torch"].get_num_threads()
    try:
        env["loadavg_start"] = list(os.getloadavg())
    except (AttributeError, OSError):
        env["loadavg_start"] = None
    try:
        import scipy.special  # noqa: F401
        env["erf"] = f"scipy.special.erf (scipy {_version('scipy')})"
    except ImportError:
        env["erf"] = "math.erf element by element (np.frompyfunc; SciPy not installed)"
    if "numexpr" in peers:
        ne = peers["numexpr"]
        env["numexpr"] = ne.__version__
        env["numexpr_threads"] = getattr(ne, "nthreads", None) or ne.detect_number_of_cores()
    if "jax" in peers:
        jx = peers["jax"]
        env["jax"] = jx.__version__
        env["jax_threads"], env["jax_threads_text"] = jax_threads(jx)
        env["jax_x64"] = _jax_x64(jx)
        env["jax_device"] = str(jx.devices("cpu")[0])
    return env


def warm_up_numba(ops, dtypes, wanted=None, skip_masks=False):
    """Compile (or load) every Numba kernel the run will use; returns (seconds, warning lines).

    ``wanted(bench_op, dtype)`` limits it to the ops and dtypes the run times (a cold cache
    compiles every kernel variant: ~45 s for all ops in both dtypes on 2 cores)."""
    if "numba" not in relukit.backends():
        return 0.0, []
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with relukit.use_backend("numba"):
            for dt in dtypes:
                x0 = np.linspace(-1, 1, 64).astype(dt)
                for b in map(as_bench_op, ops):
                    if wanted is not None and not wanted(b, dt):
                        continue
                    op, P = b.op, b.params
                    if b.key == "prelu":
                        xs = x0.reshape(2, 4, 2, 4)
                        w = np.asarray(op.sample_args(xs, rng)["weight"]).astype(dt)
                        op.forward(xs.copy(), w)
                        xc = xs.copy()
                        op.forward(xc, w, out=xc)
                        op.backward(xs.copy(), xs, w)
                    elif b.key == "crelu":
                        xs = x0.reshape(4, 16)
                        op.backward(op.forward(xs), xs)
                    elif b.key == "brelu":
                        bs = np.asarray(op.sample_args(x0, rng)["biases"]).astype(dt)
                        op.backward(op.forward(x0, bs), x0, bs)
                    elif b.group != "composite":
                        op.forward(x0.copy(), **P)
                        xc = x0.copy()
                        op.forward(xc, out=xc, **P)
                        if b.group == "masked" and not skip_masks:
                            op.forward(x0.copy(), return_mask=True, **P)
                        if b.group != "masked" or not skip_masks:
                            op.backward(x0.copy(), relukit_saved(op, x0, P), **P)
    seconds = time.perf_counter() - t0
    texts = [str(w.message) for w in caught]
    uncached = sorted({t.split('"')[1] for t in texts if t.startswith("Cannot cache") and t.count('"') >= 2})
    msgs = []
    if uncached:
        first = next(t for t in texts if t.startswith("Cannot cache"))
        reason = first.split(" as it ", 1)[1] if " as it " in first else first
        msgs.append(f"Numba could not cache {', '.join(uncached)} on disk ({reason}); they are "
                    "JIT-compiled again in every process")
    msgs += sorted({t for t in texts if not t.startswith("Cannot cache")})
    return seconds, msgs


# --------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------
def fmt_time(s):
    if s is None or not math.isfinite(s):
        return "-"
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        v = s * 1e6
        return f"{v:.1f} us" if v < 100 else f"{v:.0f} us"
    if s < 1:
        v = s * 1e3
        return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms"
    return f"{s:.2f} s"


def best_peer(res, peer_names):
    """The name of the fastest peer (median) among ``res``'s timings, or None."""
    times = [(res[p].median, p) for p in peer_names if p in res]
    return min(times)[1] if times else None


def fmt_n(n):
    e = round(math.log10(n)) if n > 0 else 0
    return f"10^{e}" if 10**e == n else f"{n:,}"


def fmt_threshold(n):
    return "never" if n >= 2**60 else f">= {n:,}"


def fmt_gbs(bytes_moved, s):
    return f"{bytes_moved / s / 1e9:.1f}" if s and s > 0 else "-"


_SHORT = {"forward in place": "fwd in place", "forward out of place": "fwd out of place",
          "forward + mask": "fwd + mask", "backward": "backward"}


def _has_rich():
    try:
        import rich  # noqa: F401
        return True
    except ImportError:
        return False


def render_table(headers, rows, *, right=(), title=None, use_rich=False, out=None):
    """Print an aligned table: plain text, or with rich when ``use_rich``."""
    out = out or sys.stdout
    if use_rich:
        from rich.console import Console
        from rich.table import Table
        t = Table(title=title, show_lines=False, header_style="bold")
        for i, h in enumerate(headers):
            t.add_column(h, justify="right" if i in right else "left", no_wrap=True)
        for r in rows:
            if r is None:
                t.add_section()
            else:
                t.add_row(*[str(v) for v in r])
        Console(file=out, width=max(100, sum(len(h) + 3 for h in headers) + 40)).print(t)
        return
    body = [r for r in rows if r is not None]
    widths = [max([len(h)] + [len(str(r[i])) for r in body]) for i, h in enumerate(headers)]

    def line(vals):
        cells = [str(v).rjust(w) if i in right else str(v).ljust(w)
                 for i, (v, w) in enumerate(zip(vals, widths))]
        return "  ".join(cells).rstrip()
    if title:
        print(title, file=out)
    print(line(headers), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for r in rows:
        if r is None:
            print("", file=out)
        else:
            print(line(r), file=out)


# --------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------
def parse_size(text):
    t = text.strip().replace("_", "").replace(",", "")
    for sep in ("**", "^"):
        if sep in t:
            b, e = t.split(sep, 1)
            return int(b) ** int(e)
    try:
        return int(t)
    except ValueError:
        v = float(t)
        if not v.is_integer() or v < 1:
            raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
        return int(v)


def _parse_size_arg(text):
    try:
        v = parse_size(text)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"not a size (elements): {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"size must be >= 1: {text!r}")
    return v


def _parse_dtype_arg(text):
    try:
        dt = np.dtype(text)
    except TypeError:
        raise argparse.ArgumentTypeError(f"not a NumPy dtype: {text!r}") from None
    if dt.kind != "f":
        raise argparse.ArgumentTypeError(f"dtype must be floating point, got {dt}")
    return dt.name


def add_arguments(p):
    p.add_argument("--quick", action="store_true",
                   help="10^3, 10^5, 10^6, 10^7 float32 plus 10^6 float64 for relu, relu6 and "
                        "leaky_relu; 10^3 and 10^6 float32 for the smooth and composite ops; fewer "
                        "repeats (well under a minute)")
    p.add_argument("--sizes", nargs="+", type=_parse_size_arg, metavar="N",
                   help="array sizes in elements (1e6, 10**6, 10^6 and 1_000_000 are accepted); "
                        "default 10^3 .. 10^7")
    p.add_argument("--dtypes", nargs="+", type=_parse_dtype_arg, metavar="DTYPE",
                   help="float dtypes (default float32 float64)")
    p.add_argument("--big", action="store_true", help="add n = 10^8 (needs ~6 GB of memory for float64)")
    p.add_argument("--ops", nargs="+", metavar="OP",
                   help="ops to run (default: every op in relukit.OPS, and gelu_tanh); "
                        "also: masked, smooth, composite for a whole group")
    p.add_argument("--variants", nargs="+", choices=sorted(VARIANT_KEYS), metavar="V",
                   help=f"variants to run, of {', '.join(VARIANT_KEYS)} (default: all that apply)")
    p.add_argument("--repeats", type=int, metavar="R",
                   help="timed repeats per contender (default 15, 5 with --quick; fewer for very "
                        "large n so a cell stays within its time budget)")
    p.add_argument("--no-peers", action="store_true", help="leave out PyTorch, numexpr and JAX even if installed")
    p.add_argument("--peers", nargs="+", choices=PEER_NAMES, metavar="PEER",
                   help=f"the peers to run, of {', '.join(PEER_NAMES)} (default: every one that imports)")
    p.add_argument("--plain", action="store_true", help="plain text table even if rich is installed")
    p.add_argument("--json", metavar="FILE", help="also save all results (every sample) as JSON")
    p.add_argument("--plot", metavar="FILE.png",
                   help="also draw the results: one panel per op and variant, time per element "
                        "(smooth ops) or GB/s (memory-bound ops) against n (needs matplotlib)")
    p.add_argument("--plot-dtype", metavar="DTYPE", type=_parse_dtype_arg,
                   help="the dtype the plot shows (default float32 when it was run)")
    p.add_argument("--from-json", metavar="FILE",
                   help="measure nothing: read the results of an earlier --json run (for --plot)")
    return p


def select_ops(names):
    """The BenchOps named (keys, or the groups masked / smooth / composite); all when None."""
    everything = bench_ops()
    if not names:
        return everything
    keys = {b.key for b in everything}
    groups = {"masked", "smooth", "composite"}
    unknown = [n for n in names if n not in keys and n not in groups]
    if unknown:
        raise ValueError(f"unknown op(s) {unknown}; known: {sorted(keys)} or a group: {sorted(groups)}")
    return [b for b in everything if b.key in names or b.group in names]


def plan(args):
    """The (n, dtype) pairs to run, in order."""
    if args.quick and not args.sizes and not args.dtypes:
        pairs = [(n, "float32") for n in QUICK_SIZES] + list(QUICK_EXTRA)
    else:
        sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
        dtypes = args.dtypes or ["float32", "float64"]
        pairs = [(n, d) for n in sizes for d in dtypes]
    if args.big:
        dtypes = args.dtypes or (["float32"] if args.quick else ["float32", "float64"])
        pairs += [(BIG_SIZE, d) for d in dtypes]
    seen, out = set(), []
    for p in sorted(pairs, key=lambda p: (p[0], p[1])):
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def quick_skips_numba(args, bop, variant):
    """With --quick, the mask kernels are not run on forced numba: automatic dispatch never
    uses them (their threshold is "never") and compiling them costs ~10 s of a cold cache."""
    return bool(args.quick) and bop.group == "masked" and variant in ("forward + mask", "backward")


def forced_columns(args, bop, variant):
    return ("cython",) if quick_skips_numba(args, bop, variant) else True


def runs_at(args, bop, n, dtype):
    """Whether ``bop`` runs at (n, dtype): with a plain ``--quick`` the smooth and composite
    ops run at :data:`QUICK_SMOOTH_PAIRS` only (and 10^8 with ``--big`` only for the masked)."""
    if args.quick and not args.sizes and not args.dtypes and bop.group != "masked":
        return (n, dtype) in QUICK_SMOOTH_PAIRS
    return True


def _print_header(env, peers, warm_s, warm_msgs, out):
    w = lambda s="": print(s, file=out)    # noqa: E731
    w("relukit benchmark")
    simd = f", {'/'.join(env['simd'])}" if env["simd"] else ""
    l3 = f", L3 {env['l3']}" if env["l3"] else ""
    usable = (f" ({env['cores_usable']} usable)" if env["cores_usable"] and env["cores_usable"] != env["cores"]
              else "")
    w(f"machine:    {env['cpu']} ({env['machine']}{simd}{l3}), {env['cores']} cores{usable}")
    w(f"versions:   python {env['python']}, numpy {env['numpy']}, numba {env['numba'] or 'not installed'}, "
      f"relukit {env['relukit']}")
    w(f"relukit:    backends {', '.join(env['relukit_backends'])}; parallel backend threads "
      f"{env['relukit_threads']}; numba threading layer {env.get('numba_layer') or '-'}"
      + (f"; forced backend {env['forced_backend']}" if env["forced_backend"] else ""))
    thr = "; ".join(f"{cls}: float32 {fmt_threshold(v['float32'])}, float64 {fmt_threshold(v['float64'])}"
                    for cls, v in env["thresholds"].items())
    w(f"thresholds: automatic dispatch runs numba from n = ({thr}), cython below")
    peer_txt = []
    if "torch" in peers:
        peer_txt.append(f"torch {env['torch']} ({env['torch_threads']} threads, its default)")
    if "numexpr" in peers:
        peer_txt.append(f"numexpr {env['numexpr']} ({env['numexpr_threads']} threads)")
    if "jax" in peers:
        peer_txt.append(f"jax {env['jax']} ({env['jax_threads']} threads: {env['jax_threads_text']}; "
                        f"x64 {'on' if env['jax_x64'] else 'off'})")
    w(f"peers:      {', '.join(peer_txt) if peer_txt else 'none (not installed, or left out)'}")
    w(f"NumPy erf:  {env['erf']} (gelu's NumPy idiom)")
    if env.get("loadavg_start"):
        busy = env["loadavg_start"][0] >= 0.5 * (env["cores_usable"] or env["cores"] or 1)
        w(f"load:       {env['loadavg_start'][0]:.2f} (1-min load average at the start, {env['cores']} cores)"
          + ("; the machine was busy: while other processes run, the parallel backends (numba, torch, "
             "jax) lose a scheduler slice whenever one of their threads waits for a core" if busy else ""))
    if warm_s:
        w(f"numba JIT:  {warm_s:.2f} s to compile/load the kernels before timing")
    for m in warm_msgs:
        w(f"  note: {m}")


def _check_plot_deps():
    import importlib.util
    if importlib.util.find_spec("matplotlib") is None:
        return ("relukit bench: --plot needs matplotlib, which is not installed here "
                "(pip install matplotlib); nothing was measured")
    return None


def run(args, out=None):
    out = out or sys.stdout
    if args.plot:
        err = _check_plot_deps()
        if err:
            print(err, file=sys.stderr)
            return 2
    if args.from_json:
        if not args.plot:
            print("relukit bench: --from-json only makes sense with --plot", file=sys.stderr)
            return 2
        with open(args.from_json) as fh:
            record = json.load(fh)
        plot_results(record, args.plot, dtype=args.plot_dtype)
        print(f"plot saved to {args.plot}", file=out)
        return 0
    t_start = time.perf_counter()
    try:
        ops = select_ops(args.ops)
    except ValueError as exc:
        print(f"relukit bench: {exc}", file=sys.stderr)
        return 2
    chosen = {VARIANT_KEYS[v] for v in args.variants} if args.variants else set(VARIANTS)
    variants = [v for v in VARIANTS if v in chosen]
    quick = args.quick
    repeats = args.repeats or (5 if quick else 15)
    if repeats < 1:
        print("relukit bench: --repeats must be >= 1", file=sys.stderr)
        return 2
    timing_kw = dict(repeats=repeats, min_repeats=min(repeats, 3 if quick else 5),
                     target_s=1e-3 if quick else 2e-3, budget_s=1.5 if quick else 4.0)
    pairs = plan(args)
    peers = load_peers(not args.no_peers, getattr(args, "peers", None))
    if "jax" in peers and any(d == "float64" for _, d in pairs):
        jax_enable_x64(peers["jax"])
    use_rich = _has_rich() and not args.plain

    warm_s, warm_msgs = warm_up_numba(
        ops, sorted({d for _, d in pairs} | {"float32"}),
        wanted=lambda b, dt: any(d == dt and runs_at(args, b, n, d) for n, d in pairs),
        skip_masks=bool(args.quick))
    env = environment(peers)
    if "numba" in relukit.backends():
        try:
            from relukit import _numba_backend
            env["numba_layer"] = _numba_backend.threading_layer()
        except Exception:
            pass
    _print_header(env, peers, warm_s, warm_msgs, out)
    out.flush()

    peer_names = [p for p in PEER_NAMES if p in peers]
    record = {"environment": env, "numba_warmup_s": warm_s, "notes": warm_msgs,
              "method": {"timer": "time.perf_counter_ns", "target_sample_s": timing_kw["target_s"],
                         "k1_from_n": LARGE_N, "fresh_min_call_s": FRESH_MIN_S, "repeats": repeats,
                         "statistic": "median over samples of sample time / k", "text": method_text(timing_kw["target_s"])},
              "overhead": [], "cells": []}

    # ---- per-call overhead ------------------------------------------------------------
    rows = []
    tiny_ops = [b for b in ops if b.group != "composite"]
    for n in OVERHEAD_SIZES if tiny_ops else ():
        inp = Inputs(n, "float32")
        for bop in tiny_ops:
            cell = build_cell(bop, "forward in place", inp, backends=False, peers=peers)
            res = measure(cell, **{**timing_kw, "budget_s": 1.0})
            rel, npy = res.get("relukit"), res.get("numpy")
            rows.append([f"{bop.key} in place", fmt_n(n), "float32", fmt_time(npy.median), fmt_time(rel.median),
                         f"{npy.median / rel.median:.1f}x"] + [fmt_time(res[p].median) if p in res else "-"
                                                              for p in peer_names])
            record["overhead"].append(_cell_record(cell, res))
    if rows:
        print(file=out)
        render_table(["per-call overhead", "n", "dtype", "NumPy", "relukit", "speed-up"] + peer_names, rows,
                     right=set(range(1, 6 + len(peer_names))), use_rich=use_rich, out=out,
                     title="Per-call time at tiny n (mostly call overhead), median, in place:")
        out.flush()

    # ---- main table -------------------------------------------------------------------
    backend_cols = [b for b in ("cython", "numba") if b in relukit.backends()]
    peer_cols = []
    for p in peer_names:
        peer_cols.append(p)
        if p == "torch":
            peer_cols.append("vs torch")
    if peer_names:
        peer_cols += ["best peer", "vs best"]
    headers = (["op / variant", "n", "dtype", "NumPy", "relukit", "speed-up", "auto"]
               + backend_cols + peer_cols + ["reps", "input"])
    right = set(range(1, len(headers) - 1)) - {2, 6}
    print(file=out)
    print("Median time per call (speed-up = NumPy / relukit; auto = backend relukit chose; "
          + (", ".join(backend_cols) + " = relukit forced to that backend" if backend_cols else "")
          + ("; vs torch = torch / relukit" if "torch" in peers else "")
          + ("; best peer = the fastest of " + ", ".join(peer_names) + " in the row, vs best = its time / relukit"
             if peer_names else "") + "):", file=out)
    stream = None if use_rich else _StreamTable(headers, right, out, _typical_widths(headers, ops, pairs))
    rows, bw_rows, notes = [], [], {}
    for n, dt in pairs:
        inp = Inputs(n, dt)
        any_row = False
        for bop in ops:
            if not runs_at(args, bop, n, dt):
                continue
            for variant in variants:
                if variant not in variants_of(bop):
                    continue
                cell = build_cell(bop, variant, inp, peers=peers, backends=forced_columns(args, bop, variant),
                                  bandwidth=(variant == "forward in place" and bop.group != "composite"))
                res = measure(cell, **timing_kw)
                record["cells"].append(_cell_record(cell, res))
                npy, rel = res["numpy"], res["relukit"]
                flag = "!" if rel.error else ""
                row = [f"{bop.key} {_SHORT[variant]}", fmt_n(n), dt, fmt_time(npy.median),
                       fmt_time(rel.median) + flag, f"{npy.median / rel.median:.2f}x", cell.auto_backend]
                for b in backend_cols:
                    row.append(fmt_time(res[b].median) + ("!" if res[b].error else "") if b in res else "n/a")
                for p in peer_names:
                    row.append(fmt_time(res[p].median) if p in res else "-")
                    if p == "torch":
                        row.append(f"{res[p].median / rel.median:.2f}x" if p in res else "-")
                best = best_peer(res, peer_names)
                if peer_names:
                    row += [best or "-", f"{res[best].median / rel.median:.2f}x" if best else "-"]
                row.append(str(rel.repeats))
                row.append("fresh" if cell.fresh else "reused")
                rows.append(row)
                any_row = True
                for note in cell.notes:
                    notes.setdefault((f"{bop.key} {_SHORT[variant]}", note), []).append(f"{fmt_n(n)} {dt}")
                if "np.negative" in res:
                    ref = res["np.negative"]
                    bm = 2 * inp.x0.nbytes
                    bw_rows.append([bop.key, fmt_n(n), dt, fmt_time(ref.median), fmt_gbs(bm, ref.median),
                                    fmt_time(rel.median), fmt_gbs(bm, rel.median),
                                    f"{100 * ref.median / rel.median:.0f}%", cell.auto_backend]
                                   + [fmt_gbs(bm, res[b].median) if b in res else "-" for b in backend_cols]
                                   + ([f"{best} {fmt_gbs(bm, res[best].median)}" if best else "-"]
                                      if peer_names else []))
                if stream:
                    stream.row(row)
        if not any_row:
            continue
        if stream:
            stream.blank()
        else:
            rows.append(None)          # a section break in the rich table
        del inp
    if use_rich:
        render_table(headers, rows, right=right, use_rich=True, out=out)

    if bw_rows:
        print(file=out)
        render_table(["in place vs bandwidth", "n", "dtype", "np.negative", "GB/s", "relukit", "GB/s",
                      "% of ref", "auto"] + [f"{b} GB/s" for b in backend_cols]
                     + (["best peer GB/s"] if peer_names else []), bw_rows,
                     right=set(range(1, 10 + len(backend_cols))) - {2, 8}, use_rich=use_rich, out=out,
                     title="Bandwidth: relukit forward in place vs np.negative(x, out=x) "
                           "(2 x nbytes moved per call; NumPy reference is single-threaded; the best "
                           "peer's in-place call, JAX's a new array):")
    wall = time.perf_counter() - t_start
    print(file=out)
    for line in method_text(timing_kw["target_s"], ops, peers):
        print(line, file=out)
    for (what, note), where in notes.items():
        print(f"note: {what} ({', '.join(where)}): {note}", file=out)
    try:
        record["environment"]["loadavg_end"] = list(os.getloadavg())
        load_txt = f" (1-min load average at the end: {os.getloadavg()[0]:.2f})"
    except (AttributeError, OSError):
        load_txt = ""
    print(f"total wall time: {wall:.1f} s{load_txt}", file=out)
    record["wall_s"] = wall
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(record, fh, indent=1)
        print(f"results saved to {args.json}", file=out)
    if args.plot:
        plot_results(record, args.plot, dtype=args.plot_dtype)
        print(f"plot saved to {args.plot}", file=out)
    bad = [c for c in record["cells"] if any(v.get("error") for v in c["results"].values()
                                             if v["kind"] == "relukit")]
    return 1 if bad else 0


class _StreamTable:
    """Plain table printed row by row as cells finish (fixed column widths)."""

    def __init__(self, headers, right, out, widths):
        self.right, self.out = right, out
        self.widths = [max(len(h), w) for h, w in zip(headers, widths)]
        self._line(headers)
        print("  ".join("-" * w for w in self.widths), file=out)

    def _line(self, vals):
        cells = [str(v).rjust(w) if i in self.right else str(v).ljust(w)
                 for i, (v, w) in enumerate(zip(vals, self.widths))]
        print("  ".join(cells).rstrip(), file=self.out)
        self.out.flush()

    def row(self, vals):
        self._line(vals)

    def blank(self):
        print(file=self.out)


def _typical_widths(headers, ops, pairs):
    name = max(len(f"{b.key} {_SHORT[v]}") for b in ops for v in variants_of(b))
    n = max(len(fmt_n(p[0])) for p in pairs)
    dt = max(len(p[1]) for p in pairs)
    rest = {"speed-up": 7, "auto": 6, "reps": 4, "input": 6, "vs torch": 8, "best peer": 9, "vs best": 7}
    return [name, n, dt] + [rest.get(h, 9) for h in headers[3:]]


def method_text(target_s, ops=None, peers=None):
    """The lines printed under the tables that say how they were measured."""
    ops = bench_ops() if ops is None else ops
    keys = [b.key for b in ops]
    oop = []
    for b in ops:
        if b.group == "composite":
            continue
        text = numpy_idioms(b).oop_text
        if text:
            oop.append(f"{b.key}: {text}")
    lines = [
        "Method: the contenders of a row are timed interleaved (a new seeded random order each repeat, GC off);",
        f"a sample is k calls (~{target_s * 1e3:.0f} ms; k = 1 from n = {fmt_n(LARGE_N)}); shown: median over 'reps' "
        "samples of sample time / k.",
        "input 'fresh': each call is timed alone right after an untimed np.copyto restore of its input "
        f"(n >= {fmt_n(LARGE_N)}, or every call >= {FRESH_MIN_S * 1e6:.0f} us; "
        + (f">= {FRESH_MIN_S_SMOOTH * 1e6:g} us" if FRESH_MIN_S_SMOOTH else "always")
        + " for the smooth and composite ops),",
        "so every timed call sees the pristine data; 'reused': calls too short to time alone run k back-to-back "
        "after one restore,",
        "so calls 2..k of an in-place op see its own output (for relu: no negatives), which flatters "
        "kernels whose speed depends on the data.",
        "Inputs: standard normal (half negative). forward + mask: NumPy saves a bool mask (1 byte/element), "
        "relukit a bit mask (1 bit/element).",
        "NumPy in place: the op table's idiom (op.numpy_forward; smooth ops assign their formula, x[...] = f(x)); "
        "out of place: " + "; ".join(oop) + ".",
        "Backward: relukit takes the bit mask (relu, relu6, leaky_relu), the forward's output (elu, selu, celu, "
        "softplus) or its input (silu, gelu); NumPy what op.numpy_saved keeps.",
    ]
    comp = [k for k in ("prelu", "crelu", "brelu") if k in keys]
    if comp:
        shapes = {"prelu": f"prelu: x NCHW, e.g. 10^6 -> {composite_shape('prelu', 10**6)}, one weight per "
                           "channel, NumPy np.where(x > 0, x, x * w[:, None, None]) (in place: assigned to x)",
                  "crelu": "crelu: x (n/1000, 1000) -> (n/1000, 2000), NumPy np.concatenate((np.maximum(x, 0), "
                           "np.maximum(-x, 0)), axis=-1)",
                  "brelu": "brelu: x (n,), 4 biases -> (n, 4), NumPy np.maximum(x[..., None] - b, 0)"}
        lines.append("Composite ops (new arrays; backward returns new arrays): "
                     + "; ".join(shapes[k] for k in comp) + ".")
    if peers and "torch" in peers:
        lines.append("PyTorch (torch.from_numpy views; backward = aten's kernel written into g): "
                     + "; ".join(f"{k}: {TORCH_TEXT[k]}" for k in keys if k in TORCH_TEXT) + ".")
    if peers and "numexpr" in peers:
        lines.append("numexpr: the same formulas as ne.evaluate expressions (out=x in place), constants in x's "
                     "dtype; no gelu (numexpr has no erf) and no crelu/brelu.")
    if peers and "jax" in peers:
        lines.append("JAX (jax.jit-compiled and warmed up before timing, inputs made JAX arrays once, the timed "
                     "call ending in .block_until_ready()): "
                     + "; ".join(f"{k}: {JAX_TEXT[k]}" for k in keys if k in JAX_TEXT)
                     + ". JAX has no in-place form: its 'fwd in place' cells time the functional op (a new "
                       "array); fwd + mask returns (f(x), bool mask) from one jitted function; backward is "
                       "jax.vjp(f, x) applied to g, jitted (JAX keeps x and recomputes what the derivative "
                       "needs). One untimed JAX call precedes each sample: the first call after other work "
                       "pays for waking XLA's pool thread (tens of us).")
    lines.append("Each result was checked against relukit.reference before timing: relukit bit-exactly "
                 "(piecewise-linear ops) or within op.max_ulp ulp (smooth ops; '!' marks a wrong relukit "
                 "result), NumPy and the peers within a relative tolerance.")
    return lines


def _cell_record(cell, res):
    kinds = {c.name: c for c in cell.contenders}
    return {
        "op": cell.op, "variant": cell.variant, "n": cell.n, "dtype": cell.dtype, "group": cell.group,
        "shape": list(cell.shape), "bytes_moved": cell.bytes_moved,
        "auto_backend": cell.auto_backend, "notes": cell.notes, "fresh_input": cell.fresh,
        "results": {name: {"median_s": t.median, "min_s": t.minimum, "k": t.k, "repeats": t.repeats,
                           "samples_s": t.samples, "fresh_input": t.fresh, "error": t.error,
                           "kind": kinds[name].kind,
                           "backend": kinds[name].backend, "bytes_moved": kinds[name].bytes_moved,
                           "gb_per_s": kinds[name].bytes_moved / t.median / 1e9 if t.median > 0 else None}
                    for name, t in res.items()},
    }


# --------------------------------------------------------------------------------------
# Plot
# --------------------------------------------------------------------------------------
# contender name -> (legend label, colour, line style, marker, line width)
PLOT_STYLE = {
    "relukit": ("relukit (automatic dispatch)", "black", "-", "o", 2.4),
    "cython": ("relukit, cython forced", "tab:blue", "--", "v", 1.2),
    "numba": ("relukit, numba forced", "tab:orange", "--", "^", 1.2),
    "numpy": ("NumPy idiom", "tab:green", "-", "s", 1.6),
    "torch": ("PyTorch", "tab:red", "-", "D", 1.6),
    "numexpr": ("numexpr", "tab:purple", "-", "x", 1.2),
    "jax": ("JAX (jit)", "tab:brown", "-", "P", 1.2),
    "np.negative": ("memory bandwidth: np.negative(x, out=x)", "0.45", ":", None, 2.0),
}
PLOT_COLUMNS = ("forward in place", "forward out of place", "backward", "forward + mask")


def plot_results(record, path, dtype=None):
    """Draw ``record`` (as :func:`run` builds it, or loaded from its JSON) into ``path``.

    One row of panels per op, one column per variant; x: n, y: GB/s (memory-bound ops:
    the bytes the variant must move, the same for every line, over the time) or ns per
    element (smooth ops), both on log axes. Memory-bound panels also show np.negative in
    place (measured in the in-place cells) as the memory-bandwidth reference. The y range
    follows relukit (automatic), NumPy, the peers and the reference; a forced backend's
    line beyond it is clipped."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise RuntimeError("relukit bench: --plot needs matplotlib (pip install matplotlib)") from None
    cells = [c for c in record["cells"] if c.get("bytes_moved")]
    if not cells:
        raise ValueError("relukit bench: no results to plot")
    dtypes = sorted({c["dtype"] for c in cells}, key=lambda d: (d != "float32", d))
    dtype = dtype or dtypes[0]
    cells = [c for c in cells if c["dtype"] == dtype]
    if not cells:
        raise ValueError(f"relukit bench: no results for dtype {dtype} (have {dtypes})")
    itemsize = np.dtype(dtype).itemsize

    bw = {}                                    # n -> GB/s of np.negative in place
    for c in cells:
        r = c["results"].get("np.negative")
        if r and c["variant"] == "forward in place":
            bw.setdefault(c["n"], []).append(2 * c["n"] * itemsize / r["median_s"] / 1e9)
    bw = {n: statistics.median(v) for n, v in bw.items()}

    ops = list(dict.fromkeys(c["op"] for c in cells))
    columns = [v for v in PLOT_COLUMNS if any(c["variant"] == v for c in cells)]
    ncol, nrow = len(columns), len(ops)
    fig = Figure(figsize=(4.3 * ncol, 2.9 * nrow + 1.2), dpi=90)
    axes = fig.subplots(nrow, ncol, squeeze=False)
    seen = {}
    for i, op in enumerate(ops):
        group = next(c.get("group") for c in cells if c["op"] == op)
        mb = group != "smooth"
        for j, variant in enumerate(columns):
            ax = axes[i][j]
            mine = sorted((c for c in cells if c["op"] == op and c["variant"] == variant), key=lambda c: c["n"])
            if not mine:
                ax.set_axis_off()
                continue
            names = [nm for nm in PLOT_STYLE if nm != "np.negative" and any(nm in c["results"] for c in mine)]
            main_ys = []                   # the y range follows these (not the forced backends)
            for nm in names:
                pts = [(c["n"], c["results"][nm]["median_s"], c["bytes_moved"]) for c in mine
                       if nm in c["results"] and c["results"][nm]["median_s"] > 0]
                if not pts:
                    continue
                xs = [p[0] for p in pts]
                ys = [p[2] / p[1] / 1e9 if mb else p[1] / p[0] * 1e9 for p in pts]
                label, color, ls, marker, lw = PLOT_STYLE[nm]
                h, = ax.plot(xs, ys, color=color, linestyle=ls, marker=marker, lw=lw, ms=4, label=label)
                seen.setdefault(nm, h)
                if nm not in ("cython", "numba"):
                    main_ys += ys
            if mb and bw:
                xs = sorted(n for n in bw if mine[0]["n"] <= n <= mine[-1]["n"])
                if xs:
                    label, color, ls, marker, lw = PLOT_STYLE["np.negative"]
                    h, = ax.plot(xs, [bw[n] for n in xs], color=color, linestyle=ls, lw=lw, label=label)
                    seen.setdefault("np.negative", h)
                    main_ys += [bw[n] for n in xs]
            ax.set_xscale("log")
            ax.set_yscale("log")
            if main_ys:
                # a forced backend far off (numba's thread start-up at small n) is clipped
                ax.set_ylim(min(main_ys) / 2.5, max(main_ys) * 2.5)
            shape = mine[-1].get("shape")
            extra = ""
            if group == "composite" and shape:
                extra = f"\nx {tuple(shape)} at n = {mine[-1]['n']:.0e}".replace("e+0", "e")
            ax.set_title(f"{op}: {_SHORT[variant]}{extra}", fontsize=10)
            ax.set_ylabel("GB/s (higher is better)" if mb else "ns / element (lower is better)", fontsize=8)
            ax.set_xlabel("n (elements)", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(True, which="major", alpha=0.3)
            ax.grid(True, which="minor", alpha=0.08)
    env = record.get("environment", {})
    bits = [f"{env.get('cpu', '?')}, {env.get('cores', '?')} cores", f"numpy {env.get('numpy', '?')}"]
    if env.get("torch"):
        bits.append(f"torch {env['torch']} ({env.get('torch_threads')} threads)")
    if env.get("numexpr"):
        bits.append(f"numexpr {env['numexpr']}")
    if env.get("jax"):
        bits.append(f"jax {env['jax']} ({env.get('jax_threads')} threads)")
    bits.append(f"relukit {env.get('relukit', '?')} ({env.get('relukit_threads', '?')} threads)")
    fig.suptitle(f"relukit benchmark, {dtype}: median time per call  ({'; '.join(bits)})\n"
                 "memory-bound ops: GB/s = bytes the call must move / time; smooth ops: ns per element",
                 fontsize=12, y=0.999)
    order = [nm for nm in PLOT_STYLE if nm in seen]
    fig.legend([seen[nm] for nm in order], [PLOT_STYLE[nm][0] for nm in order], loc="upper center",
               ncol=min(4, len(order)), fontsize=10, frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.75 / (2.9 * nrow + 1.2)))
    fig.tight_layout(rect=(0, 0, 1, 1 - 1.25 / (2.9 * nrow + 1.2)))
    fig.savefig(path)
    return path


def main(argv=None):
    p = add_arguments(argparse.ArgumentParser(prog="python -m relukit bench", description=__doc__.split("\n\n")[0]))
    return run(p.parse_args(argv))
