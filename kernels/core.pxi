# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled core of relukit: the public entry points, their argument checks, the
dispatcher and the Cython kernels, all in one extension module (built once per
instruction-set level from this file: kernels/_core_<level>.pyx include it).

Why everything lives here: at n = 1,000 float32 the whole ReLU kernel takes ~60 ns, so a
Python wrapper layer (~100 ns per level) would cost more than the work. The entry points
are Cython ``def`` functions (vectorcall, no memoryview acquisition): they validate,
allocate, choose a backend with plain C comparisons and call the kernel directly. The
NumPy reference (``relukit.reference``) and the Numba kernels (``relukit._numba_backend``)
are Python objects this module calls only on their own paths.
"""

cimport cython
cimport numpy as cnp
from libc.stdint cimport uint8_t
from libc.math cimport NAN, exp
from libc.string cimport memcpy

import contextvars
import os
import threading
import time

import numpy as np

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    object PyArray_NewLikeArray(cnp.ndarray prototype, cnp.NPY_ORDER order,
                                cnp.PyArray_Descr* descr, int subok)
    bint PyArray_EquivTypes(cnp.PyArray_Descr* a, cnp.PyArray_Descr* b)
    bint PyArray_IS_F_CONTIGUOUS(cnp.ndarray arr) nogil

cdef extern from *:
    """
    #if defined(__AVX512F__) && defined(__AVX512BW__)
    #define RK_SIMD_LEVEL "AVX-512 (F, BW)"
    #elif defined(__AVX512F__)
    #define RK_SIMD_LEVEL "AVX-512 (F)"
    #elif defined(__AVX2__)
    #define RK_SIMD_LEVEL "AVX2"
    #elif defined(__SSE2__)
    #define RK_SIMD_LEVEL "SSE2"
    #else
    #define RK_SIMD_LEVEL "portable C"
    #endif
    #ifndef RELUKIT_BUILD_FLAGS
    #define RELUKIT_BUILD_FLAGS "(unknown)"
    #endif
    #ifndef RELUKIT_ISA_LEVEL
    #define RELUKIT_ISA_LEVEL "baseline"
    #endif
    """
    const char* RK_SIMD_LEVEL
    const char* RELUKIT_BUILD_FLAGS
    const char* RELUKIT_ISA_LEVEL

SIMD_LEVEL = RK_SIMD_LEVEL.decode()       # instruction set the kernels were compiled for
BUILD_FLAGS = RELUKIT_BUILD_FLAGS.decode()
ISA_LEVEL = RELUKIT_ISA_LEVEL.decode()      # which build of this source this module is

ctypedef fused real:
    float
    double

cdef enum:
    MAXDIM = 64          # NPY_MAXDIMS in NumPy 2
    BLOCK = 1024         # elements per gather/compute/scatter block of the strided driver;
                         # a multiple of 8 so mask bytes of consecutive blocks never straddle
    GIL_RELEASE_MIN = 8192   # releasing and re-taking the GIL costs ~0.1 us, more than the
                             # whole kernel below this many elements


# --------------------------------------------------------------------------------------
# Kernels. One signature for all: up to two float inputs (a, b), an optional input mask,
# one float output, an optional output mask, and the op's scalar parameters.
# --------------------------------------------------------------------------------------
include "relu.pxi"
include "piecewise.pxi"
include "smooth.pxi"

ctypedef void (*kern32_t)(const float*, const float*, const float*, const uint8_t*, float*, uint8_t*,
                          Py_ssize_t, const double*) noexcept nogil
ctypedef void (*kern64_t)(const double*, const double*, const double*, const uint8_t*, double*, uint8_t*,
                          Py_ssize_t, const double*) noexcept nogil

cdef struct Kernel:
    kern32_t f32
    kern64_t f64
    int op_class           # which dispatch threshold applies (CLASS_*)

cdef enum:
    K_RELU = 0
    K_MASK_SELECT = 1      # backward: g where the bit is set, else 0 (relu, relu6)
    K_RELU6 = 2
    K_LEAKY_RELU = 3
    K_MASK_SCALE = 4       # backward: g where the bit is set, else slope * g (leaky_relu)
    K_PRELU = 5
    K_PRELU_GRAD = 6
    K_NEG_RELU = 7
    K_CRELU_GRAD = 8
    K_SHIFT_RELU = 9
    K_SHIFT_SELECT_ACC = 10
    K_ELU = 11             # elu, selu, celu (coefficients in params)
    K_ELU_GRAD = 12
    K_SOFTPLUS = 13
    K_SOFTPLUS_GRAD = 14
    K_SILU = 15
    K_SILU_GRAD = 16
    K_GELU = 17            # params[0]: 0 exact (erf), 1 tanh approximation
    K_GELU_GRAD = 18
    NKERNELS = 19

cdef enum:
    CLASS_MEMORY = 0       # memory-bound: a few flops per element
    CLASS_MASK = 1         # any kernel that reads or writes a bit mask (own crossover:
                           # the Numba mask kernels are slower per element than Cython's SIMD)
    CLASS_COMPUTE = 2      # transcendental: tens of flops per element
    NCLASSES = 3

cdef Kernel KERNELS[NKERNELS]


cdef void register(int kid, kern32_t f32, kern64_t f64) noexcept:
    KERNELS[kid].f32 = f32
    KERNELS[kid].f64 = f64
    KERNELS[kid].op_class = -1           # unbound until the op table binds it (_bind)


# The compiled kernels. Which op uses which kernel, its dispatch class and whether it may
# stream are the op table's (relukit/ops.py: Op.kernels, op_class, streams), bound at import
# by _bind below; the Numba backend registers the same names (_numba_backend._RUNNERS).
register(K_RELU, relu_kernel[float], relu_kernel[double])
register(K_MASK_SELECT, mask_select_kernel[float], mask_select_kernel[double])
register(K_RELU6, relu6_kernel[float], relu6_kernel[double])
register(K_LEAKY_RELU, leaky_relu_kernel[float], leaky_relu_kernel[double])
register(K_MASK_SCALE, mask_scale_kernel[float], mask_scale_kernel[double])
register(K_PRELU, prelu_kernel[float], prelu_kernel[double])
register(K_PRELU_GRAD, prelu_grad_kernel[float], prelu_grad_kernel[double])
register(K_NEG_RELU, neg_relu_kernel[float], neg_relu_kernel[double])
register(K_CRELU_GRAD, crelu_grad_kernel[float], crelu_grad_kernel[double])
register(K_SHIFT_RELU, shift_relu_kernel[float], shift_relu_kernel[double])
register(K_SHIFT_SELECT_ACC, shift_select_acc_kernel[float], shift_select_acc_kernel[double])
register(K_ELU, elu_kernel[float], elu_kernel[double])
register(K_ELU_GRAD, elu_grad_kernel[float], elu_grad_kernel[double])
register(K_SOFTPLUS, softplus_kernel[float], softplus_kernel[double])
register(K_SOFTPLUS_GRAD, softplus_grad_kernel[float], softplus_grad_kernel[double])
register(K_SILU, silu_kernel[float], silu_kernel[double])
register(K_SILU_GRAD, silu_grad_kernel[float], silu_grad_kernel[double])
register(K_GELU, gelu_kernel[float], gelu_kernel[double])
register(K_GELU_GRAD, gelu_grad_kernel[float], gelu_grad_kernel[double])

# Kernel names, shared with the Numba backend and the op table (index = kernel id). The
# composite ops' entries name the Numba twins of their one-pass row kernels (the Cython
# kernels of those ids serve the strided driver, for the other layouts, where Numba never
# runs).
KERNEL_NAMES = ("relu", "mask_select", "relu6", "leaky_relu", "mask_scale", "prelu",
                "prelu_grad", "crelu", "crelu_grad", "brelu", "brelu_grad", "elu", "elu_grad",
                "softplus", "softplus_grad", "silu", "silu_grad", "gelu", "gelu_grad")
# Public function -> kernel id, filled from the op table by _bind (explain() and the tests).
FUNCTION_KERNELS = {}
CLASS_NAMES = ("memory-bound", "mask", "compute-bound")


# --------------------------------------------------------------------------------------
# Strided driver: any layout, no allocation. Gathers BLOCK elements (in the chosen axis
# order) into stack buffers, runs the contiguous kernel, scatters the result.
# --------------------------------------------------------------------------------------
cdef struct Cursor:
    int nd
    int nptr
    Py_ssize_t idx[MAXDIM]
    Py_ssize_t shape[MAXDIM]
    Py_ssize_t strides[3][MAXDIM]
    char* ptr[3]


cdef inline void cursor_advance(Cursor* c, Py_ssize_t run) noexcept nogil:
    cdef int d = c.nd - 1
    cdef int k
    c.idx[d] += run
    for k in range(c.nptr):
        c.ptr[k] += run * c.strides[k][d]
    while d > 0 and c.idx[d] == c.shape[d]:
        for k in range(c.nptr):
            c.ptr[k] += c.strides[k][d - 1] - c.shape[d] * c.strides[k][d]
        c.idx[d] = 0
        d -= 1
        c.idx[d] += 1


cdef void cursor_init(Cursor* c, int nd, const Py_ssize_t* shape, const int* perm,
                      int nptr, char** ptrs, const Py_ssize_t** strides) noexcept nogil:
    cdef int d, k
    if nd == 0:                       # a 0-d array is one element
        c.nd = 1
        c.shape[0] = 1
        c.idx[0] = 0
        for k in range(nptr):
            c.strides[k][0] = 0
    else:
        c.nd = nd
        for d in range(nd):
            c.shape[d] = shape[perm[d]]
            c.idx[d] = 0
            for k in range(nptr):
                c.strides[k][d] = strides[k][perm[d]]
    c.nptr = nptr
    for k in range(nptr):
        c.ptr[k] = ptrs[k]


cdef void run_strided(const Kernel* kern, Py_ssize_t total, int nd, const Py_ssize_t* shape,
                      const int* perm, int nin, char** inputs, const Py_ssize_t** in_strides,
                      char* out, const Py_ssize_t* out_strides,
                      const uint8_t* mask_in, uint8_t* mask_out, const double* params,
                      real* dtype_tag) noexcept nogil:
    cdef real ba[BLOCK]
    cdef real bb[BLOCK]
    cdef real bc[BLOCK]
    cdef real by[BLOCK]
    cdef real* bufs[3]
    cdef Cursor rd, wr
    cdef Py_ssize_t done = 0, cnt, f, run, i, s
    cdef int k
    cdef char* p
    cdef char* outp[1]
    cdef const Py_ssize_t* outs[1]
    bufs[0] = ba
    bufs[1] = bb
    bufs[2] = bc
    outp[0] = out
    outs[0] = out_strides
    cursor_init(&rd, nd, shape, perm, nin, inputs, in_strides)
    cursor_init(&wr, nd, shape, perm, 1, outp, outs)
    while done < total:
        cnt = min(<Py_ssize_t>BLOCK, total - done)
        f = 0
        while f < cnt:
            run = min(rd.shape[rd.nd - 1] - rd.idx[rd.nd - 1], cnt - f)
            for k in range(nin):
                p = rd.ptr[k]
                s = rd.strides[k][rd.nd - 1]
                for i in range(run):
                    memcpy(&bufs[k][f + i], p + i * s, sizeof(real))
            cursor_advance(&rd, run)
            f += run
        if real is float:
            kern.f32(ba, bb, bc, mask_in + (done >> 3) if mask_in != NULL else NULL, by,
                     mask_out + (done >> 3) if mask_out != NULL else NULL, cnt, params)
        else:
            kern.f64(ba, bb, bc, mask_in + (done >> 3) if mask_in != NULL else NULL, by,
                     mask_out + (done >> 3) if mask_out != NULL else NULL, cnt, params)
        f = 0
        while f < cnt:
            run = min(wr.shape[wr.nd - 1] - wr.idx[wr.nd - 1], cnt - f)
            p = wr.ptr[0]
            s = wr.strides[0][wr.nd - 1]
            for i in range(run):
                memcpy(p + i * s, &by[f + i], sizeof(real))
            cursor_advance(&wr, run)
            f += run
        done += cnt


cdef void memory_order(int nd, const Py_ssize_t* shape, const Py_ssize_t* strides,
                       int* perm) noexcept nogil:
    # Axis order for iterating `strides` memory-order (largest |stride| outermost), so the
    # inner loop of the strided driver walks the smallest stride of the output.
    cdef int i, j, t
    cdef Py_ssize_t si, sj
    for i in range(nd):
        perm[i] = i
    for i in range(1, nd):
        j = i
        while j > 0:
            si = strides[perm[j - 1]]
            sj = strides[perm[j]]
            if si < 0:
                si = -si
            if sj < 0:
                sj = -sj
            if si >= sj:
                break
            t = perm[j - 1]
            perm[j - 1] = perm[j]
            perm[j] = t
            j -= 1


# --------------------------------------------------------------------------------------
# Dispatcher state. Decision order (see decide()):
#   1. dtype: only native float32/float64 are compiled; anything else -> numpy reference
#   2. override: use_backend() context > set_backend() > RELUKIT_BACKEND
#   3. layout: numba takes flat (same-order contiguous, aligned) arrays only; other
#      layouts go to the Cython strided driver
#   4. size: n >= threshold[op class][dtype] -> numba (parallel), else cython
# --------------------------------------------------------------------------------------
cdef enum:
    B_AUTO = -1
    B_NUMPY = 0
    B_CYTHON = 1
    B_NUMBA = 2

BACKEND_NAMES = ("numpy", "cython", "numba")

cdef enum:
    R_AUTO_SMALL = 0
    R_AUTO_LARGE = 1
    R_DTYPE = 2
    R_OVERRIDE = 3
    R_LAYOUT = 4
    R_OVERRIDE_LAYOUT = 5
    R_NUMBA_MISSING = 6
    R_FORKED = 7
    R_BUSY = 8

REASONS = (
    "automatic: n = {n} is below the {cls} threshold {thr} for {dtype}, where one Cython thread beats a parallel launch",
    "automatic: n = {n} is at or above the {cls} threshold {thr} for {dtype}, so the parallel Numba kernel is used",
    "dtype {dtype} (or its byte order) has no compiled kernel; the NumPy reference computes it",
    "override: the {source} asks for this backend",
    "layout: the Numba kernels take same-order contiguous, aligned arrays only (C order when a mask is involved); the Cython strided driver handles this one without copying",
    "override asks for numba, but this layout is not one numba kernels take, so the Cython strided driver computes it",
    "n = {n} is at or above the threshold {thr}, but numba is not installed or failed to import, so Cython computes it",
    "this process is a fork() child of one that used Numba's OpenMP threads, where a parallel launch would be terminated, so Cython computes it",
    "n = {n} is at or above the threshold {thr}, but the machine is busy (1-minute load average above the core count - 0.5), where parallel threads wait for cores; one Cython thread computes it",
)

cdef int _global_override = B_AUTO
cdef int _global_override_source = 0          # 0: set_backend, 1: RELUKIT_BACKEND
cdef int _ctx_depth = 0                       # use_backend blocks open in any thread
_ctx_backend = contextvars.ContextVar("relukit_backend", default=-2)
cdef Py_ssize_t _threshold[NCLASSES][2]
cdef int _numba_state = 0                     # 0 not loaded, 1 loaded, -1 unavailable
cdef bint _numba_installed = True
cdef object _numba_run = None
cdef int _num_threads = 0                     # 0: Numba's default (all cores)
cdef object _par_lock = threading.Lock()
_reference = None                             # relukit.reference, set by the package


cdef bint _parallel_ok = True   # False in a forked child of a process that used GNU OpenMP


def _reset_after_fork():
    # A lock held by another thread at fork() time would stay held in the child forever.
    # A child of a process that launched GNU OpenMP threads is terminated by Numba at its
    # first parallel launch, so such a child computes everything with Cython.
    global _par_lock, _parallel_ok
    _par_lock = threading.Lock()
    if _numba_state == 1:
        from relukit import _numba_backend
        if _numba_backend.threading_layer() == "omp":
            _parallel_ok = False


os.register_at_fork(after_in_child=_reset_after_fork)


cdef inline int current_override(int* from_ctx) noexcept:
    cdef object v
    from_ctx[0] = 0
    if _ctx_depth > 0:
        v = _ctx_backend.get()
        if <int>v != -2:
            from_ctx[0] = 1
            return <int>v
    return _global_override


cdef inline bint compiled_dtype(cnp.ndarray a) noexcept:
    cdef int t = cnp.PyArray_TYPE(a)
    return (t == cnp.NPY_FLOAT or t == cnp.NPY_DOUBLE) and cnp.PyArray_ISNOTSWAPPED(a)


cdef inline bint layout_ok(cnp.ndarray a, bint c_order) noexcept:
    if a is None:
        return True
    if not cnp.PyArray_ISALIGNED(a):
        return False
    return cnp.PyArray_IS_C_CONTIGUOUS(a) if c_order else PyArray_IS_F_CONTIGUOUS(a)


cdef inline bint is_flat(cnp.ndarray a, cnp.ndarray b, cnp.ndarray y, bint c_order_only,
                         cnp.ndarray c=None) noexcept:
    # True when all arrays share one contiguous memory order, so one flat loop covers
    # them element for element.
    if (layout_ok(a, True) and layout_ok(b, True) and layout_ok(c, True)
            and layout_ok(y, True)):
        return True
    if c_order_only:
        return False
    return (layout_ok(a, False) and layout_ok(b, False) and layout_ok(c, False)
            and layout_ok(y, False))


cdef inline int op_class(int kid, bint masks) noexcept:
    # an unbound kernel (only in a core module imported without relukit's op table) counts
    # as memory-bound rather than indexing outside the thresholds
    return CLASS_MASK if masks else (KERNELS[kid].op_class if KERNELS[kid].op_class >= 0
                                     else CLASS_MEMORY)


cdef int decide(int kid, cnp.ndarray a, cnp.ndarray b, cnp.ndarray y, bint masks,
                bint flat, int* reason) noexcept:
    cdef int from_ctx, ov
    cdef Py_ssize_t n, thr
    if not compiled_dtype(a):
        reason[0] = R_DTYPE
        return B_NUMPY
    ov = current_override(&from_ctx)
    if ov != B_AUTO:
        if ov == B_NUMBA and not flat:
            reason[0] = R_OVERRIDE_LAYOUT
            return B_CYTHON
        if ov == B_NUMBA and not _parallel_ok:
            reason[0] = R_FORKED
            return B_CYTHON
        reason[0] = R_OVERRIDE
        return ov
    if not flat:
        reason[0] = R_LAYOUT
        return B_CYTHON
    n = cnp.PyArray_SIZE(a)
    thr = _threshold[op_class(kid, masks)][cnp.PyArray_TYPE(a) == cnp.NPY_DOUBLE]
    if n < thr:
        reason[0] = R_AUTO_SMALL
        return B_CYTHON
    if not _numba_installed or _numba_state < 0:
        reason[0] = R_NUMBA_MISSING
        return B_CYTHON
    if not _parallel_ok:
        reason[0] = R_FORKED
        return B_CYTHON
    if machine_busy():
        reason[0] = R_BUSY
        return B_CYTHON
    reason[0] = R_AUTO_LARGE
    return B_NUMBA


cdef double _busy_checked_at = -1.0
cdef bint _busy = False
cdef int _busy_mode = -1      # -1: measure; 0: never busy; 1: always busy (tests, RELUKIT_BUSY_CHECK=0)


def _streams(str function, Py_ssize_t nbytes):
    """Whether an out-of-place, contiguous Cython call of ``function`` writing ``nbytes``
    uses streaming stores (for explain())."""
    return bool(STREAMABLE[FUNCTION_KERNELS[function]]) and nbytes >= _stream_min


def _set_stream_min(Py_ssize_t nbytes):
    """Stream out-of-place outputs of at least ``nbytes`` (a huge value: never); returns
    the previous setting."""
    global _stream_min
    previous = _stream_min
    _stream_min = max(nbytes, 1)
    return previous


def _set_busy_mode(int mode):
    """-1: judge from the load average (default); 0: never busy; 1: always busy."""
    global _busy_mode
    _busy_mode = mode
_monotonic = time.monotonic
_process_time = time.process_time
_cpu_count = os.cpu_count() or 1


cdef bint machine_busy():
    """True when the other processes' share of the 1-minute load average leaves less than
    half a core idle.

    A parallel kernel waits for all its threads; on an oversubscribed machine a worker
    thread waits for a core, and each launch then costs a scheduler slice. Measured on the
    2-core development machine with two other CPU-bound processes running: relu at
    n = 2**20 float32 took 16 ms with Numba's 2 threads and 61 us with one Cython thread.
    The load average counts this process too: a loop of parallel calls alone keeps it near
    the thread count, and judging by it alone switched the loop to one Cython thread every
    few seconds (the benchmark's automatic column at 10**6 ran 2-4x slower than forced
    Numba). So this process's own CPU use, averaged with the same 1-minute time constant,
    is subtracted (_busy_update). Checked at most every 0.1 s (os.getloadavg reads
    /proc/loadavg, ~2 us)."""
    global _busy
    if _busy_mode >= 0:
        return _busy_mode == 1
    cdef double now = _monotonic()
    if now - _busy_checked_at > 0.1:
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = 0.0
        _busy = _busy_update(now, _process_time(), load)
    return _busy


cdef double _own_cpu_at = 0.0      # process CPU seconds at the last check
cdef double _own_load = 0.0        # this process's CPU use (cores), 1-minute average


def _busy_update(double now, double cpu, double load):
    """Fold one observation (monotonic time, this process's CPU seconds, the 1-minute load
    average) into the own-load average; returns whether the machine counts as busy."""
    global _busy_checked_at, _own_cpu_at, _own_load
    cdef double dt = now - _busy_checked_at
    cdef double w
    if _busy_checked_at >= 0 and dt > 0:
        w = exp(-dt / 60.0)                 # the kernel's load average decays over 1 min
        _own_load = _own_load * w + max(cpu - _own_cpu_at, 0.0) / dt * (1.0 - w)
    _busy_checked_at = now
    _own_cpu_at = cpu
    return load - _own_load > _cpu_count - 0.5


def _busy_state():
    """(own-load average, busy) as the last check left them; for tests and explain()."""
    return _own_load, bool(_busy)


def _reset_busy_state():
    global _busy_checked_at, _own_cpu_at, _own_load, _busy
    _busy_checked_at = -1.0
    _own_cpu_at = 0.0
    _own_load = 0.0
    _busy = False


# --------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------
cdef inline char* data_or_null(cnp.ndarray a) noexcept:
    return cnp.PyArray_BYTES(a) if a is not None else NULL


cdef extern from "stream.h" nogil:
    void rk_stream_copy(const void* src, void* dst, size_t nbytes)
    void rk_stream_fence()

cdef enum:
    STREAM_BUF_DOUBLES = 1024    # 8 KiB: the L1-resident buffer a chunk is computed into

# Kernels whose element i depends on element i of their inputs alone (not on its index, as
# prelu's channel does), which run_flat may therefore run chunk by chunk.
cdef bint STREAMABLE[NKERNELS]      # from the op table (Op.streams), bound by _bind
# Out-of-place outputs of at least this many bytes are streamed: set at import to half the
# last-level cache (dispatch.py), where x and y together no longer fit in it. Measured on a
# 32 MiB L3 (relu float32, Cython, same run): 10**6 elements (4 MiB out, both arrays stay
# in the cache between calls) 121 us streamed / 96 us not; 4 * 10**6 (16 MiB) 748 / 1126 us;
# 10**7 4.0 / 7.2 ms.
cdef Py_ssize_t _stream_min = 16 << 20


cdef void run_streaming(const Kernel* k, bint single, char* pa, char* pb, char* pc,
                        const uint8_t* mask_in, char* py, uint8_t* mask_out, Py_ssize_t n,
                        const double* params) noexcept nogil:
    # Each chunk is computed into buf (in L1) and streamed to y: see stream.h. Chunks are
    # whole mask bytes (a multiple of 8 elements), so the masks advance by i / 8 bytes.
    cdef double buf[STREAM_BUF_DOUBLES]
    cdef Py_ssize_t size = 4 if single else 8
    cdef Py_ssize_t step = STREAM_BUF_DOUBLES * 8 // size
    cdef Py_ssize_t i = 0, m, off
    while i < n:
        m = min(step, n - i)
        off = i * size
        if single:
            k.f32(<float*>(pa + off), <float*>(pb + off) if pb != NULL else NULL,
                  <float*>(pc + off) if pc != NULL else NULL,
                  mask_in + i // 8 if mask_in != NULL else NULL, <float*>buf,
                  mask_out + i // 8 if mask_out != NULL else NULL, m, params)
        else:
            k.f64(<double*>(pa + off), <double*>(pb + off) if pb != NULL else NULL,
                  <double*>(pc + off) if pc != NULL else NULL,
                  mask_in + i // 8 if mask_in != NULL else NULL, buf,
                  mask_out + i // 8 if mask_out != NULL else NULL, m, params)
        rk_stream_copy(buf, py + off, m * size)
        i += m
    rk_stream_fence()


cdef void run_flat(int kid, cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, const uint8_t* mask_in,
                   cnp.ndarray y, uint8_t* mask_out, const double* params) noexcept:
    cdef Py_ssize_t n = cnp.PyArray_SIZE(y)
    cdef char* pa = cnp.PyArray_BYTES(a)
    cdef char* pb = data_or_null(b)
    cdef char* pc = data_or_null(c)
    cdef char* py = cnp.PyArray_BYTES(y)
    cdef const Kernel* k = &KERNELS[kid]
    cdef bint single = cnp.PyArray_TYPE(y) == cnp.NPY_FLOAT
    if (STREAMABLE[kid] and n * cnp.PyArray_ITEMSIZE(y) >= _stream_min
            and py != pa and py != pb and py != pc):
        # out of place (flat arrays here either coincide or were made disjoint by a copy)
        with nogil:
            run_streaming(k, single, pa, pb, pc, mask_in, py, mask_out, n, params)
        return
    if single:
        if n < GIL_RELEASE_MIN:
            k.f32(<float*>pa, <float*>pb, <float*>pc, mask_in, <float*>py, mask_out, n, params)
        else:
            with nogil:
                k.f32(<float*>pa, <float*>pb, <float*>pc, mask_in, <float*>py, mask_out, n, params)
    else:
        if n < GIL_RELEASE_MIN:
            k.f64(<double*>pa, <double*>pb, <double*>pc, mask_in, <double*>py, mask_out, n, params)
        else:
            with nogil:
                k.f64(<double*>pa, <double*>pb, <double*>pc, mask_in, <double*>py, mask_out, n, params)


cdef void run_any_layout(int kid, cnp.ndarray a, cnp.ndarray b, cnp.ndarray c,
                         const uint8_t* mask_in, cnp.ndarray y, uint8_t* mask_out,
                         const double* params) noexcept:
    cdef int nd = cnp.PyArray_NDIM(y)
    cdef int perm[MAXDIM]
    cdef char* inputs[3]
    cdef const Py_ssize_t* in_strides[3]
    cdef int nin = 0
    cdef int d
    cdef cnp.ndarray arr
    cdef Py_ssize_t total = cnp.PyArray_SIZE(y)
    cdef const Py_ssize_t* shape = <const Py_ssize_t*>cnp.PyArray_DIMS(y)
    cdef char* out = cnp.PyArray_BYTES(y)
    cdef const Py_ssize_t* out_strides = <const Py_ssize_t*>cnp.PyArray_STRIDES(y)
    if total == 0:
        return
    for arr in (a, b, c):        # inputs are positional: b only with a, c only with b
        if arr is None:
            break
        inputs[nin] = cnp.PyArray_BYTES(arr)
        in_strides[nin] = <const Py_ssize_t*>cnp.PyArray_STRIDES(arr)
        nin += 1
    if mask_in != NULL or mask_out != NULL:
        for d in range(nd):          # masks are in C order of the logical elements
            perm[d] = d
    else:
        memory_order(nd, shape, out_strides, perm)
    if cnp.PyArray_TYPE(y) == cnp.NPY_FLOAT:
        with nogil:
            run_strided(&KERNELS[kid], total, nd, shape, perm, nin, inputs, in_strides,
                        out, out_strides, mask_in, mask_out, params, <float*>NULL)
    else:
        with nogil:
            run_strided(&KERNELS[kid], total, nd, shape, perm, nin, inputs, in_strides,
                        out, out_strides, mask_in, mask_out, params, <double*>NULL)


cdef object load_numba():
    global _numba_state, _numba_run
    if _numba_state == 0:
        try:
            from relukit import _numba_backend
        except ImportError:
            _numba_state = -1
            return None
        _numba_run = _numba_backend.run
        _numba_state = 1
    return _numba_run


cdef tuple ptuple(const double* params, int n, object pobj):
    """The first n params as a tuple of floats, or (pobj,) for n < 0: the parameters the
    NumPy reference or a Numba kernel is called with. Built only when one of them runs: a
    tuple of Python floats made on every call cost 50-100 ns of a call's 100-200 at n = 10
    (elu 193 -> 95 ns at n = 1)."""
    if n < 0:
        return (pobj,)
    if n == 0:
        return ()
    return tuple([params[i] for i in range(n)])


cdef inline object flat_view(cnp.ndarray a):
    return None if a is None else a.ravel(order="K")


cdef bint run_numba(int kid, cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, object mask_in,
                    cnp.ndarray y, object mask_out, tuple params) except -1:
    """Run the parallel Numba kernel; False when it cannot run now (caller uses Cython).

    Launches are serialised by a non-blocking lock: Numba's workqueue layer aborts the
    process on concurrent launches and the others oversubscribe the cores, so a thread that
    finds the lock taken runs the single-threaded Cython kernel instead of waiting.
    """
    runner = load_numba()
    if runner is None:
        return False
    lock = _par_lock
    if not lock.acquire(False):
        return False
    try:
        return runner(KERNEL_NAMES[kid], flat_view(a), flat_view(b), flat_view(c), mask_in,
                      flat_view(y), mask_out, params, _num_threads)
    finally:
        lock.release()


cdef void execute(int backend, bint flat, int kid, cnp.ndarray a, cnp.ndarray b, cnp.ndarray c,
                  cnp.ndarray mask_in, cnp.ndarray y, cnp.ndarray mask_out,
                  const double* params, int nk) except *:
    """Run kernel ``kid`` with a compiled backend on checked arrays: the parallel Numba
    kernel where chosen (flat arrays only) and free, else the Cython flat loop or, for any
    other layout, the Cython strided driver."""
    cdef const uint8_t* pmi = <uint8_t*>cnp.PyArray_BYTES(mask_in) if mask_in is not None else NULL
    cdef uint8_t* pmo = <uint8_t*>cnp.PyArray_BYTES(mask_out) if mask_out is not None else NULL
    if backend == B_NUMBA and flat and run_numba(kid, a, b, c, mask_in, y, mask_out,
                                                 ptuple(params, nk, None)):
        return
    if flat:
        run_flat(kid, a, b, c, pmi, y, pmo, params)
    else:
        run_any_layout(kid, a, b, c, pmi, y, pmo, params)


# --------------------------------------------------------------------------------------
# Argument checks. Every check runs before anything is written.
# --------------------------------------------------------------------------------------
cdef cnp.ndarray as_input(str fname, str argname, object v):
    cdef cnp.ndarray a
    if cnp.PyArray_Check(v):
        a = <cnp.ndarray>v
    else:
        a = <cnp.ndarray>np.asarray(v)
    if not compiled_dtype(a):
        check_real_dtype(fname, argname, a)
    return a


cdef int check_real_dtype(str fname, str argname, cnp.ndarray a) except -1:
    kind = a.dtype.kind
    if kind not in "iuf":
        raise TypeError(
            f"{fname}: {argname} must hold real numbers (float or integer), got dtype "
            f"{a.dtype}; bool, complex, object and non-numeric arrays are not accepted")
    return 0


cdef int check_out(str fname, cnp.ndarray a, object out, str aname) except -1:
    cdef cnp.ndarray o
    if not cnp.PyArray_Check(out):
        raise TypeError(f"{fname}: out must be a numpy.ndarray or None, got {type(out).__name__}")
    o = <cnp.ndarray>out
    if not same_shape(o, a):
        raise ValueError(f"{fname}: out has shape {(<object>o).shape} but {aname} has shape "
                         f"{(<object>a).shape}")
    if not PyArray_EquivTypes(cnp.PyArray_DESCR(o), cnp.PyArray_DESCR(a)):
        raise TypeError(f"{fname}: out has dtype {o.dtype} but {aname} has dtype {a.dtype}; "
                        "they must be the same")
    if not cnp.PyArray_ISWRITEABLE(o):
        raise ValueError(f"{fname}: out is read-only")
    return 0


cdef bint same_shape(cnp.ndarray a, cnp.ndarray b) noexcept:
    cdef int d
    if cnp.PyArray_NDIM(a) != cnp.PyArray_NDIM(b):
        return False
    for d in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIMS(a)[d] != cnp.PyArray_DIMS(b)[d]:
            return False
    return True


cdef bint overlaps(cnp.ndarray a, cnp.ndarray b) noexcept:
    # Byte extents of two arrays intersect (the cheap, conservative test: may report an
    # overlap for interleaved views that share no element; a copy is then merely wasted).
    cdef Py_ssize_t alo, ahi, blo, bhi
    if cnp.PyArray_SIZE(a) == 0 or cnp.PyArray_SIZE(b) == 0:
        return False
    extent(a, &alo, &ahi)
    extent(b, &blo, &bhi)
    return alo < bhi and blo < ahi


cdef void extent(cnp.ndarray a, Py_ssize_t* lo, Py_ssize_t* hi) noexcept:
    cdef int d
    cdef Py_ssize_t s, base = <Py_ssize_t>cnp.PyArray_BYTES(a)
    lo[0] = base
    hi[0] = base + cnp.PyArray_ITEMSIZE(a)
    for d in range(cnp.PyArray_NDIM(a)):
        s = cnp.PyArray_STRIDES(a)[d] * (cnp.PyArray_DIMS(a)[d] - 1)
        if s < 0:
            lo[0] += s
        else:
            hi[0] += s


cdef inline bint same_view(cnp.ndarray a, cnp.ndarray b) noexcept:
    # Same first byte and same strides: every element maps onto itself, so an elementwise
    # kernel may read and write it in place.
    cdef int d
    if cnp.PyArray_BYTES(a) != cnp.PyArray_BYTES(b):
        return False
    for d in range(cnp.PyArray_NDIM(a)):
        if (cnp.PyArray_STRIDES(a)[d] != cnp.PyArray_STRIDES(b)[d]
                and cnp.PyArray_DIMS(a)[d] > 1):
            return False
    return True


cdef cnp.ndarray prepare_out(str fname, cnp.ndarray a, object out, str aname):
    """Allocate, or check, the output; a partially overlapping input is copied first so the
    result is what NumPy gives (as if the input were read before anything is written)."""
    if out is None:
        return <cnp.ndarray>PyArray_NewLikeArray(a, cnp.NPY_KEEPORDER, NULL, 0)
    if out is a:
        if not cnp.PyArray_ISWRITEABLE(a):
            raise ValueError(f"{fname}: out={aname} needs a writeable {aname}, but {aname} is read-only")
        return a
    check_out(fname, a, out, aname)
    return <cnp.ndarray>out


cdef cnp.ndarray new_mask(Py_ssize_t n):
    cdef cnp.npy_intp dims[1]
    dims[0] = (n + 7) >> 3
    return <cnp.ndarray>cnp.PyArray_EMPTY(1, dims, cnp.NPY_UINT8, 0)


cdef cnp.ndarray check_mask(str fname, object mask, Py_ssize_t n):
    cdef cnp.ndarray m
    if not cnp.PyArray_Check(mask):
        raise TypeError(f"{fname}: mask must be the numpy.uint8 array returned by the forward "
                        f"(return_mask=True), got {type(mask).__name__}")
    m = <cnp.ndarray>mask
    if cnp.PyArray_TYPE(m) != cnp.NPY_UINT8:
        raise TypeError(f"{fname}: mask must have dtype uint8, got {m.dtype}")
    if cnp.PyArray_NDIM(m) != 1 or cnp.PyArray_SIZE(m) != (n + 7) >> 3:
        raise ValueError(f"{fname}: mask has shape {(<object>m).shape} but grad has {n} elements, "
                         f"which need a 1-d mask of {(n + 7) >> 3} bytes")
    if not cnp.PyArray_IS_C_CONTIGUOUS(m):
        m = np.ascontiguousarray(m)
    return m


# --------------------------------------------------------------------------------------
# Generic entry points, shared by every op of a kind
# --------------------------------------------------------------------------------------
cdef object forward(int kid, str fname, object x, object out, bint return_mask,
                    const double* params, int npp, int nk, object pobj):
    # The op's own parameters, for the NumPy reference: params[:npp], or (pobj,) for
    # npp < 0; the kernel's coefficients, for the Numba kernel: params[:nk] (see ptuple).
    cdef cnp.ndarray a, y
    cdef cnp.ndarray m = None
    cdef int reason, backend
    cdef bint flat
    if out is x and not cnp.PyArray_Check(x):
        raise TypeError(f"{fname}: out=x needs x to be a numpy.ndarray, got {type(x).__name__}")
    a = as_input(fname, "x", x)
    y = prepare_out(fname, a, out, "x")
    if y is not a and out is not None and overlaps(a, y) and not same_view(a, y):
        a = a.copy()
    flat = is_flat(a, None, y, return_mask)
    backend = decide(kid, a, None, y, return_mask, flat, &reason)
    if backend == B_NUMPY:
        if return_mask:
            return getattr(_reference, fname)(a, *ptuple(params, npp, pobj), out=y,
                                              return_mask=True)
        return getattr(_reference, fname)(a, *ptuple(params, npp, pobj), out=y)
    if return_mask:
        m = new_mask(cnp.PyArray_SIZE(a))
    execute(backend, flat, kid, a, None, None, None, y, m, params, nk)
    if return_mask:
        return y, m
    return y


cdef object mask_backward(int kid, str fname, object grad, object mask, object out,
                          const double* params, int npp):
    # params[:npp]: the op's parameters, which are also the kernel's
    cdef cnp.ndarray g, y, m
    cdef int reason, backend
    cdef bint flat
    if out is grad and not cnp.PyArray_Check(grad):
        raise TypeError(f"{fname}: out=grad needs grad to be a numpy.ndarray, got {type(grad).__name__}")
    g = as_input(fname, "grad", grad)
    m = check_mask(fname, mask, cnp.PyArray_SIZE(g))
    y = prepare_out(fname, g, out, "grad")
    if y is not g and out is not None and overlaps(g, y) and not same_view(g, y):
        g = g.copy()
    if out is not None and overlaps(m, y):
        m = m.copy()          # the mask would be overwritten before it is read
    flat = is_flat(g, None, y, True)
    backend = decide(kid, g, None, y, True, flat, &reason)
    if backend == B_NUMPY:
        return getattr(_reference, fname)(g, m, *ptuple(params, npp, None), out=y)
    execute(backend, flat, kid, g, None, None, m, y, None, params, npp)
    return y


# --------------------------------------------------------------------------------------
# Public ops (docstrings are completed from the op table in relukit/ops.py)
# --------------------------------------------------------------------------------------
def relu(x, out=None, bint return_mask=False):
    """relu(x, out=None, return_mask=False)"""
    return forward(K_RELU, "relu", x, out, return_mask, NULL, 0, 0, None)


def relu_backward(grad, mask, out=None):
    """relu_backward(grad, mask, out=None)"""
    return mask_backward(K_MASK_SELECT, "relu_backward", grad, mask, out, NULL, 0)


def relu6(x, out=None, bint return_mask=False):
    """relu6(x, out=None, return_mask=False)"""
    return forward(K_RELU6, "relu6", x, out, return_mask, NULL, 0, 0, None)


def relu6_backward(grad, mask, out=None):
    """relu6_backward(grad, mask, out=None)"""
    return mask_backward(K_MASK_SELECT, "relu6_backward", grad, mask, out, NULL, 0)


def leaky_relu(x, double negative_slope=0.01, out=None, bint return_mask=False):
    """leaky_relu(x, negative_slope=0.01, out=None, return_mask=False)"""
    cdef double p[1]
    p[0] = negative_slope
    return forward(K_LEAKY_RELU, "leaky_relu", x, out, return_mask, p, 1, 1, None)


def leaky_relu_backward(grad, mask, double negative_slope=0.01, out=None):
    """leaky_relu_backward(grad, mask, negative_slope=0.01, out=None)"""
    cdef double p[1]
    p[0] = negative_slope
    return mask_backward(K_MASK_SCALE, "leaky_relu_backward", grad, mask, out, p, 1)


cdef object binary(int kid, str fname, object grad, object other, str oname, object out,
                   const double* params, int npp, int nk, object pobj):
    """Elementwise backward from grad and one saved array (the forward's input or output);
    npp, nk, pobj as in forward."""
    cdef cnp.ndarray g, b, y
    cdef int reason, backend
    cdef bint flat
    if out is grad and not cnp.PyArray_Check(grad):
        raise TypeError(f"{fname}: out=grad needs grad to be a numpy.ndarray, got {type(grad).__name__}")
    g = as_input(fname, "grad", grad)
    b = as_input(fname, oname, other)
    check_like(fname, g, "grad", b, oname)
    y = prepare_out(fname, g, out, "grad")
    if out is not None:
        if y is not g and overlaps(g, y) and not same_view(g, y):
            g = g.copy()
        if overlaps(b, y) and not same_view(b, y):
            b = b.copy()
    flat = is_flat(g, b, y, False)
    backend = decide(kid, g, b, y, False, flat, &reason)
    if backend == B_NUMPY:
        return getattr(_reference, fname)(g, b, *ptuple(params, npp, pobj), out=y)
    execute(backend, flat, kid, g, b, None, None, y, None, params, nk)
    return y


# --------------------------------------------------------------------------------------
# Ops with extra inputs or other output shapes: prelu, crelu, brelu. Their entry points
# validate everything first, pick one backend for the whole call and, on C-ordered data,
# run one fused pass (Cython row kernels or their Numba twins); other layouts go through
# the Cython strided driver, one kernel pass at a time (run_with).
# --------------------------------------------------------------------------------------
cdef cnp.ndarray float_input(str fname, str argname, object v):
    cdef cnp.ndarray a = as_input(fname, argname, v)
    if not compiled_dtype(a) and a.dtype.kind != "f":
        raise TypeError(f"{fname}: {argname} must be a floating-point array, got dtype {a.dtype}")
    return a


cdef int check_like(str fname, cnp.ndarray ref, str refname, cnp.ndarray a, str aname) except -1:
    if not same_shape(a, ref):
        raise ValueError(f"{fname}: {aname} has shape {(<object>a).shape} but {refname} has shape "
                         f"{(<object>ref).shape}")
    if not PyArray_EquivTypes(cnp.PyArray_DESCR(a), cnp.PyArray_DESCR(ref)):
        raise TypeError(f"{fname}: {aname} has dtype {a.dtype} but {refname} has dtype {ref.dtype}")
    return 0


cdef void run_with(int kid, cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, cnp.ndarray y,
                   const double* params) except *:
    # one Cython kernel pass, for the layouts the composite ops' one-pass kernels do not take
    execute(B_CYTHON, is_flat(a, b, y, False, c), kid, a, b, c, None, y, None, params, 0)


cdef tuple prelu_channels(str fname, cnp.ndarray a, object weight, int axis):
    # one implementation of the weight rules, shared with the NumPy reference
    return _reference.prelu_slopes(a, weight, axis, fname)


def prelu(x, weight, int axis=1, out=None, bint return_mask=False):
    """prelu(x, weight, axis=1, out=None, return_mask=False)

    PReLU: ``y = x if x > 0 else weight[c] * x``, with ``c`` the index along ``axis``.

    Parameters
    ----------
    x : ndarray of float
        float32/float64 compiled; float16 via the NumPy reference; integers are a TypeError.
    weight : scalar or 1-d array_like
        One slope, or one per entry of ``x.shape[axis]``; rounded to x's dtype. As in
        PyTorch, ``x`` with fewer than 2 dimensions (and the default axis) takes one slope.
    axis : int, optional
        The channel axis (PyTorch's layout, NCHW: 1).
    out, return_mask
        As for :func:`relu`; the mask bit is set where x > 0.

    Notes
    -----
    NaN propagates. Equivalent NumPy: ``np.where(x > 0, x, x * w.reshape(shape))``
    (``relukit.reference.prelu``).
    """
    cdef cnp.ndarray a, y, slope_view
    cdef cnp.ndarray m = None
    cdef int reason, backend, ch
    cdef bint flat
    cdef Py_ssize_t dims[3]
    if out is x and not cnp.PyArray_Check(x):
        raise TypeError(f"prelu: out=x needs x to be a numpy.ndarray, got {type(x).__name__}")
    a = float_input("prelu", "x", x)
    w = prelu_ready_weight(a, weight, axis)
    if w is None:
        ch, slopes, slope_view = prelu_channels("prelu", a, weight, axis)
    else:                                   # the common case, without the general rules
        ch, slopes, slope_view = prelu_axis(a, axis), w, None
    y = prepare_out("prelu", a, out, "x")
    if y is not a and out is not None and overlaps(a, y) and not same_view(a, y):
        a = a.copy()
    flat = is_flat(a, None, y, True)
    backend = decide(K_PRELU, a, None, y, return_mask, flat, &reason)
    if backend == B_NUMPY:
        if return_mask:
            return _reference.prelu(a, weight, axis, out=y, return_mask=True)
        return _reference.prelu(a, weight, axis, out=y)
    if return_mask:
        m = new_mask(cnp.PyArray_SIZE(a))
    if flat:                                # C order: rows of one slope
        prelu_dims(a, ch, False, dims)
        if not (backend == B_NUMBA
                and run_numba(K_PRELU, a, None, None, None, y, m,
                              (slopes, dims[0], dims[1], dims[2]))):
            prelu_rows(a, slopes, y, m, dims)
    else:
        if slope_view is None:
            ch, slopes, slope_view = prelu_channels("prelu", a, weight, axis)
        run_any_layout(K_PRELU, a, slope_view, None, NULL, y,
                       <uint8_t*>cnp.PyArray_BYTES(m) if return_mask else NULL, NULL)
    return (y, m) if return_mask else y


cdef object prelu_ready_weight(cnp.ndarray a, object weight, int axis):
    """``weight`` itself when it already is what the kernels need (a contiguous 1-d array of
    x's dtype, one slope per channel of a valid axis), else None: the general rules (and
    their errors) are then applied by ``reference.prelu_slopes``. Measured: the general
    path costs ~10 us a call, more than the kernel below n = 10**4."""
    cdef cnp.ndarray w
    cdef int nd = cnp.PyArray_NDIM(a)
    if not cnp.PyArray_Check(weight) or nd < 2 or not -nd <= axis < nd:
        return None
    w = <cnp.ndarray>weight
    if (cnp.PyArray_NDIM(w) != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(w)
            or not cnp.PyArray_ISALIGNED(w)
            or not PyArray_EquivTypes(cnp.PyArray_DESCR(w), cnp.PyArray_DESCR(a))
            or cnp.PyArray_DIMS(w)[0] != cnp.PyArray_DIMS(a)[prelu_axis(a, axis)]):
        return None
    return w


cdef inline int prelu_axis(cnp.ndarray a, int axis) noexcept:
    # axis in [-ndim, ndim) (checked by the caller) as an index in [0, ndim). Not axis % ndim:
    # this module is compiled with cdivision, where -3 % 4 is -3 (C), and a negative axis read
    # the shape before its first entry and ran as one channel.
    return axis + cnp.PyArray_NDIM(a) if axis < 0 else axis


cdef void prelu_dims(cnp.ndarray a, int ch, bint single, Py_ssize_t* dims) noexcept:
    # x in C order as (outer, channels, inner); one channel of all n elements where there is
    # no channel axis or (single) the weight gradient is one sum over everything
    cdef int d
    if ch < 0 or single:
        dims[0] = 1
        dims[1] = 1
        dims[2] = cnp.PyArray_SIZE(a)
        return
    dims[0] = 1
    dims[1] = cnp.PyArray_DIMS(a)[ch]
    dims[2] = 1
    for d in range(ch):
        dims[0] *= cnp.PyArray_DIMS(a)[d]
    for d in range(ch + 1, cnp.PyArray_NDIM(a)):
        dims[2] *= cnp.PyArray_DIMS(a)[d]


cdef void prelu_rows(cnp.ndarray a, cnp.ndarray slopes, cnp.ndarray y, cnp.ndarray m,
                     const Py_ssize_t* dims) noexcept:
    # C-contiguous x and y (and the mask): the Cython row kernel
    cdef uint8_t* pm = <uint8_t*>cnp.PyArray_BYTES(m) if m is not None else NULL
    cdef bint f32 = cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT
    cdef char* px = cnp.PyArray_BYTES(a)
    cdef char* pw = cnp.PyArray_BYTES(slopes)
    cdef char* py = cnp.PyArray_BYTES(y)
    if cnp.PyArray_SIZE(a) < GIL_RELEASE_MIN:
        prelu_rows_typed(f32, px, pw, py, pm, dims)
    else:
        with nogil:
            prelu_rows_typed(f32, px, pw, py, pm, dims)


cdef void prelu_rows_typed(bint f32, char* x, char* w, char* y, uint8_t* m,
                           const Py_ssize_t* dims) noexcept nogil:
    if f32:
        prelu_rows_kernel(<float*>x, <float*>w, <float*>y, m, dims[0], dims[1], dims[2])
    else:
        prelu_rows_kernel(<double*>x, <double*>w, <double*>y, m, dims[0], dims[1], dims[2])


def prelu_backward(grad, x, weight, int axis=1):
    """prelu_backward(grad, x, weight, axis=1) -> (grad_x, grad_weight)

    Gradients of :func:`prelu`: ``grad_x = grad if x > 0 else weight[c] * grad`` and
    ``grad_weight[c] = sum of x * grad over the elements of channel c where not x > 0``,
    accumulated in float64 (in the fixed order of ``reference.prelu_channel_sum``, the same
    in every backend) and rounded to x's dtype, shaped like ``weight``. Needs the
    forward's input. Equivalent NumPy: ``relukit.reference.prelu_backward``.
    """
    cdef cnp.ndarray g, a, gx, gxc, total, gw, slopes
    cdef int backend, reason, ch
    cdef bint single
    cdef Py_ssize_t dims[3]
    cdef cnp.npy_intp nout
    cdef Py_ssize_t i
    a = float_input("prelu_backward", "x", x)
    g = float_input("prelu_backward", "grad", grad)
    check_like("prelu_backward", a, "x", g, "grad")
    w = prelu_ready_weight(a, weight, axis)
    if w is None:
        ch, slopes, _ = prelu_channels("prelu_backward", a, weight, axis)
        wshape = np.shape(weight)
        single = ch < 0 or np.size(weight) == 1
    else:                                   # the common case, without the general rules
        ch, slopes = prelu_axis(a, axis), <cnp.ndarray>w
        wshape = (<object>w).shape
        single = cnp.PyArray_SIZE(<cnp.ndarray>w) == 1
    gx = <cnp.ndarray>PyArray_NewLikeArray(a, cnp.NPY_KEEPORDER, NULL, 0)
    backend = decide(K_PRELU_GRAD, a, g, gx, False, is_flat(g, a, gx, True), &reason)
    if backend == B_NUMPY:
        return _reference.prelu_backward(g, a, weight, axis)
    if not is_flat(g, a, gx, True):
        # other layouts: the one-pass kernel on C-ordered copies (the sum's order is defined
        # on C order), grad_x then copied into the memory order of x
        g = g.copy(order="C")        # (aligned, which ascontiguousarray does not ensure)
        a = a.copy(order="C")
        gxc = <cnp.ndarray>np.empty_like(a)
    else:
        gxc = gx
    prelu_dims(a, ch, single, dims)
    nout = dims[1]
    total = <cnp.ndarray>np.empty(nout, np.float64)
    if not (backend == B_NUMBA
            and run_numba(K_PRELU_GRAD, g, a, None, None, gxc, None,
                                (slopes, dims[0], dims[1], dims[2], total))):
        prelu_grad_rows(g, a, slopes, gxc, total, dims)
    if gxc is not gx:
        np.copyto(gx, gxc)
    gw = <cnp.ndarray>cnp.PyArray_EMPTY(1, &nout, cnp.PyArray_TYPE(a), 0)
    prelu_round_sums(<double*>cnp.PyArray_BYTES(total), cnp.PyArray_BYTES(gw), nout,
                     cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT)
    return gx, gw.reshape(wshape)


cdef void prelu_round_sums(const double* total, char* out, Py_ssize_t n, bint f32) noexcept:
    # The weight gradient in x's dtype (overflow to inf is the result, silently). A NaN sum
    # comes out as the default quiet NaN: where two NaN terms meet, which payload an add
    # keeps depends on the operand order the compiler or NumPy's SIMD loops pick, so the
    # payload would differ between backends.
    cdef Py_ssize_t i
    cdef double t
    for i in range(n):
        t = total[i]
        if t != t:
            t = NAN
        if f32:
            (<float*>out)[i] = <float>t
        else:
            (<double*>out)[i] = t


cdef void prelu_grad_rows(cnp.ndarray g, cnp.ndarray a, cnp.ndarray slopes, cnp.ndarray gx,
                          cnp.ndarray total, const Py_ssize_t* dims) noexcept:
    cdef bint f32 = cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT
    cdef char* pg = cnp.PyArray_BYTES(g)
    cdef char* px = cnp.PyArray_BYTES(a)
    cdef char* pw = cnp.PyArray_BYTES(slopes)
    cdef char* py = cnp.PyArray_BYTES(gx)
    cdef double* pt = <double*>cnp.PyArray_BYTES(total)
    if cnp.PyArray_SIZE(a) < GIL_RELEASE_MIN:
        prelu_grad_rows_typed(f32, pg, px, pw, py, pt, dims)
    else:
        with nogil:
            prelu_grad_rows_typed(f32, pg, px, pw, py, pt, dims)


cdef void prelu_grad_rows_typed(bint f32, char* g, char* x, char* w, char* y, double* total,
                                const Py_ssize_t* dims) noexcept nogil:
    if f32:
        prelu_grad_rows_kernel(<float*>g, <float*>x, <float*>w, <float*>y, total,
                               dims[0], dims[1], dims[2])
    else:
        prelu_grad_rows_kernel(<double*>g, <double*>x, <double*>w, <double*>y, total,
                               dims[0], dims[1], dims[2])


cdef tuple crelu_halves(cnp.ndarray full, int ax, Py_ssize_t k):
    idx = [slice(None)] * cnp.PyArray_NDIM(full)
    idx[ax] = slice(0, k)
    first = full[tuple(idx)]
    idx[ax] = slice(k, 2 * k)
    return first, full[tuple(idx)]


cdef int crelu_axis(str fname, cnp.ndarray a, int axis) except -1:
    return _reference.crelu_axis(a, axis, fname)


cdef inline bint c_flat(cnp.ndarray a) noexcept:
    return cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISALIGNED(a)


cdef void outer_inner(cnp.ndarray a, int ax, Py_ssize_t* outer, Py_ssize_t* inner) noexcept:
    # C-ordered a as (outer, inner) with the axes before ax in outer, ax and after in inner
    cdef int d
    outer[0] = 1
    inner[0] = 1
    for d in range(ax):
        outer[0] *= cnp.PyArray_DIMS(a)[d]
    for d in range(ax, cnp.PyArray_NDIM(a)):
        inner[0] *= cnp.PyArray_DIMS(a)[d]


cdef int pick_fused(int kid, cnp.ndarray a, bint flat) noexcept:
    # The backend of a composite call whose outputs are new C-ordered arrays: the
    # dispatcher's answer on x, where flat says whether the one-pass kernels can run.
    cdef int reason
    return decide(kid, a, None, a, False, flat, &reason)


def crelu(x, int axis=-1):
    """crelu(x, axis=-1)

    CReLU (TensorFlow's definition): ``concatenate((relu(x), relu(-x)), axis)``; out of place,
    the output is twice as long along ``axis``. x must be float and at least 1-d.
    NaN propagates (the second half holds -NaN). Equivalent NumPy:
    ``np.concatenate((relu(x), relu(-x)), axis)``.
    """
    cdef cnp.ndarray a = float_input("crelu", "x", x)
    cdef int ax = crelu_axis("crelu", a, axis)
    cdef Py_ssize_t k = cnp.PyArray_DIMS(a)[ax]
    cdef Py_ssize_t outer, inner
    cdef cnp.ndarray y
    cdef bint flat = c_flat(a)
    shape = list((<object>a).shape)
    shape[ax] = 2 * k
    y = <cnp.ndarray>np.empty(shape, a.dtype)
    backend = pick_fused(K_NEG_RELU, a, flat)
    if backend == B_NUMPY:
        return _reference.crelu(a, axis)
    if flat:
        outer_inner(a, ax, &outer, &inner)
        if not (backend == B_NUMBA
                and run_numba(K_NEG_RELU, a, None, None, None, y, None, (outer, inner))):
            crelu_rows(a, y, outer, inner)
        return y
    first, second = crelu_halves(y, ax, k)
    run_with(K_RELU, a, None, None, first, NULL)
    run_with(K_NEG_RELU, a, None, None, second, NULL)
    return y


cdef void crelu_rows(cnp.ndarray a, cnp.ndarray y, Py_ssize_t outer, Py_ssize_t inner) noexcept:
    cdef bint f32 = cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT
    cdef char* px = cnp.PyArray_BYTES(a)
    cdef char* py = cnp.PyArray_BYTES(y)
    if cnp.PyArray_SIZE(a) < GIL_RELEASE_MIN:
        crelu_rows_typed(f32, px, py, outer, inner)
    else:
        with nogil:
            crelu_rows_typed(f32, px, py, outer, inner)


cdef void crelu_rows_typed(bint f32, char* x, char* y, Py_ssize_t outer,
                           Py_ssize_t inner) noexcept nogil:
    if f32:
        crelu_rows_kernel(<float*>x, <float*>y, outer, inner)
    else:
        crelu_rows_kernel(<double*>x, <double*>y, outer, inner)


def crelu_backward(grad, x, int axis=-1):
    """crelu_backward(grad, x, axis=-1)

    Gradient of :func:`crelu`; ``grad`` has crelu's output shape. With ``g1, g2`` its two
    halves: ``g1 where not x <= 0, else 0`` minus ``g2 where not -x <= 0, else 0``. Needs the
    forward's input.
    """
    cdef cnp.ndarray a = float_input("crelu_backward", "x", x)
    cdef cnp.ndarray g = float_input("crelu_backward", "grad", grad)
    cdef int ax = crelu_axis("crelu_backward", a, axis)
    cdef Py_ssize_t k = cnp.PyArray_DIMS(a)[ax]
    cdef Py_ssize_t outer, inner
    cdef cnp.ndarray gx
    cdef bint flat
    shape = list((<object>a).shape)
    shape[ax] = 2 * k
    if list((<object>g).shape) != shape:
        raise ValueError(f"crelu_backward: grad has shape {(<object>g).shape} but crelu(x) has "
                         f"shape {tuple(shape)}")
    if g.dtype != a.dtype:
        raise TypeError(f"crelu_backward: grad has dtype {g.dtype} but x has dtype {a.dtype}")
    flat = c_flat(a) and c_flat(g) and PyArray_EquivTypes(cnp.PyArray_DESCR(a), cnp.PyArray_DESCR(g))
    gx = <cnp.ndarray>PyArray_NewLikeArray(a, cnp.NPY_KEEPORDER, NULL, 0)
    backend = pick_fused(K_CRELU_GRAD, a, flat)
    if backend == B_NUMPY:
        return _reference.crelu_backward(g, a, axis)
    if flat:
        outer_inner(a, ax, &outer, &inner)
        if not (backend == B_NUMBA
                and run_numba(K_CRELU_GRAD, g, a, None, None, gx, None, (outer, inner))):
            crelu_grad_rows(g, a, gx, outer, inner)
        return gx
    g1, g2 = crelu_halves(g, ax, k)
    run_with(K_CRELU_GRAD, g1, g2, a, gx, NULL)
    return gx


cdef void crelu_grad_rows(cnp.ndarray g, cnp.ndarray a, cnp.ndarray gx, Py_ssize_t outer,
                          Py_ssize_t inner) noexcept:
    cdef bint f32 = cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT
    cdef char* pg = cnp.PyArray_BYTES(g)
    cdef char* px = cnp.PyArray_BYTES(a)
    cdef char* py = cnp.PyArray_BYTES(gx)
    if cnp.PyArray_SIZE(a) < GIL_RELEASE_MIN:
        crelu_grad_rows_typed(f32, pg, px, py, outer, inner)
    else:
        with nogil:
            crelu_grad_rows_typed(f32, pg, px, py, outer, inner)


cdef void crelu_grad_rows_typed(bint f32, char* g, char* x, char* y, Py_ssize_t outer,
                                Py_ssize_t inner) noexcept nogil:
    if f32:
        crelu_grad_rows_kernel(<float*>g, <float*>x, <float*>y, outer, inner)
    else:
        crelu_grad_rows_kernel(<double*>g, <double*>x, <double*>y, outer, inner)


cdef object brelu_biases(str fname, cnp.ndarray a, object biases):
    return _reference.brelu_biases(a, biases, fname)


def brelu(x, biases):
    """brelu(x, biases)

    Biased ReLU (Liang and Xu, 2021): ``relu(x - b)`` for each ``b`` of the 1-d ``biases``,
    stacked on a new last axis (output shape ``x.shape + (len(biases),)``). Biases are rounded
    to x's dtype and the difference is taken in that dtype. Equivalent NumPy:
    ``np.stack([relu(x - b) for b in biases], axis=-1)``.
    """
    cdef cnp.ndarray a = float_input("brelu", "x", x)
    cdef cnp.ndarray bs, y
    cdef double p[1]
    cdef bint flat = c_flat(a)
    bs = <cnp.ndarray>np.ascontiguousarray(brelu_biases("brelu", a, biases))
    cdef Py_ssize_t nb = cnp.PyArray_SIZE(bs)
    y = <cnp.ndarray>np.empty((<object>a).shape + (nb,), a.dtype)
    if nb == 0:
        return y
    backend = pick_fused(K_SHIFT_RELU, a, flat)
    if backend == B_NUMPY:
        return _reference.brelu(a, biases)
    if flat:
        if not (backend == B_NUMBA
                and run_numba(K_SHIFT_RELU, a, bs, None, None, y, None, ())):
            brelu_rows(a, bs, y)
        return y
    for j in range(nb):
        p[0] = <double>bs[j]
        run_with(K_SHIFT_RELU, a, None, None, y[..., j], p)
    return y


cdef void brelu_rows(cnp.ndarray a, cnp.ndarray bs, cnp.ndarray y) noexcept:
    cdef Py_ssize_t n = cnp.PyArray_SIZE(a), nb = cnp.PyArray_SIZE(bs)
    cdef bint f32 = cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT
    cdef char* px = cnp.PyArray_BYTES(a)
    cdef char* pb = cnp.PyArray_BYTES(bs)
    cdef char* py = cnp.PyArray_BYTES(y)
    if n * nb < GIL_RELEASE_MIN:
        brelu_rows_typed(f32, px, pb, py, n, nb)
    else:
        with nogil:
            brelu_rows_typed(f32, px, pb, py, n, nb)


cdef void brelu_rows_typed(bint f32, char* x, char* b, char* y, Py_ssize_t n,
                           Py_ssize_t nb) noexcept nogil:
    if f32:
        brelu_rows_kernel(<float*>x, <float*>b, <float*>y, n, nb)
    else:
        brelu_rows_kernel(<double*>x, <double*>b, <double*>y, n, nb)


def brelu_backward(grad, x, biases):
    """brelu_backward(grad, x, biases)

    Gradient of :func:`brelu`: the sum over j of ``grad[..., j]`` where not ``x - b_j <= 0``,
    summed in bias order from +0.0. ``grad`` has brelu's output shape.
    """
    cdef cnp.ndarray a = float_input("brelu_backward", "x", x)
    cdef cnp.ndarray g = float_input("brelu_backward", "grad", grad)
    cdef cnp.ndarray bs, gx
    cdef double p[1]
    cdef bint flat
    bs = <cnp.ndarray>np.ascontiguousarray(brelu_biases("brelu_backward", a, biases))
    cdef Py_ssize_t nb = cnp.PyArray_SIZE(bs)
    expected = (<object>a).shape + (nb,)
    if (<object>g).shape != expected:
        raise ValueError(f"brelu_backward: grad has shape {(<object>g).shape} but brelu(x, biases) "
                         f"has shape {expected}")
    if g.dtype != a.dtype:
        raise TypeError(f"brelu_backward: grad has dtype {g.dtype} but x has dtype {a.dtype}")
    flat = c_flat(a) and c_flat(g) and PyArray_EquivTypes(cnp.PyArray_DESCR(a), cnp.PyArray_DESCR(g))
    backend = pick_fused(K_SHIFT_SELECT_ACC, a, flat)
    if backend == B_NUMPY:
        return _reference.brelu_backward(g, a, biases)
    if flat:
        gx = <cnp.ndarray>PyArray_NewLikeArray(a, cnp.NPY_CORDER, NULL, 0)
        if not (backend == B_NUMBA
                and run_numba(K_SHIFT_SELECT_ACC, g, a, bs, None, gx, None, ())):
            brelu_grad_rows(g, a, bs, gx)
        return gx
    gx = <cnp.ndarray>np.zeros_like(a, order="C")
    for j in range(nb):
        p[0] = <double>bs[j]
        run_with(K_SHIFT_SELECT_ACC, g[..., j], a, gx, gx, p)
    return gx


cdef void brelu_grad_rows(cnp.ndarray g, cnp.ndarray a, cnp.ndarray bs, cnp.ndarray gx) noexcept:
    cdef Py_ssize_t n = cnp.PyArray_SIZE(a), nb = cnp.PyArray_SIZE(bs)
    cdef bint f32 = cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT
    cdef char* pg = cnp.PyArray_BYTES(g)
    cdef char* px = cnp.PyArray_BYTES(a)
    cdef char* pb = cnp.PyArray_BYTES(bs)
    cdef char* py = cnp.PyArray_BYTES(gx)
    if n * nb < GIL_RELEASE_MIN:
        brelu_grad_rows_typed(f32, pg, px, pb, py, n, nb)
    else:
        with nogil:
            brelu_grad_rows_typed(f32, pg, px, pb, py, n, nb)


cdef void brelu_grad_rows_typed(bint f32, char* g, char* x, char* b, char* y, Py_ssize_t n,
                                Py_ssize_t nb) noexcept nogil:
    if f32:
        brelu_grad_rows_kernel(<float*>g, <float*>x, <float*>b, <float*>y, n, nb)
    else:
        brelu_grad_rows_kernel(<double*>g, <double*>x, <double*>b, <double*>y, n, nb)


# --------------------------------------------------------------------------------------
# Smooth ops (docstrings completed from the op table)
# --------------------------------------------------------------------------------------
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
# alpha * scale as hi + lo: the correctly rounded double and its error (mpmath, 50 digits);
# the product of the two doubles above is 1 ulp below hi, which selu_backward would carry
# into every saturated gradient.
cdef double SELU_NEG_HI = 1.7580993408473768
cdef double SELU_NEG_LO = 1.41535193800845e-17


cdef int check_output_determines(str fname, str pname, double value) except -1:
    if not value >= 0:
        raise ValueError(f"{fname}: {pname} = {value} < 0: the forward's output no longer "
                         "determines the gradient (y <= 0 both where x <= 0 and elsewhere); "
                         "use a non-negative " + pname)
    return 0


def elu(x, double alpha=1.0, out=None):
    """elu(x, alpha=1.0, out=None)"""
    cdef double p[4]
    p[0] = alpha; p[1] = 1.0; p[2] = 1.0; p[3] = 0.0
    return forward(K_ELU, "elu", x, out, False, p, 1, 4, None)


def elu_backward(grad, y, double alpha=1.0, out=None):
    """elu_backward(grad, y, alpha=1.0, out=None)"""
    cdef double p[4]
    check_output_determines("elu_backward", "alpha", alpha)
    p[0] = alpha; p[1] = 1.0; p[2] = 1.0; p[3] = 0.0
    return binary(K_ELU_GRAD, "elu_backward", grad, y, "y", out, p, 1, 4, None)


def selu(x, out=None):
    """selu(x, out=None)"""
    cdef double p[4]
    p[0] = SELU_NEG_HI; p[1] = SELU_SCALE; p[2] = 1.0; p[3] = SELU_NEG_LO
    return forward(K_ELU, "selu", x, out, False, p, 0, 4, None)


def selu_backward(grad, y, out=None):
    """selu_backward(grad, y, out=None)"""
    cdef double p[4]
    p[0] = SELU_NEG_HI; p[1] = SELU_SCALE; p[2] = 1.0; p[3] = SELU_NEG_LO
    return binary(K_ELU_GRAD, "selu_backward", grad, y, "y", out, p, 0, 4, None)


def celu(x, double alpha=1.0, out=None):
    """celu(x, alpha=1.0, out=None)"""
    cdef double p[4]
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (celu divides x by alpha)")
    p[0] = alpha; p[1] = 1.0; p[2] = alpha; p[3] = 0.0
    return forward(K_ELU, "celu", x, out, False, p, 1, 4, None)


def celu_backward(grad, y, double alpha=1.0, out=None):
    """celu_backward(grad, y, alpha=1.0, out=None)"""
    cdef double p[4]
    if alpha == 0:
        raise ValueError("celu_backward: alpha must not be 0 (celu divides x by alpha)")
    check_output_determines("celu_backward", "alpha", alpha)
    p[0] = alpha; p[1] = 1.0; p[2] = alpha; p[3] = 0.0
    return binary(K_ELU_GRAD, "celu_backward", grad, y, "y", out, p, 1, 4, None)


def softplus(x, double beta=1.0, double threshold=20.0, out=None):
    """softplus(x, beta=1.0, threshold=20.0, out=None)"""
    cdef double p[2]
    if beta == 0:
        raise ValueError("softplus: beta must not be 0 (softplus divides by beta)")
    p[0] = beta; p[1] = threshold
    return forward(K_SOFTPLUS, "softplus", x, out, False, p, 2, 2, None)


def softplus_backward(grad, y, double beta=1.0, double threshold=20.0, out=None):
    """softplus_backward(grad, y, beta=1.0, threshold=20.0, out=None)"""
    cdef double p[2]
    if beta == 0:
        raise ValueError("softplus_backward: beta must not be 0 (softplus divides by beta)")
    p[0] = beta; p[1] = threshold
    return binary(K_SOFTPLUS_GRAD, "softplus_backward", grad, y, "y", out, p, 2, 2, None)


def silu(x, out=None):
    """silu(x, out=None)"""
    return forward(K_SILU, "silu", x, out, False, NULL, 0, 0, None)


def silu_backward(grad, x, out=None):
    """silu_backward(grad, x, out=None)"""
    return binary(K_SILU_GRAD, "silu_backward", grad, x, "x", out, NULL, 0, 0, None)


cdef double gelu_mode(str fname, object approximate) except -1:
    if approximate == "none":
        return 0.0
    if approximate == "tanh":
        return 1.0
    raise ValueError(f"{fname}: approximate must be 'none' or 'tanh', got {approximate!r}")


def gelu(x, approximate="none", out=None):
    """gelu(x, approximate="none", out=None)"""
    cdef double p[1]
    p[0] = gelu_mode("gelu", approximate)
    return forward(K_GELU, "gelu", x, out, False, p, -1, 1, approximate)


def gelu_backward(grad, x, approximate="none", out=None):
    """gelu_backward(grad, x, approximate="none", out=None)"""
    cdef double p[1]
    p[0] = gelu_mode("gelu_backward", approximate)
    return binary(K_GELU_GRAD, "gelu_backward", grad, x, "x", out, p, -1, 1, approximate)


# --------------------------------------------------------------------------------------
# Dispatcher controls, wrapped with documentation in relukit/dispatch.py
# --------------------------------------------------------------------------------------
def _set_global_override(int backend, int source):
    global _global_override, _global_override_source
    _global_override = backend
    _global_override_source = source


def _get_global_override():
    return _global_override, _global_override_source


def _ctx_enter(int backend):
    global _ctx_depth
    token = _ctx_backend.set(backend)
    _ctx_depth += 1
    return token


def _ctx_exit(token):
    global _ctx_depth
    _ctx_backend.reset(token)
    _ctx_depth -= 1


def _current_override():
    cdef int from_ctx
    cdef int ov = current_override(&from_ctx)
    return ov, ("use_backend() context" if from_ctx else
                ("RELUKIT_BACKEND environment variable" if _global_override_source else "set_backend() call"))


def _bind(str function, str kernel, str op_class, bint streams):
    """Bind public ``function`` to the compiled kernel named ``kernel``, with the op table's
    dispatch class and streaming permission (relukit/ops.py calls this for every entry). A
    kernel shared by several ops must be bound the same way by each."""
    if kernel not in KERNEL_NAMES:
        raise ValueError(f"op table: {function} names kernel {kernel!r}, which is not compiled; "
                         f"compiled kernels: {KERNEL_NAMES}")
    if op_class not in ("memory-bound", "compute-bound"):
        raise ValueError(f"op table: {function}: op_class must be 'memory-bound' or "
                         f"'compute-bound', got {op_class!r}")
    cdef int kid = KERNEL_NAMES.index(kernel)
    cdef int cls = CLASS_NAMES.index(op_class)
    if KERNELS[kid].op_class >= 0 and (KERNELS[kid].op_class != cls or STREAMABLE[kid] != streams):
        raise ValueError(f"op table: kernel {kernel!r} is bound twice with different "
                         f"classes or streaming ({function})")
    KERNELS[kid].op_class = cls
    STREAMABLE[kid] = streams
    FUNCTION_KERNELS[function] = kid


def _unbound_kernels():
    """Compiled kernels no op table entry uses (the tests require none)."""
    return [KERNEL_NAMES[k] for k in range(NKERNELS) if KERNELS[k].op_class < 0]


def _kernel_binding(str kernel):
    """(class name, streams) of a compiled kernel, as the op table bound it."""
    cdef int kid = KERNEL_NAMES.index(kernel)
    cls = KERNELS[kid].op_class
    return (CLASS_NAMES[cls] if cls >= 0 else None), bool(STREAMABLE[kid])


def _set_threshold(int op_class, int is_double, Py_ssize_t n):
    _threshold[op_class][is_double] = n


def _get_threshold(int op_class, int is_double):
    return _threshold[op_class][is_double]


def _set_num_threads(int n):
    global _num_threads
    _num_threads = n


def _get_num_threads_setting():
    return _num_threads


def _set_numba_installed(bint v):
    global _numba_installed
    _numba_installed = v


def _numba_status():
    return _numba_state


def _load_numba():
    return load_numba() is not None


_C_ORDER_ONLY = frozenset(("prelu", "prelu_backward", "crelu", "crelu_backward", "brelu",
                           "brelu_backward"))


def _decide(str function, x, out=None, bint masks=False):
    """Return (backend name, reason template, flat, op class index) for a call."""
    cdef int kid = FUNCTION_KERNELS[function]
    cdef cnp.ndarray a = as_input(function, "x", x)
    cdef cnp.ndarray y
    cdef int reason
    if out is None:
        y = a
    else:
        check_out(function, a, out, "x")
        y = <cnp.ndarray>out
    # the composite ops' fused kernels take C order only
    cdef bint flat = is_flat(a, None, y, masks or function in _C_ORDER_ONLY)
    cdef int backend = decide(kid, a, None, y, masks, flat, &reason)
    return BACKEND_NAMES[backend], REASONS[reason], flat, op_class(kid, masks)
