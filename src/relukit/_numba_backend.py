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
from numba import njit, prange

# Elements per parallel work item of the mask kernels: a multiple of 8 (whole mask bytes
# per item) large enough that the per-item bookkeeping is negligible.
MASK_CHUNK = 4096

_local = threading.local()  # the Numba thread count last set from each calling thread


def _parallel_jit(fn):
    try:
        return njit(parallel=True, nogil=True, cache=True)(fn)
    except RuntimeError as exc:       # "cannot cache function ...: no locator available"
        warnings.warn(f"relukit: Numba cannot cache {fn.__name__} ({exc}); kernels will be "
                      "compiled in every process", RuntimeWarning, stacklevel=2)
        return njit(parallel=True, nogil=True, cache=False)(fn)


@_parallel_jit
def relu(x, y):
    zero = x.dtype.type(0)
    for i in prange(x.size):
        v = x[i]
        y[i] = zero if v <= 0 else v


@_parallel_jit
def relu_mask(x, y, mask):
    # Two passes per chunk: the select (vectorised), then the mask packed from the output
    # while the chunk is still in cache. not (y <= 0) equals not (x <= 0): y is x where x > 0
    # or NaN, and +0.0 elsewhere.
    n = x.size
    zero = x.dtype.type(0)
    nchunks = (n + MASK_CHUNK - 1) // MASK_CHUNK
    for c in prange(nchunks):
        start = c * MASK_CHUNK
        stop = min(start + MASK_CHUNK, n)
        for i in range(start, stop):
            v = x[i]
            y[i] = zero if v <= 0 else v
        for b in range(start // 8, stop // 8):
            byte = 0
            for j in range(8):
                byte |= (not (y[8 * b + j] <= 0)) << j
            mask[b] = byte
        if stop == n and n % 8:
            byte = 0
            for i in range(n - n % 8, n):
                byte |= (not (y[i] <= 0)) << (i % 8)
            mask[n // 8] = byte


@_parallel_jit
def mask_select(g, mask, y):
    zero = g.dtype.type(0)
    for i in prange(g.size):
        y[i] = g[i] if (mask[i >> 3] >> (i & 7)) & 1 else zero


def _threads(requested):
    return requested if requested > 0 else numba.config.NUMBA_NUM_THREADS


def run(kid, a, b, mask_in, y, mask_out, params, nthreads):
    """Run kernel ``kid`` (an index into ``_core.KERNEL_NAMES``) on flat views."""
    nt = _threads(nthreads)
    # Numba's thread count is a per-calling-thread setting (~1 us to set): set it when it
    # changes. Setting it inside the kernels would make them uncachable.
    if getattr(_local, "nt", None) != nt:
        numba.set_num_threads(nt)
        _local.nt = nt
    if kid == 0:
        if mask_out is None:
            relu(a, y)
        else:
            relu_mask(a, y, mask_out)
    elif kid == 1:
        mask_select(a, mask_in, y)
    else:
        raise ValueError(f"no Numba kernel for kernel id {kid}")
    return True


def threading_layer():
    """Numba's threading layer, or None before the first parallel launch."""
    try:
        return numba.threading_layer()
    except ValueError:
        return None
