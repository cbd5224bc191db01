"""Parallel Numba kernels (the ``numba`` backend), imported on first use only.

Every kernel takes flat, contiguous 1-d views (the dispatcher sends only same-order
contiguous arrays here) and implements exactly the arithmetic of the Cython kernel of the
same name. Results are identical whichever backend runs wherever both compilers make the
same FMA contractions: measured against the AVX-512 build (2 * 10**5 normal samples per op
and dtype), every op bit-identical except softplus (~0.7% of elements, within its bound).

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

Vector width: LLVM's tuning for Intel's AVX-512 server cores prefers 256-bit vectors
("prefer-256-bit"), so Numba's loops used ymm registers where the Cython kernels, built
with ``-mprefer-vector-width=512``, use zmm. Importing this module therefore turns that
preference off for Numba's code generator (:func:`_prefer_wide_vectors`), unless the user
chose the CPU or its features (``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES``) or Numba already
compiled something in this process (its code generator is then fixed); ``show_config``
says which. It changes no result (every kernel here is element-wise, or reduces in
float64 pieces whose order does not depend on the vector width), only the width of the
loops, for all Numba code in the process. Measured on a 2-core Xeon (Emerald Rapids), one
thread, n = 10**5 float64, ns per element before -> after (with FMA contraction, see
_parallel_jit_contract): silu 2.14 -> 1.99, silu' 5.67 -> 3.70, gelu 4.59 -> 3.29, gelu'
6.32 -> 4.58, gelu(tanh) 3.34 -> 2.29, gelu(tanh)' 7.50 -> 5.26, elu 3.28 -> 2.94.
"""
import math
import os
import threading
import warnings

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import overload


def _prefer_wide_vectors():
    """Let LLVM vectorise with 512-bit registers on AVX-512 CPUs (see the module docstring).
    Returns what was done, for show_config."""
    if os.environ.get("NUMBA_CPU_NAME") or os.environ.get("NUMBA_CPU_FEATURES"):
        return "left to NUMBA_CPU_NAME / NUMBA_CPU_FEATURES"
    try:
        import llvmlite.binding as ll
        from numba.core.registry import cpu_target
        features = ll.get_host_cpu_features().flatten()
        if "+avx512f" not in features.split(","):
            return "not applicable (no AVX-512)"
        if "_toplevel_target_context" in vars(cpu_target):
            return "256-bit (Numba's code generator was set up before relukit loaded)"
        numba.config.CPU_FEATURES = features + ",-prefer-256-bit"
    except Exception as exc:   # internals that moved in another Numba release: keep the default
        return f"Numba's default ({type(exc).__name__}: {exc})"
    return "512-bit (LLVM's prefer-256-bit tuning turned off)"


VECTOR_WIDTH = _prefer_wide_vectors()

from ._numba_math import (_exp_core, exp_consts, _fdiv, _pow2i, _split_n1, rk_exp, rk_exp_dd,
                          rk_exp_dd_normal, rk_expm1,
                          rk_expm1_neg, rk_fma, rk_log1p_core, rk_prefetch_read,
                          rk_prefetch_write, rk_select)
from ._numba_mathf import (GELU_TANH_FAST_MIN, SILU_FAST_MIN, SILU_GRAD_FAST_MAX, expf_consts,
                           gelu_tanh_fastf, silu_fast, silu_grad_fastf, _horner, rk_expm1f,
                           rk_expm1f_neg, rk_fmaf,
                           rk_gelu_gradf, rk_gelu_tanh_gradf, rk_gelu_tanhf, rk_geluf,
                           rk_one_minus_expf, rk_selectf, rk_silu_gradf, rk_siluf,
                           rk_softplus_corrf, rk_softplusf)

# Elements per parallel work item of the mask kernels: a multiple of 8 (whole mask bytes
# per item) large enough that the per-item bookkeeping is negligible.
MASK_CHUNK = 4096

_NO_MASK = np.zeros(1, np.uint8)  # prelu_short's mask argument when there is none
_local = threading.local()  # the Numba thread count last set from each calling thread


def _parallel_jit(fn, parallel=True, **options):
    try:
        return njit(parallel=parallel, nogil=True, cache=True, **options)(fn)
    except RuntimeError as exc:       # "cannot cache function ...: no locator available"
        warnings.warn(f"relukit: Numba cannot cache {fn.__name__} ({exc}); kernels will be "
                      "compiled in every process", RuntimeWarning, stacklevel=2)
        return njit(parallel=parallel, nogil=True, cache=False, **options)(fn)


def _serial_jit(fn):
    return _parallel_jit(fn, parallel=False)


def _parallel_jit_contract(fn):
    """The smooth kernels: as _parallel_jit, with a*b+c contracted into FMAs (LLVM's
    `contract` flag only; no other fast-math), as gcc contracts kernels/*.h and *.pxi:
    that arithmetic is exact or accurate with or without contraction (every error-free
    product is an explicit rk_fma; see there), and without it every Horner step and
    correction costs two instructions instead of one. Measured (n = 10**6, one thread, us
    per call, without -> with): float32 silu 1,317 -> 1,097, gelu 3,353 -> 2,687,
    gelu(tanh) 2,745 -> 1,522, softplus 2,700 -> 2,021, elu 961 -> 799; the float32-native
    gradients silu 2,203 -> 1,485, gelu 4,597 -> 3,652. Float64 (n = 10**5, one thread, ns
    per element): silu 3.76 -> 2.14, silu' 7.79 -> 5.67, gelu 9.22 -> 4.59, gelu' 9.96 ->
    6.32, gelu(tanh) 4.53 -> 3.34, softplus 8.29 -> 5.45, elu 3.98 -> 3.28. The loops
    vectorise either way (checked with inspect_asm)."""
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


# Composite ops on C-ordered flat views. prelu and crelu see x as (outer, channels, inner)
# or (outer, inner) rows; each parallel work item is a piece of at most ROW_PIECE elements of
# one row, processed through row slices: indexing the flat arrays with computed bounds
# (x[i] for i in range(base, base + inner)) did not vectorise (prelu, 10**6 float32, one
# thread: 1.76 ms against 0.13 ms with slices).
ROW_PIECE = 16384

# prelu's weight-gradient order (kernels/piecewise.pxi, prelu_grad_segment): segments of
# PRELU_SEG elements of a row, PRELU_LANES float64 lanes each, lanes halved pairwise, then
# a channel's segments summed in order (outer index, segment) from +0.0.
PRELU_LANES = 16
PRELU_SEG = 4096


