"""Plain-NumPy twins of every relukit kernel: the ``numpy`` backend.

They are three things at once: the readable definition of each op, the oracle the tests
compare the compiled backends against, and the fallback for dtypes the compiled backends
do not cover (float16, integers, non-native byte order).

Each function has the public signature of its op and works on its own, but does no
argument checking beyond NumPy's: the public entry points check before calling them.
Masks are ``np.packbits(bits.ravel(order="C"), bitorder="little")``.
"""
import numpy as np

__all__ = ["relu", "relu_backward", "relu6", "relu6_backward", "leaky_relu",
           "leaky_relu_backward", "pack_mask", "unpack_mask"]


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


def relu6(x, out=None, return_mask=False):
    """min(max(0, x), 6) with NaN propagated and relu6(-0.0) = +0.0; mask bit = 0 < x < 6."""
    x = np.asarray(x)
    low, high = x <= 0, x >= 6       # before out is written: out may overlap x
    keep = (x > 0) & (x < 6)
    if out is None:
        out = np.empty_like(x)
    np.copyto(out, x)
    np.copyto(out, 0, where=low)
    np.copyto(out, 6, where=high)
    return (out, pack_mask(keep)) if return_mask else out


def relu6_backward(grad, mask, out=None):
    """grad where 0 < x < 6 (the mask bit), +0.0 elsewhere."""
    return relu_backward(grad, mask, out)


def _quiet():
    # The compiled kernels never raise floating-point warnings; the reference matches them
    # (a signalling NaN or a slope > 1 overflowing to inf is not an error here).
    return np.errstate(invalid="ignore", over="ignore")


def _float_only(name, x):
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: x must be a floating-point array, got dtype {x.dtype} "
                        "(the result of this op is not an integer)")


def leaky_relu(x, negative_slope=0.01, out=None, return_mask=False):
    """x where x > 0, else slope * x, the slope rounded to x's dtype first; mask bit = x > 0."""
    x = np.asarray(x)
    _float_only("leaky_relu", x)
    keep = x > 0
    with _quiet():
        result = np.where(keep, x, x * x.dtype.type(negative_slope))
    if out is None:
        return (result, pack_mask(keep)) if return_mask else result
    np.copyto(out, result)
    return (out, pack_mask(keep)) if return_mask else out


def leaky_relu_backward(grad, mask, negative_slope=0.01, out=None):
    """grad where the mask bit is set (x > 0), slope * grad elsewhere."""
    grad = np.asarray(grad)
    _float_only("leaky_relu_backward", grad)
    keep = unpack_mask(mask, grad.shape)
    with _quiet():
        result = np.where(keep, grad, grad * grad.dtype.type(negative_slope))
    if out is None:
        return result
    np.copyto(out, result)
    return out
