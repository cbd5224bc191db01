"""The op table: one entry per activation, the single source the package is built from.

An entry binds the compiled public functions to their NumPy reference, their formula and
derivative (for the docstrings), what the backward pass needs, the accuracy bound the tests
enforce, and the NumPy idioms the benchmarks compare against. The tests (``tests/``) and
the benchmarks (``bench/``, ``python -m relukit bench``) iterate over ``OPS``; adding an op
means one entry here plus its kernels (the entry binds them: Op.kernels, op_class, streams).
"""
from dataclasses import dataclass, field
from typing import Callable

import math

import numpy as np

from . import _core, reference


@dataclass(frozen=True)
class Op:
    name: str
    forward: Callable               # the public compiled entry point
    backward: Callable
    ref_forward: Callable           # NumPy reference (also the "numpy" backend)
    ref_backward: Callable
    formula: str
    derivative: str
    backward_needs: str             # "mask", "output" or "input"
    mask_bit: str                   # which elements have their mask bit set
    max_ulp: int = 0                # 0: bit-exact against the reference in every backend
    numpy_forward: Callable = None  # fastest honest NumPy idiom, in place: f(x) -> x
    numpy_backward: Callable = None # f(grad, saved) -> grad, with what NumPy users save
    numpy_saved: Callable = None    # what a NumPy user keeps for the backward: f(x)
    params: dict = field(default_factory=dict)  # keyword parameters and their defaults
    cleared_bit: str = "+0.0"       # what the mask backward writes where the bit is clear
    # "elementwise": forward(x, *params, out=None[, return_mask]) and an elementwise backward
    # (the generic tests and benchmarks take these); "composite": an op with extra array
    # arguments or another output shape (prelu, crelu, brelu), whose call is made by
    # ``sample_args(x, rng) -> dict of the required arguments`` (weight, biases).
    kind: str = "elementwise"
    sample_args: Callable = None    # composite ops: f(x, rng) -> dict of required arguments
    other_dtypes: str = "float16 and integer dtypes are computed by the NumPy reference"
    numpy_text: str = ""            # the straightforward NumPy formula, for the docstring
    # The compiled kernels of the forward and the backward, by the name both backends
    # register them under (kernels/core.pxi KERNEL_NAMES, _numba_backend._RUNNERS); the
    # dispatch threshold class they share ("memory-bound": a few operations per element;
    # "compute-bound": transcendental; calls with a mask use the "mask" class); and whether
    # element i of their result depends on element i of the inputs alone, so that large
    # out-of-place outputs may be computed in chunks and streamed (kernels/stream.h).
    kernels: tuple = ()
    op_class: str = "memory-bound"
    streams: bool = False


OPS = {}


def register(op):
    for function, kernel in zip((op.forward.__name__, op.backward.__name__), op.kernels,
                                strict=True):
        _core._bind(function, kernel, op.op_class, op.streams)
    OPS[op.name] = op
    _document(op)
    return op


def _signature(op, head, tail):
    params = "".join(f", {k}={v!r}" for k, v in op.params.items())
    return f"{head}{params}{tail}"


