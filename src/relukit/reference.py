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
_GELU_K3_HI, _GELU_K3_LO = 0.134145, 1.3526957332032908e-17        # 3 * 0.044715 = hi + lo
_INV_SQRT_2PI, _INV_SQRT_2PI_LO = 0.3989422804014327, -2.49232720227773e-17
_INV_SQRTPI = 0.5641895835477563
_LOG2E = 1.4426950408889634
_LN2HI, _LN2LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10   # Cody-Waite
# gelu' around its root x0 = -0.75179: gelu'(x) = d Q(d), d = x - x0 (x0 = hi + lo), Q of
# degree 17 fitted with mpmath (the coefficients of kernels/smooth.pxi, rk_gelu_grad_precise)
_GELU_X0_HI, _GELU_X0_LO = -0.7517915246935645, 1.4956759177009883e-17
_GELU_Q0_HI, _GELU_Q0_LO = 0.4314939923140469, 2.7308688141129613e-17
_GELU_Q = (                                  # Q(d) - Q(0) over d, highest degree first
    -2.1777305476935804e-09, -3.3427170839783967e-08, -6.646613619694583e-10,
    5.693564980667324e-07, 4.3241311031596224e-07, -7.748236551635428e-06,
    -1.1214276629909324e-05, 8.615944673128137e-05, 0.00018633973218674946,
    -0.0007448268360396969, -0.0022395380669965994, 0.00453922837900497,
    0.01942167983814538, -0.014771522148241676, -0.11400823329722092,
    -0.018199676398671108, 0.388284982990552)


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


def _exp_dd(hi, lo):
    """exp(hi + lo) for -780 <= hi <= 0 as (eh, el, s2): exp = (eh + el) * s2 with eh + el
    normal, s2 a power of two to apply last (one rounding into the subnormals), eh + el
    accurate to ~2^-55 (expm1 of the reduced argument, as in kernels/vmath.h rk__exp_dd)."""
    n = np.rint((hi + lo) * _LOG2E)
    rh = hi - n * _LN2HI                        # exact (Cody-Waite)
    m = np.expm1(rh)
    em = np.expm1(lo - n * _LN2LO)
    s = 1 + m
    t = ((1 - s) + m) + (em + m * em)           # (1 + m)(1 + em) = s + t
    eh = s + t                                  # renormalised (Fast2Sum): |el| <= ulp(eh) / 2
    el = t - (eh - s)
    n1 = np.rint(0.5 * n)
    s1 = np.ldexp(1.0, n1.astype(np.int64))
    return eh * s1, el * s1, np.ldexp(1.0, (n - n1).astype(np.int64))


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


def _xsig_grad(g, v, vlo, mh, ml):
    """g * d/dx [x sigmoid(v)] from E = exp(-|v + vlo|) and m = x v' = mh + ml, as
    E (1 + m + E) / (1 + E)^2 (v < 0) and (1 + E (1 + m)) / (1 + E)^2 (v >= 0), every sum
    and product in double-double (s + m s (1 - s) cancels near the derivative's root and
    over the negative axis; see rk__xsig_grad in kernels/smooth.pxi)."""
    def two_sum(a, b):
        s = a + b
        bb = s - a
        return s, (a - (s - bb)) + (b - bb)
    neg = v < 0
    av = np.abs(v)
    clamp = av > 780
    eh, el, s2 = _exp_dd(np.where(clamp, -780.0, -av),
                         np.where(clamp, 0.0, np.where(neg, vlo, -vlo)))
    E, El = eh * s2, el * s2
    dh = 1 + E
    dl = ((1 - dh) + E) + El
    w = 1 / dh
    p, pe = _two_prod(dh, w)
    e1 = ((1 - p) - pe) - dl * w                # 1 / (1 + E) = w (1 + e1)
    W, We = _two_prod(w, w)
    Wl = We + 2 * W * e1
    oh, ol = two_sum(1.0, mh)
    ol = ol + ml
    kn, knl = two_sum(oh, E)
    knl = knl + (ol + El)
    p, pe = _two_prod(E, oh)
    kp, kpl = two_sum(1.0, p)
    kpl = kpl + (pe + (E * ol + El * oh))
    kh, kl = np.where(neg, kn, kp), np.where(neg, knl, kpl)
    fh, fl = np.where(neg, eh, 1.0), np.where(neg, el, 0.0)
    h, l = _two_prod(g, fh)
    l = l + g * fl
    h2, l2 = _two_prod(h, kh)
    l2 = l2 + (h * kl + l * kh)
    h3, l3 = _two_prod(h2, W)
    l3 = l3 + (h2 * Wl + l2 * W)
    return (h3 + l3) * np.where(neg, s2, 1.0)


