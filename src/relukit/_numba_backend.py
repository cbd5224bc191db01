"""Parallel Numba kernels (the ``numba`` backend), imported on first use only.

Every kernel takes flat, contiguous 1-d views (the dispatcher sends only same-order
contiguous arrays here) and implements exactly the arithmetic of the Cython kernel of the
same name, so results are identical whichever backend runs.

Threading layer: Numba's own choice (``NUMBA_THREADING_LAYER`` is respected); here that is
GNU OpenMP. Launch cost measured on the 2-core development machine (empty-ish prange
kernel, n = 1,000 float32): omp 3.1 us, workqueue 52 us, so workqueue is not forced.
Two hazards are handled rather than avoided:

* concurrent launches from several Python threads (workqueue aborts the process; the
  others oversubscribe): ``_core.run_numba`` serialises launches with a non-blocking lock,
  and a thread that finds a launch in progress runs the Cython kernel instead;
* ``fork()``: a child of a process that used GNU OpenMP is terminated by Numba at its first
  parallel launch. An at-fork hook in ``_core`` marks such a child, whose calls then run
  the Cython kernel (``explain`` says so).

Compiled kernels are cached on disk (``cache=True``). Where no cache location is writable
Numba refuses caching at decoration time; the kernels are then compiled in memory.
"""
import threading
import warnings

import numba
import numpy as np
from numba import njit, prange

from ._numba_math import rk_erfc, rk_exp, rk_expm1, rk_fma, rk_log1p, rk_select, rk_sigmoid
from ._numba_mathf import (rk_expm1f, rk_fmaf, rk_gelu_gradf, rk_gelu_tanh_gradf, rk_gelu_tanhf,
                           rk_geluf, rk_selectf, rk_silu_gradf, rk_siluf, rk_softplus_corrf)

# Elements per parallel work item of the mask kernels: a multiple of 8 (whole mask bytes
# per item) large enough that the per-item bookkeeping is negligible.
MASK_CHUNK = 4096

_local = threading.local()  # the Numba thread count last set from each calling thread


def _parallel_jit(fn, **options):
    try:
        return njit(parallel=True, nogil=True, cache=True, **options)(fn)
    except RuntimeError as exc:       # "cannot cache function ...: no locator available"
        warnings.warn(f"relukit: Numba cannot cache {fn.__name__} ({exc}); kernels will be "
                      "compiled in every process", RuntimeWarning, stacklevel=2)
        return njit(parallel=True, nogil=True, cache=False, **options)(fn)


def _parallel_jit_f32(fn):
    """The float32 smooth kernels: as _parallel_jit, with a*b+c contracted into FMAs (LLVM's
    `contract` flag only; no other fast-math), as gcc contracts kernels/vmathf.h: that
    header's arithmetic is exact or accurate with or without contraction (see there), and
    without it every Horner step and correction costs two instructions instead of one.
    Measured (n = 10**6, one thread, us per call, without -> with): silu 1,317 -> 1,097,
    gelu 3,353 -> 2,687, gelu(tanh) 2,745 -> 1,522, softplus 2,700 -> 2,021, elu 961 ->
    799; the float32-native gradients silu 2,203 -> 1,485, gelu 4,597 -> 3,652. The loops
    vectorise either way (zmm throughout, checked with inspect_asm)."""
    return _parallel_jit(fn, fastmath={"contract"})


def _elementwise(fn):
    return njit(inline="always", nogil=True)(fn)


# ---- per-element arithmetic, identical to the Cython kernels' (kernels/*.pxi) ----

@_elementwise
def _relu6_one(v, zero, six):
    return zero if v <= 0 else (six if v >= 6 else v)


@_elementwise
def _leaky_one(v, slope):
    return v if v > 0 else v * slope