def _document(op):
    if op.kind != "elementwise":
        return                      # composite ops carry their docstrings in _core.pyx
    needs = {"mask": "the bit mask returned by the forward with ``return_mask=True``",
             "output": "the forward's output", "input": "the forward's input"}[op.backward_needs]
    if op.backward_needs != "mask":
        _document_smooth(op, needs)
        return
    op.forward.__doc__ = f"""{_signature(op, f"{op.name}(x", ", out=None, return_mask=False)")}

    {op.formula}

    Parameters
    ----------
    x : array_like
        float32 and float64 run compiled kernels; {op.other_dtypes}.
        ``out=x`` (in place) needs ``x`` to be a writeable ndarray.
    out : ndarray, optional
        Where to write the result: same shape and dtype as ``x``. ``out=x`` is in place and
        allocates nothing proportional to ``x``. An ``out`` that partially overlaps ``x``
        gives the result NumPy would (``x`` is copied first).
    return_mask : bool, optional
        Also return the bit mask ({op.mask_bit}) packed as
        ``np.packbits(bits.ravel(order="C"), bitorder="little")``, computed in the same pass.

    Returns
    -------
    out : ndarray, or (out, mask) when ``return_mask`` is true.

    Notes
    -----
    NaN propagates. Equivalent NumPy: ``relukit.reference.{op.name}(x)``.
    """
    op.backward.__doc__ = f"""{_signature(op, f"{op.backward.__name__}(grad, mask", ", out=None)")}

    Gradient of :func:`{op.name}`: {op.derivative}. Needs only {needs}.

    Parameters
    ----------
    grad : array_like
        Upstream gradient, float32/float64 compiled (other dtypes as in the forward).
    mask : ndarray of uint8
        1-d, ``ceil(grad.size / 8)`` bytes, as returned by ``{op.name}(..., return_mask=True)``.
    out : ndarray, optional
        ``out=grad`` is in place.

    Notes
    -----
    Where the mask bit is clear the result is {op.cleared_bit}, whatever grad holds there
    (a select, as in PyTorch's ``threshold_backward``, not a product).
    Equivalent NumPy: ``relukit.reference.{op.backward.__name__}(grad, mask)``.
    """


def _document_smooth(op, needs):
    saved = {"output": "y", "input": "x"}[op.backward_needs]
    op.forward.__doc__ = f"""{_signature(op, f"{op.name}(x", ", out=None)")}

    {op.formula}

    Parameters
    ----------
    x : array_like
        float32 and float64 run compiled kernels (evaluated in double, rounded once);
        {op.other_dtypes}. ``out=x`` (in place) needs a writeable ndarray.
    out : ndarray, optional
        Same shape and dtype as ``x``; ``out=x`` is in place and allocates nothing.

    Notes
    -----
    Accuracy: within {op.max_ulp} ulp of the correctly rounded result over the whole finite
    range, in every backend, measured in the tests against mpmath (float64 exceptions for
    gelu and the silu/gelu gradients are listed with their figures in the README). NaN
    propagates.
    Equivalent NumPy: ``{op.numpy_text}``.
    """
    op.backward.__doc__ = f"""{_signature(op, f"{op.backward.__name__}(grad, {saved}", ", out=None)")}

    Gradient of :func:`{op.name}`: {op.derivative}. Needs only {needs} (``{saved}``).

    Parameters
    ----------
    grad : array_like
        Upstream gradient, same shape and dtype as ``{saved}``.
    {saved} : array_like
        The forward's {"output" if saved == "y" else "input"}.
    out : ndarray, optional
        ``out=grad`` is in place.
    """


def _np_relu_inplace(x):
    return np.maximum(x, 0, out=x)


def _np_relu6_inplace(x):
    return np.clip(x, 0, 6, out=x)


def _np_leaky_inplace(x, negative_slope=0.01):
    return np.multiply(x, x.dtype.type(negative_slope), out=x, where=x < 0)


def _np_mask_backward(g, saved):
    return np.multiply(g, saved, out=g)


def _np_leaky_backward(g, saved, negative_slope=0.01):
    return np.multiply(g, g.dtype.type(negative_slope), out=g, where=~saved)


register(Op(
    name="relu",
    forward=_core.relu,
    backward=_core.relu_backward,
    ref_forward=reference.relu,
    ref_backward=reference.relu_backward,
    formula="ReLU: ``y = x if x > 0 else 0``; relu(NaN) = NaN, relu(-0.0) = +0.0.",
    derivative="``grad`` where x > 0 or x is NaN, else 0",
    backward_needs="mask",
    mask_bit="set where not x <= 0: x > 0 or NaN",
    numpy_forward=_np_relu_inplace,
    numpy_backward=_np_mask_backward,
    numpy_saved=lambda x: x > 0,
    kernels=("relu", "mask_select"),
    streams=True,
))