@_elementwise
def _pieces(n_rows, inner):
    # (pieces per row, pieces in all) for rows of `inner` elements cut into ROW_PIECE pieces
    per_row = max((inner + ROW_PIECE - 1) // ROW_PIECE, 1)
    return per_row, n_rows * per_row


@_parallel_jit
def prelu(x, y, slopes, outer, nchan, inner):
    per_row, total = _pieces(outer * nchan, inner)
    for p in prange(total):
        row = p // per_row
        lo = row * inner + (p % per_row) * ROW_PIECE
        hi = min(lo + ROW_PIECE, (row + 1) * inner)
        s = slopes[row % nchan]
        xs = x[lo:hi]
        ys = y[lo:hi]
        for i in range(hi - lo):
            ys[i] = _leaky_one(xs[i], s)


@_parallel_jit
def prelu_inplace(y, slopes, outer, nchan, inner):
    # prelu(x, out=x): with x and y the same memory LLVM's runtime overlap check sends
    # prelu() to its scalar loop (10**6 float32, one thread: 0.48 ms against 0.13 ms)
    per_row, total = _pieces(outer * nchan, inner)
    for p in prange(total):
        row = p // per_row
        lo = row * inner + (p % per_row) * ROW_PIECE
        hi = min(lo + ROW_PIECE, (row + 1) * inner)
        s = slopes[row % nchan]
        ys = y[lo:hi]
        for i in range(hi - lo):
            ys[i] = _leaky_one(ys[i], s)


@_parallel_jit
def prelu_mask(x, y, mask, slopes, outer, nchan, inner):
    n = x.size
    nchunks = (n + MASK_CHUNK - 1) // MASK_CHUNK
    for c in prange(nchunks):
        start = c * MASK_CHUNK
        stop = min(start + MASK_CHUNK, n)
        flags = np.empty(MASK_CHUNK, np.uint8)
        i = start
        row = start // inner
        while i < stop:
            hi = min((row + 1) * inner, stop)
            s = slopes[row % nchan]
            xs = x[i:hi]
            ys = y[i:hi]
            fs = flags[i - start:hi - start]
            for k in range(hi - i):
                v = xs[k]
                fs[k] = v > 0
                ys[k] = _leaky_one(v, s)
            i = hi
            row += 1
        _pack_chunk(flags, stop - start, mask, start // 8)


# Short rows (see prelu_rows_kernel in kernels/piecewise.pxi): the per-row loops above run
# a few elements at a time and do not vectorise (one thread, 2 * 10**5 elements, rows of
# one element: 9.3 ns per element, with a mask 6.7; rows of 5: 2.2-2.5). Here each
# PRELU_SHORT_CHUNK of the flat array gets its slopes first, one per element, then one flat loop
# (chunks are whole mask bytes): rows of one element 0.46-1.3 ns, of 5 1.3-2.1. From rows of
# 8 the per-row loops are as fast or faster (8: 1.27 against 1.51; 31: 0.54 against 0.83).
PRELU_SHORT_ROW = 8
# elements per work item: whole mask bytes, and a slope buffer (8 KiB in float64) small
# enough that the buffers of the running items stay far from proportional to the array
PRELU_SHORT_CHUNK = 1024


@_elementwise
def _chunk_slopes(slopes, sb, start, cnt, nchan, inner):
    # sb[:cnt] = the slopes of elements start .. start + cnt - 1
    if inner == 1:                       # rows of one element: runs of the slopes themselves
        ch = start % nchan
        f = 0
        while f < cnt:
            run = min(nchan - ch, cnt - f)
            sb[f:f + run] = slopes[ch:ch + run]
            f += run
            ch = 0
        return
    row = start // inner
    pos = start - row * inner
    ch = row % nchan
    f = 0
    while f < cnt:
        run = min(inner - pos, cnt - f)
        s = slopes[ch]
        for i in range(run):
            sb[f + i] = s
        f += run
        pos = 0
        ch += 1
        if ch == nchan:
            ch = 0


@_parallel_jit
def prelu_short(x, y, mask, slopes, nchan, inner, in_place, with_mask):
    n = x.size
    nchunks = (n + PRELU_SHORT_CHUNK - 1) // PRELU_SHORT_CHUNK
    for c in prange(nchunks):
        start = c * PRELU_SHORT_CHUNK
        cnt = min(PRELU_SHORT_CHUNK, n - start)
        sb = np.empty(PRELU_SHORT_CHUNK, y.dtype)
        _chunk_slopes(slopes, sb, start, cnt, nchan, inner)
        ys = y[start:start + cnt]
        if with_mask:
            flags = np.empty(PRELU_SHORT_CHUNK, np.uint8)
            xs = x[start:start + cnt]
            for k in range(cnt):
                v = xs[k]
                flags[k] = v > 0
                ys[k] = _leaky_one(v, sb[k])
            _pack_chunk(flags, cnt, mask, start // 8)
        elif in_place:
            # x is y: a separate read of x would send LLVM to its scalar loop (see prelu_inplace)
            for k in range(cnt):
                ys[k] = _leaky_one(ys[k], sb[k])
        else:
            xs = x[start:start + cnt]
            for k in range(cnt):
                ys[k] = _leaky_one(xs[k], sb[k])


@_elementwise
def _wterm(v, gv):
    # an LLVM select: the conditional expression became a branch per element (~50%
    # mispredicted on random signs: prelu_backward 10**6 float32, one thread, 9.8 ms)
    return rk_select(v > 0, 0.0, np.float64(v * gv))


@_elementwise
def _halve8(a0, a1, a2, a3, a4, a5, a6, a7):
    # prelu_grad_segment's halving from h = 4: lane k += lane k + h for h = 4, 2, 1
    a0 += a4
    a1 += a5
    a2 += a6
    a3 += a7
    return (a0 + a2) + (a1 + a3)


@_elementwise
def _lane_sum(tb, lo, m):
    # one row of 2 <= m < PRELU_LANES terms summed as prelu_grad_segment sums a segment, in
    # registers: a zero-padded lane adds nothing, so the halving starts at the smallest
    # power of two >= m (see prelu_lane_sum in kernels/piecewise.pxi). tb holds
    # PRELU_LANES elements of slack past the last row; lanes past m are read and discarded.
    # (Indexed, not sliced: a slice per row cost a reference-count update, ~20 ns.)
    a0 = 0.0 + tb[lo + 0]
    a1 = 0.0 + tb[lo + 1]
    a2 = 0.0 + rk_select(m > 2, tb[lo + 2], 0.0)
    a3 = 0.0 + rk_select(m > 3, tb[lo + 3], 0.0)
    if m <= 2:
        return a0 + a1
    if m <= 4:
        return (a0 + a2) + (a1 + a3)
    a4 = 0.0 + rk_select(m > 4, tb[lo + 4], 0.0)
    a5 = 0.0 + rk_select(m > 5, tb[lo + 5], 0.0)
    a6 = 0.0 + rk_select(m > 6, tb[lo + 6], 0.0)
    a7 = 0.0 + rk_select(m > 7, tb[lo + 7], 0.0)
    if m > 8:
        a0 += 0.0 + tb[lo + 8]
        a1 += 0.0 + rk_select(m > 9, tb[lo + 9], 0.0)
        a2 += 0.0 + rk_select(m > 10, tb[lo + 10], 0.0)
        a3 += 0.0 + rk_select(m > 11, tb[lo + 11], 0.0)
        a4 += 0.0 + rk_select(m > 12, tb[lo + 12], 0.0)
        a5 += 0.0 + rk_select(m > 13, tb[lo + 13], 0.0)
        a6 += 0.0 + rk_select(m > 14, tb[lo + 14], 0.0)
        a7 += 0.0 + rk_select(m > 15, tb[lo + 15], 0.0)
    return _halve8(a0, a1, a2, a3, a4, a5, a6, a7)


@_elementwise
def _prelu_grad_segment(g, x, y, s, tb):
    # grad_x, then the segment's weight-gradient sum in the order of the Cython kernel: the
    # float64 terms go to the buffer tb, read back as rows of PRELU_LANES (zero-padded) into
    # 16 scalar lanes (constant indices into a row slice). Measured (prelu_backward 10**6
    # float32, one thread): lanes in a 16-element array updated per element 12.6 ms (LLVM
    # assumes the array aliases x and g), 16 scalar lanes fed from x and g directly
    # 1.1-1.9 ms, whole-row array adds from the buffer 0.50 ms, this 0.36 ms (Cython, which
    # keeps the lanes in registers in one loop: 0.19 ms).
    m = x.size
    for i in range(m):
        v = x[i]
        gv = g[i]
        y[i] = gv if v > 0 else gv * s
        tb[i] = _wterm(v, gv)
    nrow = (m + PRELU_LANES - 1) // PRELU_LANES
    for i in range(m, nrow * PRELU_LANES):
        tb[i] = 0.0
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    a8 = a9 = a10 = a11 = a12 = a13 = a14 = a15 = 0.0
    for j in range(nrow):
        r = tb[j * PRELU_LANES:(j + 1) * PRELU_LANES]
        a0 += r[0]
        a1 += r[1]
        a2 += r[2]
        a3 += r[3]
        a4 += r[4]
        a5 += r[5]
        a6 += r[6]
        a7 += r[7]
        a8 += r[8]
        a9 += r[9]
        a10 += r[10]
        a11 += r[11]
        a12 += r[12]
        a13 += r[13]
        a14 += r[14]
        a15 += r[15]
    a0 += a8
    a1 += a9
    a2 += a10
    a3 += a11
    a4 += a12
    a5 += a13
    a6 += a14
    a7 += a15
    return _halve8(a0, a1, a2, a3, a4, a5, a6, a7)


@_parallel_jit
def prelu_grad(g, x, y, slopes, outer, nchan, inner):
    # grad_x, and the weight gradient's segment sums in the order (row, segment); their
    # sequential per-channel sum is _channel_totals' (in the same kernel, a loop after the
    # prange made the whole kernel ~40x slower: prelu_backward 10**6 float32, one thread,
    # 9.8 ms against 0.24 ms)
    nrows = outer * nchan
    per_row = max((inner + PRELU_SEG - 1) // PRELU_SEG, 1)
    nseg = nrows * per_row if inner > 0 else 0
    seg_sums = np.empty(nseg, np.float64)
    if inner == 1:       # one-element segments: the term stands for its segment sum (see
        # prelu_grad_rows_kernel)
        for i in prange(nrows):
            v = x[i]
            gv = g[i]
            y[i] = gv if v > 0 else gv * slopes[i % nchan]
            seg_sums[i] = _wterm(v, gv)
    elif 1 < inner < PRELU_LANES:
        # rows of 2-15 elements, one segment each: whole rows per work item, grad_x and the
        # terms in one flat loop with per-element slopes, then each row's lane sum (as
        # prelu_grad_short_rows in kernels/piecewise.pxi; one allocation per row took 6.4 ns
        # per element for rows of 5, float32, one thread)
        rows_per = PRELU_SHORT_CHUNK // inner
        for it in prange((nrows + rows_per - 1) // rows_per):
            r0 = it * rows_per
            nr = min(rows_per, nrows - r0)
            lo = r0 * inner
            cnt = nr * inner
            sb = np.empty(PRELU_SHORT_CHUNK, y.dtype)
            tb = np.empty(PRELU_SHORT_CHUNK + PRELU_LANES, np.float64)
            _chunk_slopes(slopes, sb, lo, cnt, nchan, inner)
            xs = x[lo:lo + cnt]
            gs = g[lo:lo + cnt]
            ys = y[lo:lo + cnt]
            for i in range(cnt):
                v = xs[i]
                gv = gs[i]
                ys[i] = rk_select(v > 0, gv, gv * sb[i])
                tb[i] = _wterm(v, gv)
            for r in range(nr):
                seg_sums[r0 + r] = _lane_sum(tb, r * inner, inner)
    else:
        for sid in prange(nseg):
            tb = np.empty(PRELU_SEG, np.float64)
            row = sid // per_row
            lo = row * inner + (sid % per_row) * PRELU_SEG
            hi = min(lo + PRELU_SEG, (row + 1) * inner)
            seg_sums[sid] = _prelu_grad_segment(g[lo:hi], x[lo:hi], y[lo:hi],
                                                slopes[row % nchan], tb)
    return seg_sums


@_serial_jit
def _channel_totals(seg_sums, per_row, nchan, total):
    for c in range(nchan):
        total[c] = 0.0
    for sid in range(seg_sums.size):
        total[(sid // per_row) % nchan] += seg_sums[sid]


def _prelu_grad_run(g, x, y, slopes, outer, nchan, inner, total):
    seg_sums = prelu_grad(g, x, y, slopes, outer, nchan, inner)
    _channel_totals(seg_sums, max((inner + PRELU_SEG - 1) // PRELU_SEG, 1), nchan, total)


@_parallel_jit
def crelu(x, y, outer, inner):
    # x (outer, inner) -> y (outer, 2, inner): relu(x), then relu(-x)
    zero = x.dtype.type(0)
    per_row, total = _pieces(outer, inner)
    for p in prange(total):
        o = p // per_row
        lo = (p % per_row) * ROW_PIECE
        hi = min(lo + ROW_PIECE, inner)
        xs = x[o * inner + lo:o * inner + hi]
        y1 = y[2 * o * inner + lo:2 * o * inner + hi]
        y2 = y[(2 * o + 1) * inner + lo:(2 * o + 1) * inner + hi]
        for i in range(hi - lo):
            v = xs[i]
            y1[i] = zero if v <= 0 else v
        for i in range(hi - lo):
            v = -xs[i]
            y2[i] = zero if v <= 0 else v


@_parallel_jit
def crelu_grad(g, x, y, outer, inner):
    # g (outer, 2, inner), x and y (outer, inner)
    zero = x.dtype.type(0)
    per_row, total = _pieces(outer, inner)
    for p in prange(total):
        o = p // per_row
        lo = (p % per_row) * ROW_PIECE
        hi = min(lo + ROW_PIECE, inner)
        xs = x[o * inner + lo:o * inner + hi]
        ys = y[o * inner + lo:o * inner + hi]
        g1 = g[2 * o * inner + lo:2 * o * inner + hi]
        g2 = g[(2 * o + 1) * inner + lo:(2 * o + 1) * inner + hi]
        for i in range(hi - lo):
            v = xs[i]
            p1 = zero if v <= 0 else g1[i]
            q = zero if -v <= 0 else g2[i]
            ys[i] = p1 - q


def _brelu_kernels(nb_fixed):
    """brelu's forward and backward for ``nb_fixed`` biases (0: any number, read from b).

    With the bias count a compile-time constant (a closure constant), LLVM unrolls the bias
    loop and vectorises over x with interleaved stores/loads; with a runtime count it does
    not. Measured (10**6 float32, 4 biases, one thread): forward 2.6 ms -> 0.68 ms
    (Cython: 0.6 ms); backward 6.6 ms -> 1.4 ms."""

    @_parallel_jit
    def brelu(x, b, y):
        # y (n, nb): y[i, j] = relu(x[i] - b[j])
        nb = nb_fixed if nb_fixed else b.size
        zero = x.dtype.type(0)
        n = x.size
        for p in prange((n + ROW_PIECE - 1) // ROW_PIECE):
            lo = p * ROW_PIECE
            hi = min(lo + ROW_PIECE, n)
            xs = x[lo:hi]
            ys = y[lo * nb:hi * nb]
            for i in range(hi - lo):
                v = xs[i]
                for j in range(nb):
                    d = v - b[j]
                    ys[i * nb + j] = zero if d <= 0 else d

    @_parallel_jit
    def brelu_grad(g, x, b, y):
        # y[i] = sum over j of (g[i, j] where not x[i] - b[j] <= 0), in order j = 0, 1, ...
        # from +0.0
        nb = nb_fixed if nb_fixed else b.size
        zero = x.dtype.type(0)
        n = x.size
        for p in prange((n + ROW_PIECE - 1) // ROW_PIECE):
            lo = p * ROW_PIECE
            hi = min(lo + ROW_PIECE, n)
            xs = x[lo:hi]
            ys = y[lo:hi]
            gs = g[lo * nb:hi * nb]
            for i in range(hi - lo):
                v = xs[i]
                acc = zero
                for j in range(nb):
                    gv = gs[i * nb + j]          # loaded unconditionally: a select
                    acc = acc + (zero if v - b[j] <= 0 else gv)
                ys[i] = acc

    return brelu, brelu_grad


BRELU_FIXED_MAX = 8
_BRELU = [_brelu_kernels(k) for k in range(BRELU_FIXED_MAX + 1)]   # [0]: any count


def brelu(x, b, y):
    _BRELU[b.size if b.size <= BRELU_FIXED_MAX else 0][0](x, b, y)


def brelu_grad(g, x, b, y):
    _BRELU[b.size if b.size <= BRELU_FIXED_MAX else 0][1](g, x, b, y)


# ---- smooth ops: same formulas as kernels/smooth.pxi, evaluated in float64 with the
# vectorisable functions of _numba_math (the twins of kernels/vmath.h; math.exp & co. would
# be scalar libm calls) ----

_INV_SQRT_2PI = 0.39894228040143267794
_DBL_MAX = 1.7976931348623157e308
_INV_SQRT_2PI_LO = -2.49232720227773e-17

# Per-element functions: the same formulas, guards and comments as the C ones in
# kernels/smooth.pxi (rk_*_one there).


@_elementwise
def _softplus_one(v, beta, threshold, ec):
    z = beta * v
    zlo = rk_fma(beta, v, -z)
    zlo = rk_select(abs(z) <= _DBL_MAX, zlo, 0.0)
    e = rk_exp(-abs(z), ec)
    sg = _fdiv(rk_select(z > 0, 1.0, e), 1.0 + e)     # one exponential (see rk_softplus_one)
    sp = (rk_select(z > 0, z, 0.0) + rk_log1p_core(e)) + sg * zlo
    return rk_select(z > threshold, v, _fdiv(sp, beta))


@_elementwise
def _softplus_unit(v, threshold, ec):
    # beta = 1: no correction, no division (see softplus_kernel in kernels/smooth.pxi)
    sp = rk_select(v > 0, v, 0.0) + rk_log1p_core(rk_exp(-abs(v), ec))
    return rk_select(v > threshold, v, sp)


@_elementwise
def _x_sigmoid(v, a, alo, ec):
    # v / (1 + e^-(a + alo)) as (v / D) 2^-k, e^-(a + alo) = 2^n (1 + rr) never rounded
    # (see rk__x_sigmoid in kernels/smooth.pxi)
    na = rk_select(a > 708.0, -708.0, rk_select(a < -760.0, 760.0, -a))
    lo = rk_select(na == -a, 0.0 - alo, 0.0)
    n, rh, corr = _exp_core(na, lo, ec)
    rr = rh + corr
    k = rk_select(n > 0.0, n, 0.0)
    p2 = _pow2i(n - k)
    D = (_pow2i(-rk_select(k > 120.0, 120.0, k)) + p2) + rr * p2
    k1 = rk_select(k > 1000.0, 1000.0, k)
    vq = rk_select(a < -760.0, v * 0.0, v)
    return (_fdiv(vq, D) * _pow2i(-k1)) * _pow2i(k1 - k)


@_elementwise
def _silu_one(v, ec):
    return _x_sigmoid(v, v, 0.0, ec)


@_elementwise
def _x_sigmoid_fast(v, a, alo, ec):
    # _x_sigmoid for a >= -700 and normal results: (1 + t) + rr t with t = 2^n, the same
    # bits (rk__x_sigmoid_fast in kernels/smooth.pxi)
    na = rk_select(a > 708.0, -708.0, -a)
    lo = rk_select(na == -a, 0.0 - alo, 0.0)
    n, rh, corr = _exp_core(na, lo, ec)
    t = _pow2i(n)
    return _fdiv(v, (1.0 + t) + (rh + corr) * t)


@_elementwise
def _silu_fast(v, ec):
    # silu for v >= -700 (rk__silu_fast)
    return _x_sigmoid_fast(v, v, 0.0, ec)


_GELU_S = (2.1500886917598997e-09, -4.116937563407896e-08, 6.659549371017491e-07,
           -9.444654141793272e-06, 0.00011543468743320746, -0.001187328215471571,
           0.0099735570100356, -0.06649038006690544, 0.3989422804014327)
_GELU_GP = (1.0271483134728662e-06, 2.7701186426809633e-05, 0.0003761847136534995,
            0.0033005994349274144, 0.020412539242647822, 0.091906126171255, 0.301419425810712,
            0.6980537452663613, 1.0482004616386018, 0.7978845607988319)
_GELU_GQ = (1.0271483134767213e-06, 2.770118642593452e-05, 0.00037823901037076885,
            0.003356001802131912, 0.021158746020980074, 0.09834111044576042, 0.340030712289403,
            0.8632226154443514, 1.5439859279043868, 1.7691540337635667, 1.0)


@_elementwise
def _dd_mul(ah, al, bh, bl):
    # (ah + al) (bh + bl) as a pair: the product, its FMA error and the cross terms
    p = ah * bh
    return p, rk_fma(ah, bh, -p) + (ah * bl + al * bh)


@_elementwise
def _gelu_g(a):
    # phi(a) / Phi(-a) - a on [0.5, 39] (rk__gelu_g in kernels/smooth.pxi)
    return _fdiv(_horner(a, _GELU_GP), _horner(a, _GELU_GQ))


@_elementwise
def _gelu_parts(ac, ec):
    # for a = ac in [0.5, 39]: e^(-a^2/2) = (1 + rh + corr) s1 s2 and 1 / (a + g(a)) =
    # r (1 + e), shared by gelu and gelu' (rk__gelu_parts in kernels/smooth.pxi)
    hc = ac * ac
    hcl = rk_fma(ac, ac, -hc)
    n, rh, corr = _exp_core(-0.5 * hc, -0.5 * hcl, ec)
    n1 = _split_n1(n)
    g = _gelu_g(ac)
    dh = ac + g
    dl = g - (dh - ac)
    r = _fdiv(1.0, dh)
    e = rk_fma(-dh, r, 1.0) - dl * r
    return hc, hcl, g, rh, corr, _pow2i(n1), _pow2i(n - n1), r, e


@_elementwise
def _gelu_scaled(y0, y0l, rh, corr, s1, s2):
    # (y0 + y0l) (1 + rh + corr) s1 s2 with one rounding before the scaling, s2 last
    p = rh + corr
    return ((y0 + rk_fma(y0, rh, rk_fma(y0, corr, y0l * (1.0 + p)))) * s1) * s2


@_elementwise
def _gelu_exact_precise(v, ec):
    # 0.5 x + x^2 S(x^2) below |x| = 0.5, phi(a) / (a + g(a)) from there (see
    # rk_gelu_exact_precise in kernels/smooth.pxi)
    a = abs(v)
    h = v * v
    hl = rk_fma(v, v, -h)
    s = _horner(h, _GELU_S)
    small = rk_fma(h, s, 0.5 * v) + hl * s
    small = rk_select(small == 0.0, v * 0.0, small)
    ac = rk_select(a > 39.0, 39.0, rk_select(a < 0.5, 0.5, a))
    _, _, _, rh, corr, s1, s2, r, e = _gelu_parts(ac, ec)
    m = v * _INV_SQRT_2PI
    ml = rk_fma(v, _INV_SQRT_2PI, -m) + v * _INV_SQRT_2PI_LO
    y0 = m * r
    y0l = rk_fma(m, r, -y0) + (ml * r + y0 * e)
    neg = _gelu_scaled(y0, y0l, rh, corr, s1, s2)
    T = (((_INV_SQRT_2PI * (1.0 + (rh + corr))) * r) * s1) * s2
    big = rk_select(v < 0.0, neg, rk_fma(-v, T, v))
    big = rk_select(a > 39.0, rk_select(v > 0.0, v, v * 0.0), big)
    return rk_select(a < 0.5, small, big)


_GELU_X0_HI = -0.7517915246935645
_GELU_X0_LO = 1.4956759177009883e-17
_GELU_Q0_HI = 0.4314939923140469
_GELU_Q0_LO = 2.7308688141129613e-17


_GELU_U = (3.846195605077609e-08, -6.584853049346171e-07, 9.323283900346842e-06,
           -0.00011333583295789633, 0.00115434687252034, -0.009498625723666847,
           0.0598413420602106, -0.26596152026762176, 0.7978845608028654)


@_elementwise
def _gelu_grad_precise(g, v, ec):
    # float64 gelu': polynomial around the root, 0.5 + x U(x^2) below |x| = 0.5, the
    # forward's phi / (a + g(a)) beyond (see rk_gelu_grad_precise in kernels/smooth.pxi)
    x = rk_select(v > 39.0, 39.0, rk_select(v < -39.0, -39.0, v))
    a = abs(x)
    small = g * rk_fma(x, _horner(x * x, _GELU_U), 0.5)
    d = (x - _GELU_X0_HI) - _GELU_X0_LO
    q = -2.1777305476935804e-09
    q = q * d - 3.3427170839783967e-08
    q = q * d - 6.646613619694583e-10
    q = q * d + 5.693564980667324e-07
    q = q * d + 4.3241311031596224e-07
    q = q * d - 7.748236551635428e-06
    q = q * d - 1.1214276629909324e-05
    q = q * d + 8.615944673128137e-05
    q = q * d + 0.00018633973218674946
    q = q * d - 0.0007448268360396969
    q = q * d - 0.0022395380669965994
    q = q * d + 0.00453922837900497
    q = q * d + 0.01942167983814538
    q = q * d - 0.014771522148241676
    q = q * d - 0.11400823329722092
    q = q * d - 0.018199676398671108
    q = q * d + 0.388284982990552
    q = _GELU_Q0_HI + (_GELU_Q0_LO + q * d)
    root = g * (d * q)
    ac = rk_select(a < 0.5, 0.5, a)
    hc, hcl, gf, rh, corr, s1, s2, r, e = _gelu_parts(ac, ec)
    phi = ((_INV_SQRT_2PI * (1.0 + (rh + corr))) * s1) * s2
    pos = rk_fma(g, phi * (ac - (r + r * e)), g)
    t1 = 1.0 - hc
    nb = t1 - 1.0
    t1l = (1.0 - (t1 - nb)) + (-hc - nb)
    agh = ac * gf
    agl = rk_fma(ac, gf, -agh)
    nh = t1 - agh
    nbb = nh - t1
    nl = ((t1 - (nh - nbb)) + (-agh - nbb)) + ((t1l - hcl) - agl)
    m = g * _INV_SQRT_2PI
    ml = rk_fma(g, _INV_SQRT_2PI, -m) + g * _INV_SQRT_2PI_LO
    z, zl = _dd_mul(nh, nl, m, ml)
    y0 = z * r
    y0l = rk_fma(z, r, -y0) + (zl * r + y0 * e)
    neg = _gelu_scaled(y0, y0l, rh, corr, s1, s2)
    big = rk_select(x < 0.0, neg, pos)
    res = rk_select((x >= -1.0) & (x <= -0.4), root, rk_select(a < 0.5, small, big))
    return rk_select(abs(v) == math.inf, math.nan, res)


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
def _gelu_tanh_precise(v, ec):
    u2, lo = _gelu_tanh_u2(v)
    return _x_sigmoid(v, u2, lo, ec)


@_elementwise
def _gelu_tanh_fast(v, ec):
    # for v >= -20 (rk__gelu_tanh_fast)
    u2, lo = _gelu_tanh_u2(v)
    return _x_sigmoid_fast(v, u2, lo, ec)


@_elementwise
def _xsig_grad_tail(g, neg, eh, el, E, El, mh, ml):
    # rk__xsig_grad_tail in kernels/smooth.pxi: the quotient from E = E_h + E_l, eh + el
    Dh = 1.0 + E
    Dl = ((1.0 - Dh) + E) + El
    den = rk_fma(Dh, Dh, 2.0 * Dh * Dl)
    oh = 1.0 + mh
    ob = oh - 1.0
    ol = ((1.0 - (oh - ob)) + (mh - ob)) + ml
    kn = oh + E
    kb = kn - oh
    knl = ((oh - (kn - kb)) + (E - kb)) + (ol + El)
    fneg = rk_fma(kn, eh, knl * eh + kn * el)
    fpos = rk_fma(E, oh, 1.0 + (E * ol + El * oh))
    return _fdiv(g * rk_select(neg, fneg, fpos), den)


@_elementwise
def _xsig_grad(g, v, vlo, mh, ml, ec):
    # g * d/dx [x sigmoid(v)] from E = exp(-|v + vlo|) and m = x v' (double-double), as one
    # quotient; see rk__xsig_grad in kernels/smooth.pxi
    neg = v < 0.0
    av = abs(v)
    clamp = av > 780.0
    a = rk_select(clamp, -780.0, -av)
    alo = rk_select(clamp, 0.0, rk_select(neg, vlo, -vlo))
    eh, el, s2 = rk_exp_dd(a, alo, ec)
    q = _xsig_grad_tail(g, neg, eh, el, eh * s2, el * s2, mh, ml)
    return q * rk_select(neg, s2, 1.0)


@_elementwise
def _xsig_grad_fast(g, v, vlo, mh, ml, ec):
    # _xsig_grad for |v| <= 600: no clamp, no final scaling, the same bits
    # (rk__xsig_grad_fast)
    neg = v < 0.0
    eh, el = rk_exp_dd_normal(-abs(v), rk_select(neg, vlo, -vlo), ec)
    return _xsig_grad_tail(g, neg, eh, el, eh, el, mh, ml)


@_elementwise
def _silu_grad_precise(g, v, ec):
    x = rk_select(v > 780.0, 780.0, rk_select(v < -780.0, -780.0, v))
    r = rk_select(v == math.inf, math.nan, _xsig_grad(g, x, 0.0, x, 0.0, ec))
    return rk_select(v != v, v, r)           # NaN x as it is (rk_silu_grad_precise)


@_elementwise
def _silu_grad_fast(g, v, ec):
    # for |v| <= 600 (rk__silu_grad_fast)
    return _xsig_grad_fast(g, v, 0.0, v, 0.0, ec)


def _per_dtype(f32, f64):
    """A function of (v, ec) that Numba compiles, inlined, as f32 for a float32 v and as
    f64 otherwise (one kernel body serves both dtypes; ec comes from _exp_consts_for)."""
    def stub(v, ec):
        raise NotImplementedError("only callable from Numba-compiled code")

    @overload(stub, inline="always")
    def _impl(v, ec):
        return f32 if v == types.float32 else f64
    return stub


_GELU_TANH_FAST_MIN = -20.0
_SILU_GRAD_FAST_MAX = 600.0
_GELU_TANH_GRAD_FAST_MAX = 19.0
_GELU_K3_HI = 0.134145
_GELU_K3_LO = 1.3526957332032908e-17


@_elementwise
def _gelu_tanh_m(x):
    # x (2u)' as mh + ml (rk__gelu_tanh_m)
    p2 = x * x
    e2 = rk_fma(x, x, -p2)
    q = _GELU_K3_HI * p2
    qe = rk_fma(_GELU_K3_HI, p2, -q) + (_GELU_K3_HI * e2 + _GELU_K3_LO * p2)
    ah = 1.0 + q
    ab = ah - 1.0
    al = ((1.0 - (ah - ab)) + (q - ab)) + qe
    xa = x * ah
    xal = rk_fma(x, ah, -xa) + x * al
    mh = _C2_HI * xa
    return mh, rk_fma(_C2_HI, xa, -mh) + (_C2_HI * xal + _C2_LO * xa)


@_elementwise
def _gelu_tanh_grad_precise(g, v, ec):
    x = rk_select(v > 25.0, 25.0, rk_select(v < -25.0, -25.0, v))
    u2, lo = _gelu_tanh_u2(x)
    mh, ml = _gelu_tanh_m(x)
    r = rk_select(v == -math.inf, 0.0, _xsig_grad(g, u2, lo, mh, ml, ec))
    return rk_select(v != v, v, r)


@_elementwise
def _gelu_tanh_grad_fast(g, v, ec):
    # for |v| <= 19 (rk__gelu_tanh_grad_fast)
    u2, lo = _gelu_tanh_u2(v)
    mh, ml = _gelu_tanh_m(v)
    return _xsig_grad_fast(g, u2, lo, mh, ml, ec)


# Rows: some smooth kernels walk the array in pieces of SMOOTH_BLOCK elements, as row
# slices with loops from 0 (with computed bounds LLVM did not vectorise them; see sigmoid_fwd
# below), and where the output is one of the inputs (out=x, or a backward's out=g) an
# _inplace twin reads and writes that input's one view (the runner picks it, _same; a
# kernel that wrote through an input would not compile for read-only inputs). Measured on
# the 2-core Xeon, Numba, 2 threads, n = 10**7, standard normal, ns per element, old ->
# rows, two runs each: float32 silu' with out=g 1.51-1.84 -> 1.18-1.21, gelu(tanh)' with
# out=g 1.82-1.86 -> 1.15-1.16 (out of place 1.18 -> 0.84-0.87), float64 gelu(tanh)' with
# out=g 4.04-4.19 -> 3.41-4.04; at 10**6 no change. The element loops with two views of one
# memory ran about 1.5x slower at 10**7 only, and rows of two such views gave another NaN
# sign than the out-of-place loop (another code path), hence one view. Not kept where rows
# measured no better: gelu' (float32 with out=g 0.95 -> 1.65; with the prefetch below,
# mixed), float64 silu', relu6 (memory-bound either way); the elu family's and softplus's
# forwards in place gained nothing from rows alone, but do with the prefetch of
# _fetched_row (below), which they now use. One pair of
# shells serves a family, a flag choosing the loop of each row (tanh_form): an
# element function passed as an argument is not cached (Numba keys it by the function
# object), and one chosen by an inlined overload did not vectorise (a literal mode) or set
# off Numba's IR warnings at compile time (a dtype-keyed gradient pair).
SMOOTH_BLOCK = 4096


@_elementwise
def _nrows(n):
    return (n + SMOOTH_BLOCK - 1) // SMOOTH_BLOCK


@_elementwise
def _row(b, n):
    lo = b * SMOOTH_BLOCK
    return lo, min(lo + SMOOTH_BLOCK, n)


# In place, the compute-bound forwards (the elu family, float32 softplus and exact gelu)
# walk rows whose cache lines are prefetched for writing before the row is computed: a
# long loop of tens of flops per element that reads and writes the same memory ran up to
# twice as slow as out of place, in C (the Cython kernels) as in Numba, and with one view
# of the row as with the plain loop. The prefetch (one hint per 64-byte line, before the
# row's loop) brings it back to the out-of-place time. Measured on the 2-core Xeon,
# standard normal times 3, input restored before each call, ns per element, in place
# before -> rows with the prefetch (out of place for comparison): float64 elu, one
# thread, 10^7 3.00-3.16 -> 1.74-1.76 (1.62-1.71), 2 threads 10^6 1.14-1.23 -> 0.77
# (0.63-0.78), 10^7 1.43-1.53 -> 0.90 (0.85-0.93); float32 softplus one thread 10^7
# 1.55-1.63 -> 1.00 (1.05), 2 threads 10^6 0.70-0.72 -> 0.45-0.47 (0.58-0.60); float32
# exact gelu 2 threads 10^6 1.45 -> 0.72-0.73 (1.15-1.20), 10^7 no change. Rows alone
# (float64 elu, one thread, 10^7: 2.51-2.54) and a pass reading the row first (1.65-1.74,
# as the silu rows' check does) recovered part or all of it; two views of one row (x's and
# y's) ran LLVM's scalar loop (5.6-6.3 ns), hence the single view. Out of place the plain
# loops stay (the prefetch did not help them reliably).
@_elementwise
def _same_memory(x, y):
    # _same inside a kernel (a jitted function called from Python costs more than the test)
    return x.ctypes.data == y.ctypes.data


@_elementwise
def _fetched_row(a, b, write=True):
    """Row b of a (see _nrows), its cache lines prefetched first, for writing (in place)
    or for reading."""
    lo, hi = _row(b, a.size)
    for j in range(lo, hi, 64 // a.itemsize):
        if write:
            rk_prefetch_write(a, j)
        else:
            rk_prefetch_read(a, j)
    return a[lo:hi]


# gelu(tanh)'s full and fast forms for v's dtype (ec: _exp_consts_for the array)
_gelu_tanh_full_any = _per_dtype(lambda v, ec: rk_gelu_tanhf(v, ec),
                                 lambda v, ec: _gelu_tanh_precise(v, ec))
_gelu_tanh_fast_any = _per_dtype(lambda v, ec: gelu_tanh_fastf(v, ec),
                                 lambda v, ec: _gelu_tanh_fast(v, ec))


# The forms without clamps or rescaling (the same bits where they apply) are taken per row
# where the kernel walks rows, as the Cython kernels take them per block: gelu(tanh)
# forward where no x in the row is NaN or below -9.8 (float32) / -20 (float64), float64
# gelu(tanh)' where no |x| is above 19 and none is NaN (the check is a pass over a row
# that is in L1). They used to be chosen per call, by one count over the whole array
# first (an extra pass over memory). Measured on the 2-core Xeon, standard normal times
# 3 (some rows need the full forms) and times 1, ns per element, count -> rows, the two
# versions run alternately: gelu(tanh) float32, one thread, 10^5 1.15 -> 0.95, 10^6 1.21
# -> 1.05, 10^7 1.75 -> 1.23; through relukit.gelu, 2 threads, 10^6 0.76-0.80 -> 0.63-0.64,
# 10^7 0.80-0.85 -> 0.63-0.66; float64 10^6 1.31 -> 1.08-1.14, 10^7 1.87-1.96 -> 1.22-1.60;
# float64 gelu(tanh)' 10^6 2.46-2.48 -> 2.14-2.16, with out=g at 10^7 3.47-3.77 -> 2.32-2.39.
# float64 silu' keeps the count and plain loops (silu_grad_fast / _precise): its rows ran
# 5-15% slower at 10^5 (2 threads 1.37-1.57 -> 1.59-1.72), the same at 10^6 and 10% faster
# at 10^7.
@_parallel_jit_contract
def silu_grad_fast(g, x, y):
    ec = exp_consts()
    for i in prange(g.size):
        y[i] = _silu_grad_fast(g[i], x[i], ec)


@_parallel_jit_contract
def silu_grad_precise(g, x, y):
    ec = exp_consts()
    for i in prange(g.size):
        y[i] = _silu_grad_precise(g[i], x[i], ec)


@_parallel_jit
def count_outside(x, lo, hi):
    """How many elements of x are NaN or outside [lo, hi] (a reduction alone vectorises)."""
    c = 0
    for i in prange(x.size):
        v = x[i]
        c += not ((v >= lo) & (v <= hi))
    return c


@_elementwise
def _gelu_tanh_grad_rows(gs, xs, ys, ec):
    # float64 gelu(tanh)' = (x sigmoid(2u))', the form without clamps in rows within 19
    far = False
    for i in range(xs.size):
        far |= not abs(xs[i]) <= _GELU_TANH_GRAD_FAST_MAX
    if far:
        for i in range(xs.size):
            ys[i] = _gelu_tanh_grad_precise(gs[i], xs[i], ec)
    else:
        for i in range(xs.size):
            ys[i] = _gelu_tanh_grad_fast(gs[i], xs[i], ec)


@_parallel_jit_contract
def gelu_tanh_grad(g, x, y):
    ec = exp_consts()
    n = g.size
    for b in prange(_nrows(n)):
        lo, hi = _row(b, n)
        _gelu_tanh_grad_rows(g[lo:hi], x[lo:hi], y[lo:hi], ec)


@_parallel_jit_contract
def gelu_tanh_grad_inplace(w, other, w_is_grad):
    # the output is g (w_is_grad) or x: one view read and written (see _nrows)
    ec = exp_consts()
    n = w.size
    for b in prange(_nrows(n)):
        lo, hi = _row(b, n)
        ws = w[lo:hi]
        if w_is_grad:
            _gelu_tanh_grad_rows(ws, other[lo:hi], ws, ec)
        else:
            _gelu_tanh_grad_rows(other[lo:hi], ws, ws, ec)


@_elementwise
def _elu_one(v, negcoef, poscoef, divisor, ec):
    v = np.float64(v)
    return rk_select(v <= 0, negcoef * rk_expm1(v / divisor, ec), poscoef * v)


@_parallel_jit_contract
def elu(x, y, negcoef, poscoef, divisor, neglo):
    ec = exp_consts()
    if _same_memory(x, y):                       # in place: rows (see _fetched_row)
        for b in prange(_nrows(y.size)):
            ys = _fetched_row(y, b)
            for i in range(ys.size):
                ys[i] = _elu_one(ys[i], negcoef, poscoef, divisor, ec)
    else:
        for i in prange(x.size):
            y[i] = _elu_one(x[i], negcoef, poscoef, divisor, ec)


@_elementwise
def _elu_neg_one(v, negcoef, poscoef, ec):
    # divisor 1 (elu, selu, celu's default): no division, and expm1 only of x <= 0, as the
    # Cython kernel (kernels/smooth.pxi, elu_kernel)
    v = np.float64(v)
    return rk_select(v <= 0, negcoef * rk_expm1_neg(v, ec), poscoef * v)


@_parallel_jit_contract
def elu_neg(x, y, negcoef, poscoef):
    ec = exp_consts()
    if _same_memory(x, y):
        for b in prange(_nrows(y.size)):
            ys = _fetched_row(y, b)
            for i in range(ys.size):
                ys[i] = _elu_neg_one(ys[i], negcoef, poscoef, ec)
    else:
        for i in prange(x.size):
            y[i] = _elu_neg_one(x[i], negcoef, poscoef, ec)


@_parallel_jit_contract
def elu_grad(g, out, y, neghi, poscoef, divisor, neglo):
    for i in prange(g.size):
        o = np.float64(out[i])
        gi = np.float64(g[i])
        y[i] = rk_select(o <= 0, gi * (((o + neghi) + neglo) / divisor), gi * poscoef)


@_parallel_jit_contract
def elu_grad_f32(g, out, y, hi, lo, poscoef, mul):
    # float32 in float (rk_elu_grad_onef in kernels/smooth.pxi)
    for i in prange(g.size):
        o = out[i]
        y[i] = rk_selectf(o <= 0, g[i] * (((o + hi) + lo) * mul), g[i] * poscoef)


@_parallel_jit_contract
def elu_grad_mul(g, out, y, neghi, poscoef, mul, neglo):
    # elu_grad with the division replaced by a product (see rk_elu_grad_one)
    for i in prange(g.size):
        o = np.float64(out[i])
        gi = np.float64(g[i])
        y[i] = rk_select(o <= 0, gi * (((o + neghi) + neglo) * mul), gi * poscoef)


@_parallel_jit_contract
def softplus(x, y, beta, threshold):
    ec = exp_consts()
    for i in prange(x.size):
        y[i] = _softplus_one(np.float64(x[i]), beta, threshold, ec)


@_parallel_jit_contract
def softplus_unit(x, y, threshold):
    ec = exp_consts()
    for i in prange(x.size):
        y[i] = _softplus_unit(np.float64(x[i]), threshold, ec)


@_elementwise
def _softplus_grad_one(g, out, beta, threshold, ec, nonneg):
    # nonneg (a constant at each call): beta * out >= 0 is known, so expm1's argument is
    # <= 0 and rk_expm1_neg gives its bits (rk_softplus_grad_one in kernels/smooth.pxi)
    gi = np.float64(g)
    z = beta * np.float64(out)
    d = -rk_expm1_neg(-z, ec) if nonneg else -rk_expm1(-z, ec)
    return rk_select(z > threshold, gi, gi * d)


@_elementwise
def _softplus_grad_block(gs, os, ys, beta, threshold, ec):
    # one block of softplus_grad_kernel (kernels/smooth.pxi): where beta > 0 and no y is
    # negative or NaN, expm1 of arguments <= 0 only
    general = not (beta > 0.0)
    for i in range(os.size):
        general |= not (os[i] >= 0.0)
    if general:
        for i in range(os.size):
            ys[i] = _softplus_grad_one(gs[i], os[i], beta, threshold, ec, False)
    else:
        for i in range(os.size):
            ys[i] = _softplus_grad_one(gs[i], os[i], beta, threshold, ec, True)


@_parallel_jit_contract
def softplus_grad(g, out, y, beta, threshold):
    # blocks of SMOOTH_BLOCK (see sigmoid_fwd below)
    ec = exp_consts()
    n = g.size
    for b in prange((n + SMOOTH_BLOCK - 1) // SMOOTH_BLOCK):
        lo = b * SMOOTH_BLOCK
        hi = min(lo + SMOOTH_BLOCK, n)
        _softplus_grad_block(g[lo:hi], out[lo:hi], y[lo:hi], beta, threshold, ec)


@_parallel_jit_contract
def softplus_grad_inplace(w, other, beta, threshold, w_is_grad):
    # y is g (w_is_grad) or the saved output: one view read and written, as in
    # sigmoid_fwd_inplace
    # (two views of the same memory fail LLVM's overlap check, which sends the loop to its
    # scalar path: 10^6 float64 on 2 threads, y is g, 4.61 ms against 1.61 out of place)
    ec = exp_consts()
    n = w.size
    for b in prange((n + SMOOTH_BLOCK - 1) // SMOOTH_BLOCK):
        lo = b * SMOOTH_BLOCK
        hi = min(lo + SMOOTH_BLOCK, n)
        ws = w[lo:hi]
        if w_is_grad:
            _softplus_grad_block(ws, other[lo:hi], ws, beta, threshold, ec)
        else:
            _softplus_grad_block(other[lo:hi], ws, ws, beta, threshold, ec)


@_parallel_jit_contract
def gelu_grad_precise(g, x, y):
    ec = exp_consts()
    for i in prange(g.size):
        y[i] = _gelu_grad_precise(g[i], x[i], ec)


@_parallel_jit_contract
def gelu_precise(x, y):
    ec = exp_consts()
    for i in prange(x.size):
        y[i] = _gelu_exact_precise(x[i], ec)


# ---- float32 forwards on the float32-native functions (_numba_mathf, the twins of
# kernels/vmathf.h), as the Cython kernels do ----

# (in place: rows, see _fetched_row)
@_elementwise
def _elu_onef(v, nf, pf, df, ec):
    return rk_selectf(v <= 0, nf * rk_expm1f(v / df, ec), pf * v)


@_parallel_jit_contract
def elu_f32(x, y, negcoef, poscoef, divisor):
    nf, pf, df = np.float32(negcoef), np.float32(poscoef), np.float32(divisor)
    ec = expf_consts()
    if _same_memory(x, y):
        for b in prange(_nrows(y.size)):
            ys = _fetched_row(y, b)
            for i in range(ys.size):
                ys[i] = _elu_onef(ys[i], nf, pf, df, ec)
    else:
        for i in prange(x.size):
            y[i] = _elu_onef(x[i], nf, pf, df, ec)


@_elementwise
def _elu_neg_onef(v, nf, pf, ec):
    return rk_selectf(v <= 0, nf * rk_expm1f_neg(v, ec), pf * v)


@_parallel_jit_contract
def elu_neg_f32(x, y, negcoef, poscoef):
    nf, pf = np.float32(negcoef), np.float32(poscoef)
    ec = expf_consts()
    if _same_memory(x, y):
        for b in prange(_nrows(y.size)):
            ys = _fetched_row(y, b)
            for i in range(ys.size):
                ys[i] = _elu_neg_onef(ys[i], nf, pf, ec)
    else:
        for i in prange(x.size):
            y[i] = _elu_neg_onef(x[i], nf, pf, ec)


@_elementwise
def _softplus_onef(v, bf, threshold, ec):
    z = bf * v
    zlo = rk_fmaf(bf, v, -z)
    zlo = rk_selectf(abs(z) <= np.float32(3.4028234663852886e38), zlo, np.float32(0))
    sp = rk_softplus_corrf(z, zlo, ec)
    return rk_selectf(z > threshold, v, sp / bf)


@_parallel_jit_contract
def softplus_f32(x, y, beta, threshold):
    bf = np.float32(beta)
    ec = expf_consts()
    if _same_memory(x, y):
        for b in prange(_nrows(y.size)):
            ys = _fetched_row(y, b)
            for i in range(ys.size):
                ys[i] = _softplus_onef(ys[i], bf, threshold, ec)
    else:
        for i in prange(x.size):
            y[i] = _softplus_onef(x[i], bf, threshold, ec)


@_elementwise
def _softplus_unit_onef(v, threshold, ec):
    return rk_selectf(v > threshold, v, rk_softplusf(v, ec))


@_parallel_jit_contract
def softplus_unit_f32(x, y, threshold):
    ec = expf_consts()
    if _same_memory(x, y):
        for b in prange(_nrows(y.size)):
            ys = _fetched_row(y, b)
            for i in range(ys.size):
                ys[i] = _softplus_unit_onef(ys[i], threshold, ec)
    else:
        for i in prange(x.size):
            y[i] = _softplus_unit_onef(x[i], threshold, ec)


# silu: blocks of SMOOTH_BLOCK with no x NaN or below -86 (float32) / -700 (float64), the
# usual case, take the fast form, the others the full one, as silu_kernel in
# kernels/smooth.pxi (the same results); gelu(tanh) the same way (below -9.8 / -20). Row
# slices and loops from 0, as in prelu: with computed bounds the loops did not vectorise
# (10**6 float32, 2 threads: 540 us against 300). x is y gets its own kernel (see
# prelu_inplace). 10**6, 2 threads, relukit.silu before -> after (separate runs): float32
# out of place 310 -> 286 us, in place 413 -> 336 us; float64 (same run) 1,132 -> 819 us.
# The check costs most of the rest: the fast form alone ran in 210 us (float32), and a
# reduction in the prange loop itself (to check after one pass) stopped LLVM from
# vectorising it (1.8 ms). The per-dtype pieces are overloads, so that one kernel serves
# both dtypes. softplus_grad takes the same blocks.
def _silu_low(v):
    """Whether v takes silu's full form: NaN, or below -86 (float32) / -700 (float64)."""


def _exp_consts_for(x):
    """The exponentials' run-time constants for the array x's dtype: expf_consts() for
    float32, exp_consts() for float64."""


@overload(_silu_low, inline="always")
def _silu_low_impl(v):
    if v == types.float32:
        return lambda v: not (v >= SILU_FAST_MIN)
    return lambda v: not (v >= -700.0)


def _gelu_tanh_low(v):
    """Whether v takes gelu(tanh)'s full form: NaN, or below -9.8 (float32) / -20."""


@overload(_gelu_tanh_low, inline="always")
def _gelu_tanh_low_impl(v):
    if v == types.float32:
        return lambda v: not (v >= GELU_TANH_FAST_MIN)
    return lambda v: not (v >= _GELU_TANH_FAST_MIN)


@overload(_exp_consts_for, inline="always")
def _exp_consts_for_impl(x):
    if x.dtype == types.float32:
        return lambda x: expf_consts()
    return lambda x: exp_consts()


# silu's fast and full forms for v's dtype (ec: _exp_consts_for the array)
_silu_fast_any = _per_dtype(lambda v, ec: silu_fast(v, ec), lambda v, ec: _silu_fast(v, ec))
_silu_full_any = _per_dtype(lambda v, ec: rk_siluf(v, ec), lambda v, ec: _silu_one(v, ec))


@_elementwise
def _sigmoid_rows(xs, ys, ec, tanh_form):
    # one block of silu_kernel or, with tanh_form, of gelu_kernel's tanh form
    # (kernels/smooth.pxi): the check, then one of the two forms (rows: see _nrows)
    low = False
    if tanh_form:
        for i in range(xs.size):
            low |= _gelu_tanh_low(xs[i])
        if low:
            for i in range(xs.size):
                ys[i] = _gelu_tanh_full_any(xs[i], ec)
        else:
            for i in range(xs.size):
                ys[i] = _gelu_tanh_fast_any(xs[i], ec)
        return
    for i in range(xs.size):
        low |= _silu_low(xs[i])
    if low:
        for i in range(xs.size):
            ys[i] = _silu_full_any(xs[i], ec)
    else:
        for i in range(xs.size):
            ys[i] = _silu_fast_any(xs[i], ec)


@_parallel_jit_contract
def sigmoid_fwd(x, y, tanh_form):
    # silu or, with tanh_form, gelu(tanh)
    ec = _exp_consts_for(x)
    n = x.size
    for b in prange(_nrows(n)):
        lo, hi = _row(b, n)
        _sigmoid_rows(x[lo:hi], y[lo:hi], ec, tanh_form)


@_parallel_jit_contract
def sigmoid_fwd_inplace(y, tanh_form):
    # y is x: one view read and written (see softplus_grad_inplace)
    ec = _exp_consts_for(y)
    n = y.size
    for b in prange(_nrows(n)):
        lo, hi = _row(b, n)
        ys = y[lo:hi]
        _sigmoid_rows(ys, ys, ec, tanh_form)


@_parallel_jit_contract
def gelu_f32(x, y):
    # rows (see _fetched_row), out of place too: the plain loop did not scale to 2 threads
    # at 10^6 (1.29-1.38 ns per element, one thread 1.29-1.43), x's rows prefetched for
    # reading 0.72-0.74; 10^7 0.83 -> 0.77-0.78
    if _same_memory(x, y):
        for b in prange(_nrows(y.size)):
            ys = _fetched_row(y, b)
            for i in range(ys.size):
                ys[i] = rk_geluf(ys[i])
    else:
        for b in prange(_nrows(x.size)):
            xs = _fetched_row(x, b, False)
            lo, hi = _row(b, x.size)
            ys = y[lo:hi]
            for i in range(xs.size):
                ys[i] = rk_geluf(xs[i])


# ---- float32 backwards (vmathf.h's rk_*_gradf and smooth.pxi's rk_softplus_grad_onef) ----

@_parallel_jit_contract
def softplus_grad_f32(g, out, y, beta, threshold):
    # as kernels/smooth.pxi's rk_softplus_grad_onef for a threshold that is a float: the
    # threshold test on the exact product z + zlo. (Where it is not, the caller runs the
    # double kernel: a branch between the two tests inside this loop kept LLVM from
    # vectorising it when y is g, 0.61 -> 7.8 ns per element.)
    bf = np.float32(beta)
    tf = np.float32(threshold)
    ec = expf_consts()
    for i in prange(g.size):
        o = out[i]
        z = bf * o
        zlo = rk_fmaf(bf, o, -z)
        d = rk_one_minus_expf(z, zlo, ec)
        gi = g[i]
        above = (z > tf) | ((z == tf) & (zlo > np.float32(0)))
        y[i] = rk_selectf(above, gi, gi * d)


@_parallel_jit_contract
def softplus_grad_unit_f32(g, out, y, threshold):
    # softplus_grad_f32 for beta = 1: z = out exactly, the same bits without the product,
    # its error term and the tie test (smooth.pxi rk_softplus_grad_onef with unit)
    tf = np.float32(threshold)
    ec = expf_consts()
    for i in prange(g.size):
        o = out[i]
        gi = g[i]
        y[i] = rk_selectf(o > tf, gi, gi * rk_one_minus_expf(o, np.float32(0), ec))


@_elementwise
def _sigmoid_grad_f32_rows(gs, xs, ys, tanh_form):
    # silu' = (x sigmoid(x))' or, with tanh_form, gelu(tanh)' = (x sigmoid(2u))', in double
    # (vmathf.h rk_silu_gradf, rk_gelu_tanh_gradf). silu' takes its form without clamps
    # in rows with no |x| above 170 and no NaN, as silu_grad_kernel's blocks in smooth.pxi
    # (the same bits): one thread, n = 10**5, 1.45 -> 1.2 ns per element.
    if tanh_form:
        for i in range(xs.size):
            ys[i] = rk_gelu_tanh_gradf(gs[i], xs[i])
        return
    far = False
    for i in range(xs.size):
        far |= not abs(xs[i]) <= SILU_GRAD_FAST_MAX
    if far:
        for i in range(xs.size):
            ys[i] = rk_silu_gradf(gs[i], xs[i])
    else:
        for i in range(xs.size):
            ys[i] = silu_grad_fastf(gs[i], xs[i])


@_parallel_jit_contract
def sigmoid_grad_f32(g, x, y, tanh_form):
    n = g.size
    for b in prange(_nrows(n)):
        lo, hi = _row(b, n)
        _sigmoid_grad_f32_rows(g[lo:hi], x[lo:hi], y[lo:hi], tanh_form)


@_parallel_jit_contract
def sigmoid_grad_f32_inplace(w, other, w_is_grad, tanh_form):
    # the output is g (w_is_grad) or x: one view read and written (see _nrows), the rows
    # prefetched (see _fetched_row): 2 threads, 10^7, out=g, ns per element, gelu(tanh)'
    # 1.19-1.25 -> 0.95, silu' 0.84-0.86 -> 0.80-0.82 (float64 gelu(tanh)': no gain)
    for b in prange(_nrows(w.size)):
        ws = _fetched_row(w, b)
        os_ = _fetched_row(other, b, False)
        if w_is_grad:
            _sigmoid_grad_f32_rows(ws, os_, ws, tanh_form)
        else:
            _sigmoid_grad_f32_rows(os_, ws, ws, tanh_form)


@_parallel_jit_contract
def gelu_grad_f32(g, x, y):
    for i in prange(g.size):
        y[i] = rk_gelu_gradf(g[i], x[i])


def _f32(a):
    return a.dtype == np.float32


def _same(a, b):
    """Whether flat views a and b are the same memory (an output that is an input reaches
    the kernels as that same array; partial overlaps were copied first, in _core)."""
    return a.ctypes.data == b.ctypes.data


def _grad_into(plain, inplace, g, x, y, *flag):
    # a gradient kernel pair of the rows kind (see _nrows): inplace where y is g or x
    if _same(y, g):
        inplace(y, x, True, *flag)
    elif _same(y, x):
        inplace(y, g, False, *flag)
    else:
        plain(g, x, y, *flag)


def _sigmoid_into(x, y, tanh_form):
    # silu or gelu(tanh) (tanh_form), in place where y is x
    if _same(x, y):
        sigmoid_fwd_inplace(y, tanh_form)
    else:
        sigmoid_fwd(x, y, tanh_form)


def _sigmoid_grad_into(g, x, y, tanh_form):
    # silu' or gelu(tanh)' (tanh_form)
    if _f32(g):
        _grad_into(sigmoid_grad_f32, sigmoid_grad_f32_inplace, g, x, y, tanh_form)
    elif tanh_form:
        _grad_into(gelu_tanh_grad, gelu_tanh_grad_inplace, g, x, y)
    elif count_outside(x, -_SILU_GRAD_FAST_MAX, _SILU_GRAD_FAST_MAX) == 0:
        silu_grad_fast(g, x, y)
    else:
        silu_grad_precise(g, x, y)


def _elu_run(x, y, negcoef, poscoef, divisor, neglo):
    if divisor == 1.0:
        (elu_neg_f32 if _f32(x) else elu_neg)(x, y, negcoef, poscoef)
    elif _f32(x):
        elu_f32(x, y, negcoef, poscoef, divisor)
    else:
        elu(x, y, negcoef, poscoef, divisor, neglo)


def _elu_grad_run(g, out, y, neghi, poscoef, divisor, neglo):
    # float32 in float (negcoef as a float pair), float64 without a division where the
    # divisor is 1 (elu, selu), as kernels/smooth.pxi's elu_grad_kernel
    if _f32(g):
        hf = np.float32(neghi)
        elu_grad_f32(g, out, y, hf, np.float32((neghi - float(hf)) + neglo),
                     np.float32(poscoef), np.float32(1.0 / divisor))
    elif divisor == 1.0:
        elu_grad_mul(g, out, y, neghi, poscoef, 1.0, neglo)
    else:
        elu_grad(g, out, y, neghi, poscoef, divisor, neglo)


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
    # prelu's params are (slopes, outer, channels, inner): x in C order as rows of one slope
    "prelu": lambda a, b, c, mi, y, mo, p: (
        prelu_short(a, y, mo if mo is not None else _NO_MASK, p[0], p[2], p[3],
                    _same(a, y), mo is not None)
        if p[3] < PRELU_SHORT_ROW else
        prelu_mask(a, y, mo, *p) if mo is not None else
        prelu_inplace(y, *p) if _same(a, y) else prelu(a, y, *p)),
    # prelu_grad's: (slopes, outer, channels, inner, float64 per-channel sums to fill)
    "prelu_grad": lambda a, b, c, mi, y, mo, p: _prelu_grad_run(a, b, y, *p),
    "crelu": lambda a, b, c, mi, y, mo, p: crelu(a, y, *p),              # p: (outer, inner)
    "crelu_grad": lambda a, b, c, mi, y, mo, p: crelu_grad(a, b, y, *p),
    "brelu": lambda a, b, c, mi, y, mo, p: brelu(a, b, y),               # b: the biases
    "brelu_grad": lambda a, b, c, mi, y, mo, p: brelu_grad(a, b, c, y),  # (g, x, biases)
    # smooth ops: p holds the kernel coefficients (as the Cython kernels' params array)
    "elu": lambda a, b, c, mi, y, mo, p: _elu_run(a, y, *p),
    "elu_grad": lambda a, b, c, mi, y, mo, p: _elu_grad_run(a, b, y, *p),
    "softplus": lambda a, b, c, mi, y, mo, p: (
        (softplus_unit_f32 if _f32(a) else softplus_unit)(a, y, p[1]) if p[0] == 1.0
        else softplus_f32(a, y, *p) if _f32(a) and float(np.float32(p[0])) == p[0]
        else softplus(a, y, *p)),
    "softplus_grad": lambda a, b, c, mi, y, mo, p: (
        (softplus_grad_unit_f32(a, b, y, p[1]) if p[0] == 1.0 else softplus_grad_f32(a, b, y, *p))
        if _f32(a) and float(np.float32(p[0])) == p[0] and float(np.float32(p[1])) == p[1]
        and abs(p[1]) >= 1e-30 else
        softplus_grad_inplace(y, b, p[0], p[1], True) if _same(a, y) else
        softplus_grad_inplace(y, a, p[0], p[1], False) if _same(b, y) else
        softplus_grad(a, b, y, *p)),
    "silu": lambda a, b, c, mi, y, mo, p: _sigmoid_into(a, y, False),
    "silu_grad": lambda a, b, c, mi, y, mo, p: _sigmoid_grad_into(a, b, y, False),
    "gelu": lambda a, b, c, mi, y, mo, p: (
        (gelu_f32(a, y) if _f32(a) else gelu_precise(a, y)) if p[0] == 0 else
        _sigmoid_into(a, y, True)),
    "gelu_grad": lambda a, b, c, mi, y, mo, p: (
        _sigmoid_grad_into(a, b, y, True) if p[0] != 0 else
        gelu_grad_f32(a, b, y) if _f32(a) else gelu_grad_precise(a, b, y)),
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
