"""Plain-NumPy twins of every relukit kernel: the ``numpy`` backend.

They are three things at once: the readable definition of each op, the oracle the tests
compare the compiled backends against, and the fallback for dtypes the compiled backends
do not cover (float16, integers, non-native byte order).

Each function has the public signature of its op and works on its own, but does no
argument checking beyond NumPy's: the public entry points check before calling them.
Masks are ``np.packbits(bits.ravel(order="C"), bitorder="little")``.
"""
import numpy as np

__all__ = ["relu", "relu_backward", "pack_mask", "unpack_mask"]


def pack_mask(bits):
    """Pack a boolean array into relukit's mask layout (C order, little bit order)."""
    return np.packbits(np.asarray(bits, dtype=bool).ravel(order="C"), bitorder="little")


def unpack_mask(mask, shape):
    """Inverse of :func:`pack_mask`: the boolean array of ``shape`` a mask stands for."""
    size = int(np.prod(shape, dtype=np.int64))
    return np.unpackbits(mask, count=size, bitorder="little").astype(bool).reshape(shape)


def _select(values, keep, out):
    # out = values where keep else 0, written as copy + masked zero rather than a product:
    # a product would turn -x into -0.0 and NaN*0 into NaN.
    if out is None:
        out = np.empty_like(values)
    np.copyto(out, values)
    np.copyto(out, 0, where=~keep)
    return out


def relu(x, out=None, return_mask=False):
    """max(0, x) with NaN propagated and relu(-0.0) = +0.0; mask bit = not (x <= 0)."""
    x = np.asarray(x)
    keep = ~(x <= 0)                 # computed before out is written: out may overlap x
    out = _select(x, keep, out)
    return (out, pack_mask(keep)) if return_mask else out


def relu_backward(grad, mask, out=None):
    """grad where the mask bit is set, +0.0 elsewhere (NaN in grad is dropped there)."""
    grad = np.asarray(grad)
    return _select(grad, unpack_mask(mask, grad.shape), out)