register(Op(
    name="relu6",
    forward=_core.relu6,
    backward=_core.relu6_backward,
    ref_forward=reference.relu6,
    ref_backward=reference.relu6_backward,
    formula="ReLU6: ``y = min(max(0, x), 6)``; relu6(NaN) = NaN, relu6(-0.0) = +0.0.",
    derivative="``grad`` where 0 < x < 6, else 0 (0 at both kinks and at NaN, as PyTorch)",
    backward_needs="mask",
    mask_bit="set where 0 < x < 6",
    numpy_forward=_np_relu6_inplace,
    numpy_backward=_np_mask_backward,
    numpy_saved=lambda x: (x > 0) & (x < 6),
    kernels=("relu6", "mask_select"),
    streams=True,
))

register(Op(
    name="leaky_relu",
    forward=_core.leaky_relu,
    backward=_core.leaky_relu_backward,
    ref_forward=reference.leaky_relu,
    ref_backward=reference.leaky_relu_backward,
    formula=("Leaky ReLU: ``y = x if x > 0 else negative_slope * x``, the slope rounded to "
             "x's dtype and the product taken in that dtype (as PyTorch); any slope, "
             "negative too. leaky_relu(-0.0) = -0.0 for a positive slope."),
    derivative="``grad`` where x > 0, else ``negative_slope * grad``",
    backward_needs="mask",
    mask_bit="set where x > 0",
    cleared_bit="``negative_slope * grad``",
    other_dtypes="float16 is computed by the NumPy reference; integer input is a TypeError",
    numpy_forward=_np_leaky_inplace,
    numpy_backward=_np_leaky_backward,
    numpy_saved=lambda x, negative_slope=0.01: x > 0,
    params={"negative_slope": 0.01},
    kernels=("leaky_relu", "mask_scale"),
    streams=True,
))


register(Op(
    name="prelu",
    forward=_core.prelu,
    backward=_core.prelu_backward,
    ref_forward=reference.prelu,
    ref_backward=reference.prelu_backward,
    formula="PReLU: ``y = x if x > 0 else weight[c] * x``, c the index along ``axis``.",
    derivative="(``grad`` where x > 0 else ``weight[c] * grad``, per channel sum of "
               "``x * grad`` where not x > 0)",
    backward_needs="input",
    mask_bit="set where x > 0",
    kind="composite",
    sample_args=lambda x, rng: {"weight": rng.standard_normal(x.shape[1] if x.ndim > 1 else 1)
                                .astype(x.dtype) * 0.25},
    kernels=("prelu", "prelu_grad"),
))

register(Op(
    name="crelu",
    forward=_core.crelu,
    backward=_core.crelu_backward,
    ref_forward=reference.crelu,
    ref_backward=reference.crelu_backward,
    formula="CReLU: ``concatenate((relu(x), relu(-x)), axis)`` (TensorFlow's definition).",
    derivative="grad of the first half where x > 0 (or NaN), minus grad of the second half "
               "where x < 0 (or NaN)",
    backward_needs="input",
    mask_bit="(no mask)",
    kind="composite",
    sample_args=lambda x, rng: {},
    kernels=("crelu", "crelu_grad"),
))

register(Op(
    name="brelu",
    forward=_core.brelu,
    backward=_core.brelu_backward,
    ref_forward=reference.brelu,
    ref_backward=reference.brelu_backward,
    formula="Biased ReLU (Liang and Xu, 2021): ``relu(x - b)`` for each b of ``biases``, "
            "stacked on a new last axis.",
    derivative="sum over biases of grad[..., j] where x > b_j (or NaN)",
    backward_needs="input",
    mask_bit="(no mask)",
    kind="composite",
    sample_args=lambda x, rng: {"biases": np.array([-0.5, 0.0, 0.25, 1.0])},
    kernels=("brelu", "brelu_grad"),
))

# ---- smooth ops: the straightforward NumPy formulas are what the benchmarks compare with ----

def _erf():
    try:
        from scipy.special import erf
        return erf
    except ImportError:                 # NumPy has no erf; element by element through libm
        return lambda v: np.frompyfunc(math.erf, 1, 1)(v).astype(v.dtype)


