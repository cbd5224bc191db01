"""The op table: one entry per activation, the single source the package is built from.

An entry binds the compiled public functions to their NumPy reference, their formula and
derivative (for the docstrings), what the backward pass needs, the accuracy bound the tests
enforce, and the NumPy idioms the benchmarks compare against. The tests (``tests/``) and
the benchmarks (``bench/``, ``python -m relukit bench``) iterate over ``OPS``; adding an op
means one entry here plus its kernels.
"""
from dataclasses import dataclass, field
from typing import Callable

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
    # ``sample_call(x, rng) -> (forward kwargs, backward(grad, x) -> result)``.
    kind: str = "elementwise"
    sample_args: Callable = None    # composite ops: f(x, rng) -> dict of required arguments
    other_dtypes: str = "float16 and integer dtypes are computed by the NumPy reference"


OPS = {}


def register(op):
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
    mask_sig = ", return_mask=False" if op.backward_needs == "mask" else ""
    op.forward.__doc__ = f"""{_signature(op, f"{op.name}(x", f", out=None{mask_sig})")}

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
    numpy_saved=lambda x: x > 0,
    params={"negative_slope": 0.01},
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
))

ELEMENTWISE = {name: op for name, op in OPS.items() if op.kind == "elementwise"}