def silu_backward(grad, x, out=None):
    """grad * s * (1 + x * (1 - s)), s = sigmoid(x), as _xsig_grad (x clamped to
    [-780, 780], past which it rounds to -0.0 grad and grad; +inf gives NaN as the formula)."""
    grad, g = _wide("silu_backward", grad)
    with _quiet():
        xd = np.asarray(x).astype(np.float64)
        xc = np.clip(xd, -780.0, 780.0)
        value = np.where(xd == np.inf, np.nan, _xsig_grad(g, xc, 0.0, xc, 0.0))
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
            # e^{-t^2} = e^{-x^2/2} (to ~1e-13, ample here) from x^2 split exactly
            xc = np.clip(xd, -39.0, 39.0)
            h, hl = _two_prod(xc, xc)
            eh, el, s2 = _exp_dd(-0.5 * h, -0.5 * hl)
            dens = _TWO_OVER_SQRTPI * (eh * s2)
            value = (0.5 * xd) * (_erfc_array(t) - dens * tlo)
            fwd, _ = _gelu_tail(xc, h, eh, el)     # x <= -26: one rounding into the subnormals
            value = np.where(xd <= -26, np.where(xd == -np.inf, np.nan, fwd * s2), value)
        else:
            u2, lo = _gelu_tanh_u2(xd)
            s, t = _sigmoid(u2), _sigmoid(-u2)
            e = np.exp(0.5 * u2)        # below -708, x e e keeps a subnormal result to one rounding
            value = np.where(u2 < -708, ((xd * e) * (1 + lo)) * e, xd * (s + (s * t) * lo))
    return _finish(x, value, out)


def _gelu_tail(x, h, eh, el):
    """(gelu, gelu') for x <= -26, each to be multiplied by s2 last, from the asymptotic
    series Phi(x) = phi(x) / |x| * S(1/x^2): gelu = -phi S, gelu' = x phi (1 - S / x^2);
    x clamped to [-39, 39], h = x^2, exp(-x^2/2) = (eh + el) s2 (_exp_dd)."""
    ph, pe = _two_prod(np.float64(_INV_SQRT_2PI), eh)
    pl = pe + (_INV_SQRT_2PI * el + _INV_SQRT_2PI_LO * eh)
    z = 1 / np.maximum(h, 676.0)
    c = 2027025.0
    for k in (-135135.0, 10395.0, -945.0, 105.0, -15.0, 3.0, -1.0):
        c = c * z + k
    cs = z * c                                   # S(z) - 1
    cg = -z * (1 + cs)                           # -z S(z)
    xh, xe = _two_prod(x, ph)
    return -(ph + (pl + ph * cs)), xh + ((xe + x * pl) + xh * cg)


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
            # as rk_gelu_grad_precise (kernels/smooth.pxi): Phi + x phi with x phi in
            # double-double and Phi's t = -x/sqrt 2 corrected for its rounding; a fitted
            # polynomial around the root, where the two cancel; the asymptotic tail
            x = np.clip(xd, -39.0, 39.0)
            t, tlo = _two_prod(-x, np.float64(_SQRT1_2))
            tlo = tlo + (-x) * _SQRT1_2_LO
            h, hl = _two_prod(x, x)
            eh, el, s2 = _exp_dd(-0.5 * h, -0.5 * hl)
            E, El = eh * s2, el * s2
            ph, pe = _two_prod(np.float64(_INV_SQRT_2PI), E)
            pl = pe + (_INV_SQRT_2PI * El + _INV_SQRT_2PI_LO * E)
            xh, xe = _two_prod(x, ph)
            xl = xe + x * pl
            cdf = 0.5 * _erfc_array(t)
            sh = cdf + xh
            sb = sh - cdf
            sl = ((cdf - (sh - sb)) + (xh - sb)) + (xl - (_INV_SQRTPI * E) * tlo)
            gh, ge = _two_prod(g, sh)
            main = gh + (ge + g * sl)
            d = (x - _GELU_X0_HI) - _GELU_X0_LO
            q = np.zeros_like(d)
            for c in _GELU_Q:
                q = q * d + c
            q = _GELU_Q0_HI + (_GELU_Q0_LO + q * d)
            root = g * (d * q)
            _, dphi = _gelu_tail(x, h, eh, el)
            value = np.where((x >= -1.3) & (x <= -0.25), root,
                             np.where(x <= -26, (g * dphi) * s2, main))
            value = np.where(np.abs(xd) == np.inf, np.nan, value)
        else:
            # x (2u)' = x C2 (1 + 3k x^2) in double-double; x clamped to [-25, 25], past
            # which the result rounds to -0.0 grad and grad (and x^3 stays finite)
            x = np.clip(xd, -25.0, 25.0)
            u2, lo = _gelu_tanh_u2(x)
            p2, e2 = _two_prod(x, x)
            q, qe = _two_prod(np.float64(_GELU_K3_HI), p2)
            qe = qe + (_GELU_K3_HI * e2 + _GELU_K3_LO * p2)
            ah = 1 + q
            ab = ah - 1
            al = ((1 - (ah - ab)) + (q - ab)) + qe
            xa, xal = _two_prod(x, ah)
            xal = xal + x * al
            mh, ml = _two_prod(np.float64(_C2_HI), xa)
            ml = ml + (_C2_HI * xal + _C2_LO * xa)
            value = np.where(xd == -np.inf, 0.0, _xsig_grad(g, u2, lo, mh, ml))
    return _finish(grad, value, out)