def _np_gelu(x, approximate):
    # constants in x's dtype, so float32 stays float32 under NumPy 2's promotion rules
    c = x.dtype.type
    if approximate == "tanh":
        return c(0.5) * x * (1 + np.tanh(c(math.sqrt(2 / math.pi)) * (x + c(0.044715) * x ** 3)))
    return c(0.5) * x * (1 + _erf()(x / c(math.sqrt(2))))


def _np_gelu_grad(x, approximate):
    c = x.dtype.type
    if approximate == "tanh":
        k = c(math.sqrt(2 / math.pi))
        t = np.tanh(k * (x + c(0.044715) * x ** 3))
        return c(0.5) * (1 + t) + c(0.5) * x * (1 - t * t) * k * (1 + c(3 * 0.044715) * x * x)
    return (c(0.5) * (1 + _erf()(x / c(math.sqrt(2))))
            + x * np.exp(c(-0.5) * x * x) / c(math.sqrt(2 * math.pi)))


def _assign(x, value):
    x[...] = value
    return x


SMOOTH = "float16 is computed by the NumPy reference; integer input is a TypeError"

register(Op(
    name="elu",
    forward=_core.elu,
    backward=_core.elu_backward,
    ref_forward=reference.elu,
    ref_backward=reference.elu_backward,
    formula="ELU: ``y = x if x > 0 else alpha * (exp(x) - 1)`` (computed with expm1).",
    derivative="``grad`` where y > 0, else ``grad * (y + alpha)``; alpha must be >= 0",
    backward_needs="output",
    mask_bit="",
    max_ulp=4,
    other_dtypes=SMOOTH,
    numpy_text="np.where(x > 0, x, alpha * (np.exp(x) - 1))",
    numpy_forward=lambda x, alpha=1.0: _assign(x, np.where(x > 0, x, alpha * (np.exp(x) - 1))),
    numpy_saved=lambda x, alpha=1.0: np.where(x > 0, x, alpha * (np.exp(x) - 1)),
    numpy_backward=lambda g, y, alpha=1.0: _assign(g, g * np.where(y > 0, 1, y + alpha)),
    params={"alpha": 1.0},
    kernels=("elu", "elu_grad"),
    op_class="compute-bound",
))

register(Op(
    name="selu",
    forward=_core.selu,
    backward=_core.selu_backward,
    ref_forward=reference.selu,
    ref_backward=reference.selu_backward,
    formula=("SELU: ``scale * (x if x > 0 else alpha * (exp(x) - 1))`` with "
             "alpha = 1.6732632423543772, scale = 1.0507009873554805 (Klambauer et al.)."),
    derivative="``grad * scale`` where y > 0, else ``grad * (y + alpha * scale)``",
    backward_needs="output",
    mask_bit="",
    max_ulp=4,
    other_dtypes=SMOOTH,
    numpy_text="scale * np.where(x > 0, x, alpha * (np.exp(x) - 1))",
    numpy_forward=lambda x: _assign(x, reference.SELU_SCALE * np.where(
        x > 0, x, reference.SELU_ALPHA * (np.exp(x) - 1))),
    numpy_saved=lambda x: reference.SELU_SCALE * np.where(
        x > 0, x, reference.SELU_ALPHA * (np.exp(x) - 1)),
    numpy_backward=lambda g, y: _assign(g, g * np.where(
        y > 0, reference.SELU_SCALE, y + reference.SELU_ALPHA * reference.SELU_SCALE)),
    kernels=("elu", "elu_grad"),
    op_class="compute-bound",
))

register(Op(
    name="celu",
    forward=_core.celu,
    backward=_core.celu_backward,
    ref_forward=reference.celu,
    ref_backward=reference.celu_backward,
    formula="CELU: ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``; alpha != 0.",
    derivative="``grad`` where y > 0, else ``grad * (y + alpha) / alpha``; alpha must be > 0",
    backward_needs="output",
    mask_bit="",
    max_ulp=4,
    other_dtypes=SMOOTH,
    numpy_text="np.maximum(0, x) + np.minimum(0, alpha * (np.exp(x / alpha) - 1))",
    numpy_forward=lambda x, alpha=1.0: _assign(
        x, np.maximum(0, x) + np.minimum(0, alpha * (np.exp(x / alpha) - 1))),
    numpy_saved=lambda x, alpha=1.0: np.maximum(0, x) + np.minimum(0, alpha * (np.exp(x / alpha) - 1)),
    numpy_backward=lambda g, y, alpha=1.0: _assign(g, g * np.where(y > 0, 1, (y + alpha) / alpha)),
    params={"alpha": 1.0},
    kernels=("elu", "elu_grad"),
    op_class="compute-bound",
))