@_elementwise
def _pack_chunk(flags, cnt, mask, byte0):
    # 0/1 bytes -> bits, byte by byte (the Cython side packs with SIMD instructions)
    nfull = cnt // 8
    for b in range(nfull):
        w = 0
        for j in range(8):
            w |= flags[8 * b + j] << j
        mask[byte0 + b] = w
    if cnt % 8:
        w = 0
        for j in range(8 * nfull, cnt):
            w |= flags[j] << (j % 8)
        mask[byte0 + nfull] = w


# ---- kernels ----

@_parallel_jit
def relu(x, y):
    zero = x.dtype.type(0)
    for i in prange(x.size):
        v = x[i]
        y[i] = zero if v <= 0 else v


@_parallel_jit
def relu_mask(x, y, mask):
    n = x.size
    zero = x.dtype.type(0)
    nchunks = (n + MASK_CHUNK - 1) // MASK_CHUNK
    for c in prange(nchunks):
        start = c * MASK_CHUNK
        stop = min(start + MASK_CHUNK, n)
        flags = np.empty(MASK_CHUNK, np.uint8)
        for i in range(start, stop):
            v = x[i]
            keep = not (v <= 0)
            flags[i - start] = keep
            y[i] = v if keep else zero
        _pack_chunk(flags, stop - start, mask, start // 8)


@_parallel_jit
def relu6(x, y):
    zero, six = x.dtype.type(0), x.dtype.type(6)
    for i in prange(x.size):
        y[i] = _relu6_one(x[i], zero, six)


@_parallel_jit
def relu6_mask(x, y, mask):
    n = x.size
    zero, six = x.dtype.type(0), x.dtype.type(6)
    nchunks = (n + MASK_CHUNK - 1) // MASK_CHUNK
    for c in prange(nchunks):
        start = c * MASK_CHUNK
        stop = min(start + MASK_CHUNK, n)
        flags = np.empty(MASK_CHUNK, np.uint8)
        for i in range(start, stop):
            v = x[i]
            flags[i - start] = (v > 0) and (v < 6)
            y[i] = _relu6_one(v, zero, six)
        _pack_chunk(flags, stop - start, mask, start // 8)


@_parallel_jit
def leaky_relu(x, y, slope):
    s = x.dtype.type(slope)
    for i in prange(x.size):
        y[i] = _leaky_one(x[i], s)


@_parallel_jit
def leaky_relu_mask(x, y, mask, slope):
    n = x.size
    s = x.dtype.type(slope)
    nchunks = (n + MASK_CHUNK - 1) // MASK_CHUNK
    for c in prange(nchunks):
        start = c * MASK_CHUNK
        stop = min(start + MASK_CHUNK, n)
        flags = np.empty(MASK_CHUNK, np.uint8)
        for i in range(start, stop):
            v = x[i]
            flags[i - start] = v > 0
            y[i] = _leaky_one(v, s)
        _pack_chunk(flags, stop - start, mask, start // 8)


@_parallel_jit
def mask_select(g, mask, y):
    zero = g.dtype.type(0)
    for i in prange(g.size):
        y[i] = g[i] if (mask[i >> 3] >> (i & 7)) & 1 else zero


@_parallel_jit
def mask_scale(g, mask, y, slope):
    s = g.dtype.type(slope)
    for i in prange(g.size):
        v = g[i]
        y[i] = v if (mask[i >> 3] >> (i & 7)) & 1 else v * s


@_parallel_jit
def prelu(x, y, slopes, inner, nchan):
    # rows of `inner` elements share a slope: no division per element, and the inner loop
    # vectorises (the per-element index form ran at ~3 ms for 10**6 float32)
    nrows = x.size // max(inner, 1)
    for row in prange(nrows):
        s = slopes[row % nchan]
        base = row * inner
        for i in range(base, base + inner):
            y[i] = _leaky_one(x[i], s)


@_parallel_jit
def prelu_mask(x, y, mask, slopes, inner, nchan):
    n = x.size
    nchunks = (n + MASK_CHUNK - 1) // MASK_CHUNK
    for c in prange(nchunks):
        start = c * MASK_CHUNK
        stop = min(start + MASK_CHUNK, n)
        flags = np.empty(MASK_CHUNK, np.uint8)
        for i in range(start, stop):
            v = x[i]
            flags[i - start] = v > 0
            y[i] = _leaky_one(v, slopes[(i // inner) % nchan])
        _pack_chunk(flags, stop - start, mask, start // 8)


@_parallel_jit
def prelu_grad(g, x, y, slopes, inner, nchan):
    for i in prange(g.size):
        y[i] = g[i] if x[i] > 0 else g[i] * slopes[(i // inner) % nchan]


@_parallel_jit
def prelu_wterm(g, x, y):
    zero = g.dtype.type(0)
    for i in prange(g.size):
        y[i] = zero if x[i] > 0 else g[i] * x[i]


@_parallel_jit
def neg_relu(x, y):
    zero = x.dtype.type(0)
    for i in prange(x.size):
        v = -x[i]
        y[i] = zero if v <= 0 else v


@_parallel_jit
def crelu_grad(g1, g2, x, y):
    zero = x.dtype.type(0)
    for i in prange(x.size):
        v = x[i]
        p = zero if v <= 0 else g1[i]
        q = zero if -v <= 0 else g2[i]
        y[i] = p - q


@_parallel_jit
def shift_relu(x, y, bias):
    b = x.dtype.type(bias)
    zero = x.dtype.type(0)
    for i in prange(x.size):
        v = x[i] - b
        y[i] = zero if v <= 0 else v


@_parallel_jit
def shift_select_acc(g, x, acc, y, bias):
    b = x.dtype.type(bias)
    zero = x.dtype.type(0)
    for i in prange(x.size):
        y[i] = acc[i] + (zero if x[i] - b <= 0 else g[i])


# ---- smooth ops: same formulas as kernels/smooth.pxi, evaluated in float64 with the
# vectorisable functions of _numba_math (the twins of kernels/vmath.h; math.exp & co. would
# be scalar libm calls) ----

_SQRT1_2 = 0.70710678118654752440
_SQRT1_2_LO = -4.833646656726457e-17
_INV_SQRT_2PI = 0.39894228040143267794
_TWO_OVER_SQRTPI = 1.1283791670955126
_SQRT_2_OVER_PI = 0.79788456080286535588
_GELU_TANH_C = 0.044715
_DBL_MAX = 1.7976931348623157e308

# Per-element functions: the same formulas, guards and comments as the C ones in
# kernels/smooth.pxi (rk_*_one there).


@_elementwise
def _softplus_one(v, beta, threshold):
    z = beta * v
    zlo = rk_fma(beta, v, -z)
    zlo = rk_select(abs(z) <= _DBL_MAX, zlo, 0.0)
    sp = rk_select(z > 0, z, 0.0) + rk_log1p(rk_exp(-abs(z)))
    sp = sp + rk_sigmoid(z) * zlo
    return rk_select(z > threshold, v, sp / beta)


@_elementwise
def _silu_one(v):
    e = rk_exp(0.5 * v)
    return rk_select(v < -708.0, (v * e) * e, v * rk_sigmoid(v))


@_elementwise
def _silu_grad_one(g, v):
    s = rk_sigmoid(v)
    t = rk_sigmoid(-v)
    e = rk_exp(0.5 * v)
    tail = ((g * (1.0 + v * t)) * e) * e
    tail = rk_select(v < -1500.0, g * -0.0, tail)
    return rk_select(v < -708.0, tail, g * (s + (v * s) * t))


@_elementwise
def _gelu_exact_precise(v):
    t = -v * _SQRT1_2
    tlo = rk_fma(-v, _SQRT1_2, -t) + (-v) * _SQRT1_2_LO
    h = t * t
    hl = rk_fma(t, t, -h)
    finite = abs(h) <= _DBL_MAX
    tlo = rk_select(finite, tlo, 0.0)
    hl = rk_select(finite, hl, 0.0)
    dens = _TWO_OVER_SQRTPI * rk_exp(-h) * (1.0 - hl)
    return (0.5 * v) * (rk_erfc(t) - dens * tlo)


@_elementwise
def _gelu_grad_one(g, v):
    h = v * v
    lo = rk_fma(v, v, -h)
    lo = rk_select(abs(h) <= _DBL_MAX, lo, 0.0)
    pdf = _INV_SQRT_2PI * rk_exp(-0.5 * h) * (1.0 - 0.5 * lo)
    cdf = 0.5 * rk_erfc(-v * _SQRT1_2)
    return g * (cdf + v * pdf)


_GELU_K_HI = 0.044715
_GELU_K_LO = 2.1960211427085595e-18
_C2_HI = 1.5957691216057308
_C2_LO = -9.96930880911092e-17


@_elementwise
def _gelu_tanh_u2(v):
    # 2u as hi + lo in double-double, as rk_gelu_tanh_u2 in kernels/smooth.pxi
    p2 = v * v
    e2 = rk_fma(v, v, -p2)
    p3 = p2 * v
    e3 = rk_fma(p2, v, -p3) + e2 * v
    pt = _GELU_K_HI * p3
    et = rk_fma(_GELU_K_HI, p3, -pt) + _GELU_K_HI * e3 + _GELU_K_LO * p3
    ps = v + pt
    bb = ps - v
    es = ((v - (ps - bb)) + (pt - bb)) + et
    pu = _C2_HI * ps
    eu = rk_fma(_C2_HI, ps, -pu) + _C2_HI * es + _C2_LO * ps
    return pu, rk_select(abs(pu) <= 1e6, eu, 0.0)


@_elementwise
def _gelu_tanh_precise(v):
    u2, lo = _gelu_tanh_u2(v)
    s = rk_sigmoid(u2)
    t = rk_sigmoid(-u2)
    e = rk_exp(0.5 * u2)
    tail = ((v * e) * (1.0 + lo)) * e
    return rk_select(u2 < -708.0, tail, v * (s + (s * t) * lo))


@_elementwise
def _gelu_tanh_grad_precise(g, v):
    u2, lo = _gelu_tanh_u2(v)
    du2 = _C2_HI * (1.0 + 3.0 * _GELU_TANH_C * (v * v))
    s = rk_sigmoid(u2)
    t = rk_sigmoid(-u2)
    ds = (s * t) * lo
    s = s + ds
    t = t - ds
    main = g * (s + (v * du2) * (s * t))
    e = rk_exp(0.5 * u2)
    tail = (((g * (1.0 + (v * du2) * t)) * e) * (1.0 + lo)) * e
    main = rk_select(u2 < -708.0, tail, main)
    far = rk_select(v > 0, g, 0.0)
    return rk_select(abs(v) >= 1e30, far, main)


@_parallel_jit
def gelu_tanh_precise(x, y):
    for i in prange(x.size):
        y[i] = _gelu_tanh_precise(x[i])


@_parallel_jit
def gelu_tanh_grad_precise(g, x, y):
    for i in prange(g.size):
        y[i] = _gelu_tanh_grad_precise(g[i], x[i])


@_parallel_jit
def elu(x, y, negcoef, poscoef, divisor, neglo):
    for i in prange(x.size):
        v = np.float64(x[i])
        y[i] = rk_select(v <= 0, negcoef * rk_expm1(v / divisor), poscoef * v)


@_parallel_jit
def elu_grad(g, out, y, neghi, poscoef, divisor, neglo):
    for i in prange(g.size):
        o = np.float64(out[i])
        gi = np.float64(g[i])
        y[i] = rk_select(o <= 0, gi * (((o + neghi) + neglo) / divisor), gi * poscoef)


@_parallel_jit
def softplus(x, y, beta, threshold):
    for i in prange(x.size):
        y[i] = _softplus_one(np.float64(x[i]), beta, threshold)


@_parallel_jit
def softplus_grad(g, out, y, beta, threshold):
    for i in prange(g.size):
        gi = np.float64(g[i])
        z = beta * np.float64(out[i])
        y[i] = rk_select(z > threshold, gi, gi * -rk_expm1(-z))


@_parallel_jit
def silu(x, y):
    for i in prange(x.size):
        y[i] = _silu_one(np.float64(x[i]))


@_parallel_jit
def silu_grad(g, x, y):
    for i in prange(g.size):
        y[i] = _silu_grad_one(np.float64(g[i]), np.float64(x[i]))


@_parallel_jit
def gelu_precise(x, y):
    for i in prange(x.size):
        y[i] = _gelu_exact_precise(x[i])


@_parallel_jit
def gelu_grad(g, x, y):
    for i in prange(g.size):
        y[i] = _gelu_grad_one(np.float64(g[i]), np.float64(x[i]))


# ---- float32 forwards on the float32-native functions (_numba_mathf, the twins of
# kernels/vmathf.h), as the Cython kernels do ----

@_parallel_jit_f32
def elu_f32(x, y, negcoef, poscoef, divisor):
    nf, pf, df = np.float32(negcoef), np.float32(poscoef), np.float32(divisor)
    for i in prange(x.size):
        v = x[i]
        y[i] = rk_selectf(v <= 0, nf * rk_expm1f(v / df), pf * v)


@_parallel_jit_f32
def softplus_f32(x, y, beta, threshold):
    bf = np.float32(beta)
    for i in prange(x.size):
        v = x[i]
        z = bf * v
        zlo = rk_fmaf(bf, v, -z)
        zlo = rk_selectf(abs(z) <= np.float32(3.4028234663852886e38), zlo, np.float32(0))
        sp = rk_softplus_corrf(z, zlo)
        y[i] = rk_selectf(z > threshold, v, sp / bf)


@_parallel_jit_f32
def silu_f32(x, y):
    for i in prange(x.size):
        y[i] = rk_siluf(x[i])


@_parallel_jit_f32
def gelu_f32(x, y):
    for i in prange(x.size):
        y[i] = rk_geluf(x[i])


@_parallel_jit_f32
def gelu_tanh_f32(x, y):
    for i in prange(x.size):
        y[i] = rk_gelu_tanhf(x[i])


# ---- float32 backwards (vmathf.h's rk_*_gradf and smooth.pxi's rk_softplus_grad_onef) ----

@_parallel_jit_f32
def softplus_grad_f32(g, out, y, beta, threshold):
    bf = np.float32(beta)
    one = np.float32(1.0)
    for i in prange(g.size):
        o = out[i]
        z = bf * o
        zlo = rk_fmaf(bf, o, -z)
        zlo = rk_selectf(abs(z) <= np.float32(3.4028234663852886e38), zlo, np.float32(0))
        d = -rk_expm1f(-z)
        c = (one - d) * zlo
        dc = d + c
        d = rk_selectf((c == np.float32(0)) | (dc != dc), d, dc)
        gi = g[i]
        # the threshold test on the exact product, in double, as the double form
        y[i] = rk_selectf(np.float64(bf) * np.float64(o) > threshold, gi, gi * d)


@_parallel_jit_f32
def silu_grad_f32(g, x, y):
    for i in prange(g.size):
        y[i] = rk_silu_gradf(g[i], x[i])


@_parallel_jit_f32
def gelu_grad_f32(g, x, y):
    for i in prange(g.size):
        y[i] = rk_gelu_gradf(g[i], x[i])


@_parallel_jit_f32
def gelu_tanh_grad_f32(g, x, y):
    for i in prange(g.size):
        y[i] = rk_gelu_tanh_gradf(g[i], x[i])


def _f32(a):
    return a.dtype == np.float32


def _threads(requested):
    return requested if requested > 0 else numba.config.NUMBA_NUM_THREADS


# kernel name (as in _core.KERNEL_NAMES) -> f(a, b, c, mask_in, y, mask_out, params)
_RUNNERS = {
    "relu": lambda a, b, c, mi, y, mo, p: relu(a, y) if mo is None else relu_mask(a, y, mo),
    "relu6": lambda a, b, c, mi, y, mo, p: relu6(a, y) if mo is None else relu6_mask(a, y, mo),
    "leaky_relu": lambda a, b, c, mi, y, mo, p: (leaky_relu(a, y, p[0]) if mo is None
                                              else leaky_relu_mask(a, y, mo, p[0])),
    "mask_select": lambda a, b, c, mi, y, mo, p: mask_select(a, mi, y),
    "mask_scale": lambda a, b, c, mi, y, mo, p: mask_scale(a, mi, y, p[0]),
    # prelu's params are (slopes, inner, channels): slope of flat index i is
    # slopes[(i // inner) % channels] for a C-ordered array
    "prelu": lambda a, b, c, mi, y, mo, p: prelu(a, y, *p) if mo is None else prelu_mask(a, y, mo, *p),
    "prelu_grad": lambda a, b, c, mi, y, mo, p: prelu_grad(a, b, y, *p),
    "prelu_wterm": lambda a, b, c, mi, y, mo, p: prelu_wterm(a, b, y),
    "neg_relu": lambda a, b, c, mi, y, mo, p: neg_relu(a, y),
    "crelu_grad": lambda a, b, c, mi, y, mo, p: crelu_grad(a, b, c, y),
    "shift_relu": lambda a, b, c, mi, y, mo, p: shift_relu(a, y, p[0]),
    "shift_select_acc": lambda a, b, c, mi, y, mo, p: shift_select_acc(a, b, c, y, p[0]),
    # smooth ops: p holds the kernel coefficients (as the Cython kernels' params array)
    "elu": lambda a, b, c, mi, y, mo, p: elu_f32(a, y, *p[:3]) if _f32(a) else elu(a, y, *p),
    "elu_grad": lambda a, b, c, mi, y, mo, p: elu_grad(a, b, y, *p),
    "softplus": lambda a, b, c, mi, y, mo, p: (
        softplus_f32(a, y, *p) if _f32(a) and float(np.float32(p[0])) == p[0]
        else softplus(a, y, *p)),
    "softplus_grad": lambda a, b, c, mi, y, mo, p: (
        softplus_grad_f32(a, b, y, *p) if _f32(a) and float(np.float32(p[0])) == p[0]
        else softplus_grad(a, b, y, *p)),
    "silu": lambda a, b, c, mi, y, mo, p: silu_f32(a, y) if _f32(a) else silu(a, y),
    "silu_grad": lambda a, b, c, mi, y, mo, p: (silu_grad_f32(a, b, y) if _f32(a)
                                                 else silu_grad(a, b, y)),
    "gelu": lambda a, b, c, mi, y, mo, p: (
        (gelu_tanh_f32(a, y) if p[0] != 0 else gelu_f32(a, y)) if _f32(a) else
        (gelu_tanh_precise(a, y) if p[0] != 0 else gelu_precise(a, y))),
    "gelu_grad": lambda a, b, c, mi, y, mo, p: (
        (gelu_tanh_grad_f32(a, b, y) if p[0] != 0 else gelu_grad_f32(a, b, y)) if _f32(a) else
        (gelu_tanh_grad_precise(a, b, y) if p[0] != 0 else gelu_grad(a, b, y))),
}


def run(kernel, a, b, c, mask_in, y, mask_out, params, nthreads):
    """Run the kernel named ``kernel`` on flat views; ``params`` is the op's tuple."""
    nt = _threads(nthreads)
    # Numba's thread count is a per-calling-thread setting (~1 us to set): set it when it
    # changes. Setting it inside the kernels would make them uncachable.
    if getattr(_local, "nt", None) != nt:
        numba.set_num_threads(nt)
        _local.nt = nt
    _RUNNERS[kernel](a, b, c, mask_in, y, mask_out, params)
    return True


def threading_layer():
    """Numba's threading layer, or None before the first parallel launch."""
    try:
        return numba.threading_layer()
    except ValueError:
        return None
