"""Plain-NumPy twins of every relukit kernel: the ``numpy`` backend.

They are three things at once: the readable definition of each op, the oracle the tests
compare the compiled backends against, and the fallback for dtypes the compiled backends
do not cover (float16, integers, non-native byte order).

Each function has the public signature of its op and works on its own, but does no
argument checking beyond NumPy's: the public entry points check before calling them.
Masks are ``np.packbits(bits.ravel(order="C"), bitorder="little")``.
"""
import math

import numpy as np

__all__ = ["relu", "relu_backward", "relu6", "relu6_backward", "leaky_relu",
           "leaky_relu_backward", "prelu", "prelu_backward", "crelu", "crelu_backward",
           "brelu", "brelu_backward", "elu", "elu_backward", "selu", "selu_backward", "celu",
           "celu_backward", "softplus", "softplus_backward", "silu", "silu_backward", "gelu",
           "gelu_backward", "pack_mask", "unpack_mask"]


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
    # (a signalling NaN, a slope > 1 overflowing to inf or an exp underflowing to a
    # subnormal is not an error here).
    return np.errstate(invalid="ignore", over="ignore", under="ignore", divide="ignore")


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


# ---- prelu ----------------------------------------------------------------------------

def prelu_slopes(x, weight, axis=1, fname="prelu"):
    """The weight rules of prelu (shared by every backend): returns ``(channel axis or -1,
    slopes as a contiguous 1-d array of x's dtype, slopes broadcast to x's shape)``.

    ``weight`` is a scalar or 1-d: one slope, or one per entry of ``x.shape[axis]``. As in
    PyTorch, an ``x`` with fewer than 2 dimensions has no channel axis (with the default
    ``axis=1``) and takes a single slope. Slopes are rounded to x's dtype.
    """
    w = np.asarray(weight)
    if w.dtype.kind not in "fiu":
        raise TypeError(f"{fname}: weight must be real numbers, got dtype {w.dtype}")
    if w.ndim > 1:
        raise ValueError(f"{fname}: weight must be a scalar or 1-d, got shape {w.shape}")
    if x.ndim < 2 and axis == 1:
        if w.size != 1:
            raise ValueError(f"{fname}: x has {x.ndim} dimensions, so no channel axis; weight "
                             f"must have one element, got {w.size}")
        slopes = w.astype(x.dtype).reshape(1)
        return -1, slopes, np.broadcast_to(slopes[0], x.shape)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{fname}: axis {axis} is out of bounds for x with {x.ndim} dimensions")
    ch = axis % x.ndim
    if w.size not in (1, x.shape[ch]):
        raise ValueError(f"{fname}: weight has {w.size} elements but x.shape[{ch}] = {x.shape[ch]}")
    slopes = np.ascontiguousarray(np.broadcast_to(w.astype(x.dtype).reshape(-1), (x.shape[ch],)))
    shape = [1] * x.ndim
    shape[ch] = x.shape[ch]
    return ch, slopes, np.broadcast_to(slopes.reshape(shape), x.shape)


PRELU_LANES = 16      # the compiled kernels' float64 lanes per segment
PRELU_SEG = 4096      # elements per segment of a row (a multiple of PRELU_LANES)