register(Op(
    name="softplus",
    forward=_core.softplus,
    backward=_core.softplus_backward,
    ref_forward=reference.softplus,
    ref_backward=reference.softplus_backward,
    formula=("Softplus: ``log(1 + exp(beta * x)) / beta``, and ``x`` where "
             "``beta * x > threshold`` (PyTorch's definition); computed without overflow."),
    derivative="``grad * sigmoid(beta * x)``, from the output as ``grad * (1 - exp(-beta * y))``",
    backward_needs="output",
    mask_bit="",
    max_ulp=4,
    other_dtypes=SMOOTH,
    numpy_text="np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)",
    numpy_forward=lambda x, beta=1.0, threshold=20.0: _assign(
        x, np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)),
    numpy_saved=lambda x, beta=1.0, threshold=20.0: np.where(
        beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta),
    numpy_backward=lambda g, y, beta=1.0, threshold=20.0: _assign(
        g, np.where(beta * y > threshold, g, g * (1 - np.exp(-beta * y)))),
    params={"beta": 1.0, "threshold": 20.0},
    kernels=("softplus", "softplus_grad"),
    op_class="compute-bound",
))

register(Op(
    name="silu",
    forward=_core.silu,
    backward=_core.silu_backward,
    ref_forward=reference.silu,
    ref_backward=reference.silu_backward,
    formula="SiLU (Swish): ``x * sigmoid(x)``.",
    derivative="``grad * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``",
    backward_needs="input",
    mask_bit="",
    max_ulp=4,
    other_dtypes=SMOOTH,
    numpy_text="x / (1 + np.exp(-x))",
    numpy_forward=lambda x: _assign(x, x / (1 + np.exp(-x))),
    numpy_saved=lambda x: x.copy(),
    numpy_backward=lambda g, x: _assign(g, g * (1 / (1 + np.exp(-x))) * (
        1 + x * (1 - 1 / (1 + np.exp(-x))))),
    kernels=("silu", "silu_grad"),
    op_class="compute-bound",
))

register(Op(
    name="gelu",
    forward=_core.gelu,
    backward=_core.gelu_backward,
    ref_forward=reference.gelu,
    ref_backward=reference.gelu_backward,
    formula=("GELU: ``x * Phi(x)``, Phi the standard normal CDF (``approximate='none'``, "
             "``0.5 * x * erfc(-x / sqrt 2)``), or "
             "``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))`` (``approximate='tanh'``)."),
    derivative="``grad * (Phi(x) + x * phi(x))`` (or the tanh form's derivative)",
    backward_needs="input",
    mask_bit="",
    max_ulp=4,
    other_dtypes=SMOOTH,
    numpy_text="0.5 * x * (1 + erf(x / sqrt(2)))",
    numpy_forward=lambda x, approximate="none": _assign(x, _np_gelu(x, approximate)),
    numpy_saved=lambda x, approximate="none": x.copy(),
    numpy_backward=lambda g, x, approximate="none": _assign(g, g * _np_gelu_grad(x, approximate)),
    params={"approximate": "none"},
    kernels=("gelu", "gelu_grad"),
    op_class="compute-bound",
))

ELEMENTWISE = {name: op for name, op in OPS.items() if op.kind == "elementwise"}
# elementwise ops whose backward takes the forward's bit mask (bit-exact in every backend)
MASKED = {name: op for name, op in ELEMENTWISE.items() if op.backward_needs == "mask"}
# elementwise ops whose backward takes the forward's input or output (ulp-bounded)
SMOOTH = {name: op for name, op in ELEMENTWISE.items() if op.backward_needs != "mask"}
