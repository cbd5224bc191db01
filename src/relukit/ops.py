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
    params: dict = field(default_factory=dict)


OPS = {}


def register(op):
    OPS[op.name] = op
    _document(op)
    return op


def _document(op):
    needs = {"mask": "the bit mask returned by the forward with ``return_mask=True``",
             "output": "the forward's output", "input": "the forward's input"}[op.backward_needs]
    op.forward.__doc__ = f"""{op.name}(x, out=None, return_mask=False)

    {op.formula}

    Parameters
    ----------
    x : array_like
        float32 and float64 run compiled kernels; float16 and integer dtypes are computed
        by the NumPy reference. ``out=x`` (in place) needs ``x`` to be a writeable ndarray.
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
    op.backward.__doc__ = f"""{op.backward.__name__}(grad, mask, out=None)

    Gradient of :func:`{op.name}`: {op.derivative}. Needs only {needs}.

    Parameters
    ----------
    grad : array_like
        Upstream gradient, float32/float64 compiled (other real dtypes via NumPy).
    mask : ndarray of uint8
        1-d, ``ceil(grad.size / 8)`` bytes, as returned by ``{op.name}(..., return_mask=True)``.
    out : ndarray, optional
        ``out=grad`` is in place.

    Notes
    -----
    Where the mask bit is clear the result is +0.0 even if grad is NaN or inf (a select, as
    in PyTorch's ``threshold_backward``, not a product). Equivalent NumPy:
    ``relukit.reference.{op.backward.__name__}(grad, mask)``.
    """


def _np_relu_inplace(x):
    return np.maximum(x, 0, out=x)


def _np_mask_backward(g, saved):
    return np.multiply(g, saved, out=g)


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
