"""Parallel Numba kernels (the ``numba`` backend), imported on first use only.

Every kernel takes flat, contiguous 1-d views (the dispatcher sends only same-order
contiguous arrays here) and implements exactly the arithmetic of the Cython kernel of the
same name, so results are identical whichever backend runs.

Threading layer: unless ``NUMBA_THREADING_LAYER`` is set, relukit asks for ``workqueue``.
It is always available and survives ``fork()`` (GNU OpenMP, Numba's default where libgomp
is found, terminates a forked child of a process that used it). Its one weakness, aborting
on concurrent launches from several threads, is avoided in ``_core.run_numba`` by a
non-blocking lock: a thread that finds a launch in progress runs the Cython kernel instead.

Compiled kernels are cached on disk (``cache=True``). Where no cache location is writable
Numba refuses caching at decoration time; the kernels are then compiled in memory.
"""
import os
import warnings

import numba
from numba import njit, prange

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

# Elements per parallel work item of the mask kernels: a multiple of 8 (whole mask bytes
# per item) large enough that the per-item bookkeeping is negligible.
MASK_CHUNK = 4096


def _parallel_jit(fn):
    try:
        return njit(parallel=True, nogil=True, cache=True)(fn)
    except RuntimeError as exc:       # "cannot cache function ...: no locator available"
        warnings.warn(f"relukit: Numba cannot cache {fn.__name__} ({exc}); kernels will be "
                      "compiled in every process", RuntimeWarning, stacklevel=2)
        return njit(parallel=True, nogil=True, cache=False)(fn)


@_parallel_jit
def relu(x, y, nthreads):
    numba.set_num_threads(nthreads)
    zero = x.dtype.type(0)
    for i in prange(x.size):
        v = x[i]
        y[i] = zero if v <= 0 else v


@_parallel_jit
def relu_mask(x, y, mask, nthreads):
    numba.set_num_threads(nthreads)
    n = x.size
    zero = x.dtype.type(0)
    nchunks = (n + MASK_CHUNK - 1) // MASK_CHUNK
    for c in prange(nchunks):
        start = c * MASK_CHUNK
        stop = min(start + MASK_CHUNK, n)
        for b in range(start // 8, (stop + 7) // 8):
            byte = 0
            for j in range(min(8, stop - 8 * b)):
                v = x[8 * b + j]
                keep = not (v <= 0)
                y[8 * b + j] = v if keep else zero
                byte |= numba.uint8(keep) << j
            mask[b] = byte


@_parallel_jit
def mask_select(g, mask, y, nthreads):
    numba.set_num_threads(nthreads)
    n = g.size
    zero = g.dtype.type(0)
    nchunks = (n + MASK_CHUNK - 1) // MASK_CHUNK
    for c in prange(nchunks):
        start = c * MASK_CHUNK
        stop = min(start + MASK_CHUNK, n)
        for b in range(start // 8, (stop + 7) // 8):
            byte = mask[b]
            for j in range(min(8, stop - 8 * b)):
                y[8 * b + j] = g[8 * b + j] if (byte >> j) & 1 else zero


def _threads(requested):
    return requested if requested > 0 else numba.config.NUMBA_NUM_THREADS


def run(kid, a, b, mask_in, y, mask_out, params, nthreads):
    """Run kernel ``kid`` (an index into ``_core.KERNEL_NAMES``) on flat views."""
    nt = _threads(nthreads)
    if kid == 0:
        if mask_out is None:
            relu(a, y, nt)
        else:
            relu_mask(a, y, mask_out, nt)
    elif kid == 1:
        mask_select(a, mask_in, y, nt)
    else:
        raise ValueError(f"no Numba kernel for kernel id {kid}")


def threading_layer():
    """Numba's threading layer, or None before the first parallel launch."""
    try:
        return numba.threading_layer()
    except ValueError:
        return None