def prelu_channel_sum(term, ch, weight):
    """prelu's weight gradient from the C-ordered float64 ``term`` (x * grad where not
    x > 0, +0.0 elsewhere): per channel of axis ``ch`` (everything when there is no channel
    axis or ``weight`` has one element), rounded to ``weight_dtype``... shaped like ``weight``.

    The sum runs in one fixed order, the compiled kernels' (kernels/piecewise.pxi,
    prelu_grad_segment), so every backend gives the same bits whatever its thread count:
    with x seen as (outer, channels, inner) in C order, each row is cut into segments of
    PRELU_SEG elements; in a segment element j goes to lane j % PRELU_LANES (lanes start at
    +0.0), the lanes are summed by halving (lane k += lane
    k + h, h = 8, 4, 2, 1); a channel's total is the sequential sum of its segment sums in
    the order (outer index, segment), from +0.0."""
    t = np.ascontiguousarray(term, dtype=np.float64)
    if ch < 0 or np.size(weight) == 1:
        outer, nchan, inner = 1, 1, t.size
    else:
        outer, nchan, inner = int(np.prod(t.shape[:ch])), t.shape[ch], int(np.prod(t.shape[ch + 1:]))
    t = t.reshape(outer, nchan, inner)
    nfull = inner // PRELU_SEG
    parts = []
    with _quiet():                   # inf - inf and overflow are results, not errors
        if nfull:
            parts.append(_lane_sums(t[:, :, :nfull * PRELU_SEG].reshape(
                outer, nchan, nfull, PRELU_SEG // PRELU_LANES, PRELU_LANES)))
        rest = inner - nfull * PRELU_SEG
        if rest == 1:    # a one-element segment: its term adds to the total as its sum would
            parts.append(t[:, :, nfull * PRELU_SEG:])
        elif rest or inner == 0:
            m = -(-rest // PRELU_LANES)
            tail = np.zeros((outer, nchan, 1, m * PRELU_LANES))
            tail[:, :, 0, :rest] = t[:, :, nfull * PRELU_SEG:]
            parts.append(_lane_sums(tail.reshape(outer, nchan, 1, m, PRELU_LANES)))
        seg = np.concatenate(parts, axis=2)                     # (outer, nchan, segments)
        seg = np.ascontiguousarray(seg.transpose(1, 0, 2)).reshape(nchan, outer * seg.shape[2])
        start = np.zeros((nchan, 1))
        # accumulate adds strictly in order (a reduce might pair terms up)
        return np.add.accumulate(np.concatenate((start, seg), axis=1), axis=1)[:, -1]


def _lane_sums(a):
    # a: (outer, nchan, segments, chunks, PRELU_LANES) -> the segment sums (outer, nchan,
    # segments): chunks added in order per lane, from +0.0, then lanes halved pairwise
    acc = np.zeros(a.shape[:3] + (PRELU_LANES,))
    for j in range(a.shape[3]):
        acc = acc + a[:, :, :, j, :]
    h = PRELU_LANES // 2
    while h:
        acc = acc[..., :h] + acc[..., h:2 * h]
        h //= 2
    return acc[..., 0]


def prelu(x, weight, axis=1, out=None, return_mask=False):
    """x where x > 0, else weight[c] * x with c the index along ``axis``; mask bit = x > 0."""
    x = np.asarray(x)
    _float_only("prelu", x)
    _, _, slopes = prelu_slopes(x, weight, axis)
    keep = x > 0
    with _quiet():
        result = np.where(keep, x, x * slopes)
    if out is None:
        return (result, pack_mask(keep)) if return_mask else result
    np.copyto(out, result)
    return (out, pack_mask(keep)) if return_mask else out


def prelu_backward(grad, x, weight, axis=1):
    """(grad where x > 0 else weight[c] * grad, sum of x * grad where not x > 0 per channel)."""
    x, grad = np.asarray(x), np.asarray(grad)
    _float_only("prelu_backward", x)
    ch, _, slopes = prelu_slopes(x, weight, axis)
    positive = x > 0
    with _quiet():
        grad_x = np.where(positive, grad, grad * slopes)
        term = np.where(positive, 0.0, (x * grad).astype(np.float64))
        total = prelu_channel_sum(term, ch, weight)
        # a NaN sum is the default quiet NaN: which payload an add keeps where two NaNs
        # meet depends on operand order, which SIMD code does not fix
        grad_w = np.where(np.isnan(total), np.nan, total).astype(x.dtype).reshape(np.shape(weight))
    return grad_x, grad_w


# ---- crelu ----------------------------------------------------------------------------

def crelu_axis(x, axis=-1, fname="crelu"):
    """The axis crelu concatenates along, validated (x needs at least one dimension)."""
    if x.ndim == 0:
        raise ValueError(f"{fname}: x must have at least one dimension to concatenate along")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{fname}: axis {axis} is out of bounds for x with {x.ndim} dimensions")
    return axis % x.ndim


def crelu(x, axis=-1):
    """concatenate((relu(x), relu(-x)), axis) (TensorFlow's definition)."""
    x = np.asarray(x)
    _float_only("crelu", x)
    return np.concatenate((relu(x), relu(np.negative(x))), axis=crelu_axis(x, axis))


def crelu_backward(grad, x, axis=-1):
    """grad of the relu(x) half where not x <= 0, minus grad of the relu(-x) half where
    not -x <= 0 (both at NaN)."""
    x, grad = np.asarray(x), np.asarray(grad)
    _float_only("crelu_backward", x)
    first, second = np.split(grad, 2, axis=crelu_axis(x, axis))
    zero = x.dtype.type(0)
    with _quiet():
        return np.where(x <= 0, zero, first) - np.where(-x <= 0, zero, second)


# ---- brelu ----------------------------------------------------------------------------

def brelu_biases(x, biases, fname="brelu"):
    """The biases as a 1-d array of x's dtype (each rounded as the kernels use it)."""
    b = np.asarray(biases)
    if b.dtype.kind not in "fiu":
        raise TypeError(f"{fname}: biases must be real numbers, got dtype {b.dtype}")
    if b.ndim != 1:
        raise ValueError(f"{fname}: biases must be 1-d, got shape {b.shape}")
    return b.astype(x.dtype)


def brelu(x, biases):
    """relu(x - b) for each b in ``biases``, stacked on a new last axis (Liang and Xu, 2021)."""
    x = np.asarray(x)
    _float_only("brelu", x)
    bs = brelu_biases(x, biases)
    with _quiet():
        return np.stack([relu(x - b) for b in bs], axis=-1) if len(bs) else \
            np.empty(x.shape + (0,), x.dtype)


def brelu_backward(grad, x, biases):
    """sum over j of grad[..., j] where not x - b_j <= 0, summed in order j = 0, 1, ..."""
    x, grad = np.asarray(x), np.asarray(grad)
    _float_only("brelu_backward", x)
    bs = brelu_biases(x, biases, "brelu_backward")
    total = np.zeros(x.shape, x.dtype)
    zero = x.dtype.type(0)
    with _quiet():
        for j, b in enumerate(bs):
            total = total + np.where(x - b <= 0, zero, grad[..., j])
    return total


# ---- smooth ops -----------------------------------------------------------------------
# Evaluated in float64 (float16/float32 inputs are widened first) and rounded once to the
# input's dtype; each formula is arranged so that no step cancels or overflows.

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
# alpha * scale is not a double: hi + lo (mpmath); the gradient needs lo where y -> -hi
SELU_NEG_HI = 1.7580993408473768
SELU_NEG_LO = 1.41535193800845e-17

_erfc = np.frompyfunc(math.erfc, 1, 1)     # NumPy has no erfc; libm's is < 1 ulp
_SQRT1_2 = 0.7071067811865476
_SQRT1_2_LO = -4.833646656726457e-17       # 1/sqrt 2 - _SQRT1_2
_TWO_OVER_SQRTPI = 1.1283791670955126
_GELU_K_HI, _GELU_K_LO = 0.044715, 2.1960211427085595e-18          # 0.044715 = hi + lo
_C2_HI, _C2_LO = 1.5957691216057308, -9.96930880911092e-17         # 2 sqrt(2/pi) = hi + lo


def _erfc_array(t):
    return np.asarray(_erfc(t), dtype=np.float64)   # (a 0-d input gives a Python float)


def _wide(name, x):
    x = np.asarray(x)
    _float_only(name, x)
    with _quiet():                   # a signalling NaN is quieted by the cast, silently
        return x, x.astype(np.float64)


def _finish(x, value, out):
    with _quiet():                   # a result beyond the dtype's range rounds to inf
        value = np.asarray(value).astype(x.dtype)
    if out is None:
        return value
    np.copyto(out, value)
    return out


def _two_prod(a, b):
    """a * b as p + err with err the exact rounding error (Dekker's product: NumPy has no
    FMA); err is 0 where the product or the splitting would overflow."""
    def split(v):
        c = 134217729.0 * v          # 2^27 + 1
        hi = c - (c - v)
        return hi, v - hi
    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, np.where(np.isfinite(err) & (np.abs(p) < 1e300), err, 0.0)


def _elu_like(name, x, negcoef, poscoef, divisor, out):
    x, xd = _wide(name, x)
    with _quiet():
        value = np.where(xd <= 0, negcoef * np.expm1(xd / divisor), poscoef * xd)
    return _finish(x, value, out)


def _elu_like_backward(name, grad, y, negcoef, poscoef, divisor, out, neglo=0.0):
    grad, g = _wide(name, grad)
    with _quiet():
        yd = np.asarray(y).astype(np.float64)
        # y + negcoef is exact near y = -negcoef (Sterbenz), so a lo part survives
        value = np.where(yd <= 0, g * (((yd + negcoef) + neglo) / divisor), g * poscoef)
    return _finish(grad, value, out)


def _output_determines(name, pname, value):
    if not value >= 0:
        raise ValueError(f"{name}: {pname} = {value} < 0: the forward's output no longer "
                         f"determines the gradient; use a non-negative {pname}")


def elu(x, alpha=1.0, out=None):
    """x where x > 0, else alpha * (exp(x) - 1) (as expm1)."""
    return _elu_like("elu", x, alpha, 1.0, 1.0, out)


def elu_backward(grad, y, alpha=1.0, out=None):
    """grad where y > 0, else grad * (y + alpha), from the forward's output y."""
    _output_determines("elu_backward", "alpha", alpha)
    return _elu_like_backward("elu_backward", grad, y, alpha, 1.0, 1.0, out)


def selu(x, out=None):
    """scale * elu(x, alpha) with SELU's constants (Klambauer et al., 2017)."""
    return _elu_like("selu", x, SELU_NEG_HI, SELU_SCALE, 1.0, out)


def selu_backward(grad, y, out=None):
    """grad * scale where y > 0, else grad * (y + alpha * scale)."""
    return _elu_like_backward("selu_backward", grad, y, SELU_NEG_HI, SELU_SCALE, 1.0, out,
                              SELU_NEG_LO)


def celu(x, alpha=1.0, out=None):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (celu divides x by alpha)")
    return _elu_like("celu", x, alpha, 1.0, alpha, out)


def celu_backward(grad, y, alpha=1.0, out=None):
    """grad where y > 0, else grad * (y + alpha) / alpha."""
    if alpha == 0:
        raise ValueError("celu_backward: alpha must not be 0 (celu divides x by alpha)")
    _output_determines("celu_backward", "alpha", alpha)
    return _elu_like_backward("celu_backward", grad, y, alpha, 1.0, alpha, out)


def softplus(x, beta=1.0, threshold=20.0, out=None):
    """log(1 + exp(beta x)) / beta, and x where beta x > threshold (PyTorch's definition),
    as max(z, 0) + log1p(exp(-|z|)) so that exp never overflows."""
    if beta == 0:
        raise ValueError("softplus: beta must not be 0 (softplus divides by beta)")
    x, xd = _wide("softplus", x)
    with _quiet():
        z, zlo = _two_prod(np.float64(beta), xd)      # the rounding error of beta * x ...
        sp = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
        sp = sp + _sigmoid(z) * zlo                     # ... applied to first order
        value = np.where(z > threshold, xd, sp / beta)
    return _finish(x, value, out)


def softplus_backward(grad, y, beta=1.0, threshold=20.0, out=None):
    """grad * sigmoid(beta x), as grad * (1 - exp(-beta y)) from the output y."""
    if beta == 0:
        raise ValueError("softplus_backward: beta must not be 0 (softplus divides by beta)")
    grad, g = _wide("softplus_backward", grad)
    with _quiet():
        z = beta * np.asarray(y).astype(np.float64)
        value = np.where(z > threshold, g, g * -np.expm1(-z))
    return _finish(grad, value, out)


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def silu(x, out=None):
    """x * sigmoid(x); below x = -708, x * e * e with e = exp(x / 2) (one rounding into
    the subnormals)."""
    x, xd = _wide("silu", x)
    with _quiet():
        e = np.exp(0.5 * xd)
        value = np.where(xd < -708, (xd * e) * e, xd * _sigmoid(xd))
    return _finish(x, value, out)


def silu_backward(grad, x, out=None):
    """grad * s * (1 + x * (1 - s)), s = sigmoid(x), 1 - s = sigmoid(-x)."""
    grad, g = _wide("silu_backward", grad)
    with _quiet():
        xd = np.asarray(x).astype(np.float64)
        s, t = _sigmoid(xd), _sigmoid(-xd)
        e = np.exp(0.5 * xd)         # below -708, e * e keeps a subnormal result to one rounding
        tail = np.where(xd < -1500, g * -0.0, ((g * (1 + xd * t)) * e) * e)   # no -inf * 0
        value = np.where(xd < -708, tail, g * (s + (xd * s) * t))
    return _finish(grad, value, out)


def _gelu_mode(name, approximate):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"{name}: approximate must be 'none' or 'tanh', got {approximate!r}")
    return approximate


def gelu(x, approximate="none", out=None):
    """x * Phi(x) = 0.5 x erfc(-x / sqrt 2); approximate="tanh":
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) = x * sigmoid(2u)."""
    _gelu_mode("gelu", approximate)
    x, xd = _wide("gelu", x)
    with _quiet():
        if approximate == "none":
            # t = -x/sqrt 2 carried as t + tlo (1/sqrt 2 itself as hi + lo), erfc corrected
            # to first order: its sensitivity to t grows like 2t^2 in the tail
            t, tlo = _two_prod(-xd, np.float64(_SQRT1_2))
            tlo = np.where(np.isfinite(t), tlo + (-xd) * _SQRT1_2_LO, 0.0)
            h, hl = _two_prod(t, t)
            dens = _TWO_OVER_SQRTPI * np.exp(-h) * (1 - hl)
            value = (0.5 * xd) * (_erfc_array(t) - dens * tlo)
        else:
            u2, lo = _gelu_tanh_u2(xd)
            s, t = _sigmoid(u2), _sigmoid(-u2)
            e = np.exp(0.5 * u2)        # below -708, x e e keeps a subnormal result to one rounding
            value = np.where(u2 < -708, ((xd * e) * (1 + lo)) * e, xd * (s + (s * t) * lo))
    return _finish(x, value, out)


def _gelu_tanh_u2(x):
    """2u = 2 sqrt(2/pi) (x + 0.044715 x^3) as hi + lo: the sigmoid amplifies the rounding
    of a plain-double 2u ~|2u| times (up to ~1,200 ulp), so it is carried in double-double,
    with both constants as hi + lo."""
    p2, e2 = _two_prod(x, x)
    p3, e3 = _two_prod(p2, x)
    e3 = e3 + e2 * x
    pt, et = _two_prod(np.float64(_GELU_K_HI), p3)
    et = et + _GELU_K_HI * e3 + _GELU_K_LO * p3
    ps = x + pt
    bb = ps - x
    es = ((x - (ps - bb)) + (pt - bb)) + et
    pu, eu = _two_prod(np.float64(_C2_HI), ps)
    eu = eu + _C2_HI * es + _C2_LO * ps
    return pu, np.where(np.abs(pu) <= 1e6, eu, 0.0)


def gelu_backward(grad, x, approximate="none", out=None):
    """Phi(x) + x phi(x) (exact) or the derivative of x * sigmoid(2u) (tanh)."""
    _gelu_mode("gelu_backward", approximate)
    grad, g = _wide("gelu_backward", grad)
    with _quiet():
        xd = np.asarray(x).astype(np.float64)
        if approximate == "none":
            h, lo = _two_prod(xd, xd)           # x^2 exactly: exp(-x^2/2) keeps its accuracy
            pdf = np.exp(-0.5 * h) * (1 - 0.5 * lo) / math.sqrt(2 * math.pi)
            cdf = 0.5 * _erfc_array(-xd * _SQRT1_2)
            value = g * (cdf + xd * pdf)
        else:
            u2, lo = _gelu_tanh_u2(xd)
            du2 = _C2_HI * (1 + 3 * 0.044715 * xd * xd)
            s, t = _sigmoid(u2), _sigmoid(-u2)
            ds = (s * t) * lo
            s, t = s + ds, t - ds
            e = np.exp(0.5 * u2)
            main = np.where(u2 < -708, (((g * (1 + (xd * du2) * t)) * e) * (1 + lo)) * e,
                            g * (s + (xd * du2) * (s * t)))
            value = np.where(np.abs(xd) >= 1e30, np.where(xd > 0, g, 0.0), main)  # x^3: inf * 0
    return _finish(grad, value, out)
