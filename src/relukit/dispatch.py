"""Which backend computes a call, and how users see and override that choice.

The decision itself is compiled (``_core.decide``) so that it costs a few comparisons on
the hot path; this module holds the user-facing controls and the measured thresholds.

Decision order, first match wins:

1. dtype: only native-byte-order float32 and float64 have compiled kernels; anything else
   (float16, integers, byte-swapped) is computed by the NumPy reference.
2. override: ``use_backend()`` context (per thread/async task) > ``set_backend()`` >
   the ``RELUKIT_BACKEND`` environment variable read at import.
3. layout: the Numba kernels take same-order contiguous aligned arrays (C order when a
   mask is read or written); any other layout goes to the Cython strided driver.
4. size: n at or above the threshold of the op's class and dtype -> Numba (parallel),
   otherwise Cython (one thread, no launch cost); unless the machine is busy (1-minute
   load average above the core count - 0.5; RELUKIT_BUSY_CHECK=0 turns this off), where a
   parallel launch waits for cores and one Cython thread is faster. The thresholds are the built-in ones
   below, or those ``python -m relukit tune`` measured on this machine and saved
   (``relukit.tune.config_path()``).
"""
import contextlib
import importlib.util
import os
import warnings

from . import _core, _isa

BACKENDS = _core.BACKEND_NAMES          # ("numpy", "cython", "numba")
_NUMBA_INSTALLED = importlib.util.find_spec("numba") is not None

# Thresholds (elements) at or above which the parallel Numba kernel replaces the
# single-threaded Cython one, per op class and dtype. Measured on the 2-core AMD EPYC
# (AVX-512) development machine, Numba 0.68 with its OpenMP layer, 2 threads: best of 9
# interleaved runs, Cython time / Numba time (> 1: Numba faster):
#
#   relu in place        2^15  2^16  2^17  2^18  2^19  2^20  2^21  2^22  2^23  2^24
#     float32            0.58  0.88  1.08  1.47  1.55  1.72  1.90  3.00  1.86  1.35
#     float64            1.02  0.85  0.85  2.02  1.32  2.06  1.99  0.95  1.15  1.17
#   relu + mask float32  0.10  0.11  0.12  0.11  0.10  0.11  0.24  0.21  0.26  0.20
#   relu_backward f32    0.25  0.29  0.37  0.38  0.37  0.44  0.66  0.98  0.90  0.49
#
# Those figures are for calls back to back, with Numba's OpenMP workers still spinning.
# Between calls that do other work the workers go to sleep, and waking them costs more
# than a memory-bound kernel at 10**6: relu6 in place at n = 10**6 float32, Numba, after
# 0.2 ms idle 52-55 us, after 2 ms 89-163 us, after 20 ms 330-1,333 us (one Cython thread:
# 62-98 us, whatever came before). In the benchmark's interleaved runs the automatic
# column (Numba from 2^17 then) ran at 124-332 us against 52-109 us for forced Numba at
# 10**6 (the likely reason: the automatic call follows NumPy's few hundred us, the forced
# one the short Cython call, so only the latter finds the workers awake). So memory-bound
# ops switched only where the data no longer fit in the caches there (2^22 float32, 2^21
# float64: 16 MiB, where one call is ~2 ms and a wake-up is noise).
#
# On the 2-core Xeon VM (Emerald Rapids, 2 MiB of L2 per core) one thread does not reach
# the memory's bandwidth from about 4 MiB of data on: `np.copy` of 10**6 float64 takes
# 620 us (26 GB/s moved) where two threads move twice that. Four runs of `python -m
# relukit tune` (2 ms idle before each call) put the memory-bound crossover at 2^19-2^20
# (float32; Cython / Numba at 2^19 0.94-1.05, at 2^20 1.19-1.49) and 2^18-2^19 (float64;
# at 2^19 1.12-1.30), and the benchmark's interleaved runs (contenders in random order,
# forced Cython / forced Numba, us) agree above 4 MiB: float64 at 10**6 relu in place 307
# / 210, out of place 628 / 347, relu6 327 / 263 and 691 / 372, leaky_relu 332 / 315 and
# 652 / 426, prelu out of place 921 / 560, crelu 1,030 / 689, brelu 4,500 / 3,080; float32
# at 2 * 10**6 the same way (relu 318 / 221 and 653 / 342). Only prelu in place and its
# backward lose a little there (float64 10**6: 317 / 340 us, 1.12 / 1.31 ms), and
# leaky_relu in place at 2 * 10**6 float32 (343 / 363). The memory-bound class now switches
# at 4 MiB of data (2^20 float32, 2^19 float64), on both machines above one core's L2.
#
# Compute-bound ops switch at 2^16 (float32) and 2^15 (float64), what `python -m relukit
# tune` (2 ms idle before each call) chose on the AMD machine (on the Xeon: 2^16-2^18 and
# 2^15-2^17 in four runs):
#
#   compute-bound        2^12  2^13  2^14  2^15  2^16  2^17  2^18  2^20  2^24
#     float32            0.32  0.74  0.55  0.76  1.19  1.66  1.91  2.05  2.65
#     float64            0.46  0.58  0.88  1.02  1.20  1.25  1.46  1.37  2.09
#
# and the benchmark agrees (contenders in random order, forced Cython / forced Numba, us):
# float32 at 2^16 Numba wins every smooth op, elu forward 68 / 37, silu 46 / 25, gelu 85 /
# 49, gelu' 114 / 55, elu' 22 / 18 (at 2^15 elu' still loses, 11 / 13); float64 at 2^15
# silu 56 / 46, gelu 351 / 266, softplus' 64 / 52, except elu' 7 / 13, a light kernel. The
# former 2^17 left every float32 smooth cell at 10^5 on one thread, at 0.30-0.86x
# PyTorch, which goes parallel from 32,768 elements. A program that calls a compute-bound
# op on 2^16-2^17 elements only every few tens of ms pays the wake-up instead (up to ~1 ms
# here); `set_threshold` or the tuned file moves the switch. On the 2-core Xeon VM the
# wake-up after ~20 ms idle is worse, 7.0-7.8 ms (elu through Numba at 2^16 and at 10**6
# float32 alike, against 20 us / 264 us back to back and 32-83 us / 305-373 us after 2 ms;
# PyTorch's pool and a C loop with GNU OpenMP the same there); OMP_WAIT_POLICY=passive cut
# it to 0.25-1.4 ms but cost 70-120 us per call back to back. relukit does not set it
# (it applies to every GNU OpenMP user of the process); the README says when a program
# may want to. The Numba mask kernels lose at every size (their bit packing and
# expansion do not vectorise; the Cython ones use SIMD intrinsics), so the mask class
# never switches automatically: forcing the numba backend still runs them, and
# `set_threshold("mask", ...)` can change this. `python -m relukit tune` measures the
# crossovers on the user's machine, each call after an idle gap (2 ms by default).
NEVER = 2**62
DEFAULT_THRESHOLDS = {
    # class: (float32, float64)
    "memory-bound": (1_048_576, 524_288),
    "mask": (NEVER, NEVER),
    "compute-bound": (65_536, 32_768),
}


def _class_index(name):
    try:
        return _core.CLASS_NAMES.index(name)
    except ValueError:
        raise ValueError(f"unknown op class {name!r}; known: {_core.CLASS_NAMES}") from None


def set_threshold(op_class, dtype, n):
    """Set the size (elements) at which ``op_class`` ops of ``dtype`` switch to Numba."""
    import numpy as np
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"thresholds exist for float32 and float64 only, not {dt}")
    n = int(n)
    if n < 0:
        raise ValueError(f"threshold must be >= 0, got {n}")
    _core._set_threshold(_class_index(op_class), dt == np.float64, n)


def thresholds():
    """The thresholds in force: ``{op_class: {"float32": n, "float64": n}}``."""
    return {name: {"float32": _core._get_threshold(i, 0), "float64": _core._get_threshold(i, 1)}
            for i, name in enumerate(_core.CLASS_NAMES)}


def backends():
    """The backends this installation can run, in order of preference for small arrays."""
    return ["numpy", "cython"] + (["numba"] if _NUMBA_INSTALLED and _core._numba_status() >= 0 else [])


def _backend_code(name, allow_none=True):
    if name is None and allow_none:
        return -1
    if not isinstance(name, str):
        raise TypeError(f"backend must be a string or None, got {type(name).__name__}")
    key = name.strip().lower()
    if key in ("", "auto"):
        return -1
    if key not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {list(BACKENDS)} or None for automatic")
    if key == "numba" and not _NUMBA_INSTALLED:
        raise ValueError("backend 'numba' is not available: numba is not installed")
    return BACKENDS.index(key)


def set_backend(name):
    """Force every relukit call in this process to use backend ``name``.

    ``None`` (or ``"auto"``) restores automatic dispatch. A forced backend that cannot
    take a call (a dtype with no compiled kernel; a layout Numba does not take) is
    replaced for that call only, as :func:`explain` shows.
    """
    _core._set_global_override(_backend_code(name), 0)


def get_backend():
    """The backend forced in this context, or None when dispatch is automatic."""
    code, _ = _core._current_override()
    return None if code < 0 else BACKENDS[code]


@contextlib.contextmanager
def use_backend(name):
    """Context manager: force backend ``name`` (None = automatic) inside the block.

    The setting is local to the current thread (and asyncio task), like
    ``decimal.localcontext``; it takes precedence over :func:`set_backend`.
    """
    token = _core._ctx_enter(_backend_code(name))
    try:
        yield
    finally:
        _core._ctx_exit(token)


def set_num_threads(n):
    """Threads used by the parallel Numba backend (``None`` or 0: all cores)."""
    if n is None:
        n = 0
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"number of threads must be an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"number of threads must be >= 1 (or 0 for all cores), got {n}")
    if n > _max_threads():
        raise ValueError(f"number of threads {n} exceeds the {_max_threads()} the parallel "
                         "backend can start (NUMBA_NUM_THREADS, default: the CPU count)")
    _core._set_num_threads(n)


def _max_threads():
    # Numba's own upper bound, known without importing numba: NUMBA_NUM_THREADS if set,
    # else the CPU count (numba.config's default).
    if _core._numba_status() == 1:
        import numba
        return numba.config.NUMBA_NUM_THREADS
    env = os.environ.get("NUMBA_NUM_THREADS", "")
    return int(env) if env.strip().isdigit() and int(env) > 0 else (os.cpu_count() or 1)


def get_num_threads():
    """Threads the parallel backend will use."""
    return _core._get_num_threads_setting() or _max_threads()


def explain(op, x, out=None, return_mask=False):
    """Say which backend ``op(x, out=out, return_mask=return_mask)`` would use, and why.

    Nothing is computed. ``op`` is a public function name (``"relu"``, ``"relu_backward"``,
    ...); for a backward, ``x`` stands for ``grad``.
    """
    import numpy as np
    from .ops import OPS
    if op not in _core.FUNCTION_KERNELS:
        known = sorted(_core.FUNCTION_KERNELS)
        raise ValueError(f"unknown op {op!r}; known: {known}")
    base = OPS.get(op[:-len("_backward")]) if op.endswith("_backward") else None
    masks = bool(return_mask) or (base is not None and base.backward_needs == "mask")
    a = np.asarray(x)
    backend, reason, flat, cls = _core._decide(op, a, out, masks)
    code, source = _core._current_override()
    dt = a.dtype
    is_double = dt == np.float64
    thr = _core._get_threshold(cls, bool(is_double))
    layout = ("C-contiguous" if a.flags.c_contiguous else
              "F-contiguous" if a.flags.f_contiguous else "strided")
    lines = [
        f"{op}: backend {backend}",
        "  " + reason.format(n=a.size, thr=thr, dtype=dt, cls=_core.CLASS_NAMES[cls], source=source),
        f"  input: shape {a.shape}, dtype {dt}, {layout}, n = {a.size}",
        f"  threshold ({_core.CLASS_NAMES[cls]}, {'float64' if is_double else 'float32'}): {thr} elements",
        f"  override: {'none (automatic)' if code < 0 else BACKENDS[code] + ' from ' + source}",
    ]
    base_op = OPS.get(op) or base
    if base_op is not None and base_op.kind == "composite":
        lines.append(f"  {base_op.name} is composite: on C-ordered arrays (x, and grad for the "
                     "backward) it runs in one fused pass on the backend above; other layouts run "
                     "on cython, one kernel pass at a time (prelu_backward: on C-ordered copies)")
    if (backend == "cython" and flat and out is not x and a.size
            and _core._streams(op, a.size * dt.itemsize)):
        lines.append(f"  out of place and at least {stream_min_bytes() / 2**20:g} MiB: the output "
                     "is written with streaming stores")
    if backend == "numba":
        lines.append(f"  threads: {get_num_threads()}; if another thread is running a parallel "
                     "kernel at that moment, this call runs the Cython kernel instead")
    return "\n".join(lines)


def last_level_cache_bytes():
    """Size of the largest CPU cache the operating system reports for CPU 0 (Linux sysfs),
    or None where it reports none. (glibc's sysconf can report the host's cache inside a
    virtual machine, ten times what the guest sees: sysfs is what this machine has.)"""
    base = "/sys/devices/system/cpu/cpu0/cache"
    best = None
    try:
        for entry in os.listdir(base):
            if entry.startswith("index"):
                with open(os.path.join(base, entry, "size")) as f:
                    text = f.read().strip().upper()
                scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
                size = int(text.rstrip("KMG")) * scale
                best = size if best is None else max(best, size)
    except (OSError, ValueError):
        return None
    return best


# Streaming stores pay where x and y together no longer fit in the last-level cache.
STREAM_MIN_DEFAULT = 16 << 20           # bytes of output, where the cache size is unknown


def stream_min_bytes():
    """Out-of-place outputs of at least this many bytes use streaming stores."""
    llc = last_level_cache_bytes()
    return max(4 << 20, llc // 2) if llc else STREAM_MIN_DEFAULT


def _configure_from_environment():
    _core._set_stream_min(stream_min_bytes())
    for name, (t32, t64) in DEFAULT_THRESHOLDS.items():
        i = _class_index(name)
        _core._set_threshold(i, 0, t32)
        _core._set_threshold(i, 1, t64)
    from .tune import load_thresholds       # thresholds measured by `python -m relukit tune`
    for name, per in (load_thresholds() or {}).items():
        if name in _core.CLASS_NAMES:
            i = _class_index(name)
            _core._set_threshold(i, 0, per["float32"])
            _core._set_threshold(i, 1, per["float64"])
    _core._set_numba_installed(_NUMBA_INSTALLED)
    env = os.environ.get("RELUKIT_BACKEND")
    if env:
        try:
            _core._set_global_override(_backend_code(env), 1)
        except (ValueError, TypeError) as exc:
            warnings.warn(f"relukit: ignoring RELUKIT_BACKEND={env!r}: {exc}", RuntimeWarning, stacklevel=3)
    if os.environ.get("RELUKIT_BUSY_CHECK", "").strip() == "0":
        _core._set_busy_mode(0)         # always use the parallel backend above the thresholds
    env = os.environ.get("RELUKIT_NUM_THREADS")
    if env:
        try:
            set_num_threads(int(env))
        except (ValueError, TypeError) as exc:
            warnings.warn(f"relukit: ignoring RELUKIT_NUM_THREADS={env!r}: {exc}", RuntimeWarning, stacklevel=3)


def show_config(file=None):
    """Print how this installation of relukit is built and how it will dispatch."""
    import sys
    import numpy as np
    from . import __version__
    out = file or sys.stdout
    lines = [
        f"relukit {__version__}",
        f"  instruction set: {_isa.LEVEL} ({_isa.REASON}; built: {', '.join(_isa.built_levels())}; "
        f"this CPU runs: {', '.join(_isa.runnable_levels())})",
        f"  compiled for: {_core.SIMD_LEVEL} (flags: {_core.BUILD_FLAGS})",
        f"  numpy {np.__version__}",
        f"  backends: {', '.join(backends())}",
        f"  forced backend: {get_backend() or 'none (automatic dispatch)'}",
    ]
    if _NUMBA_INSTALLED:
        import numba
        from . import _numba_backend
        _core._load_numba()
        layer = _numba_backend.threading_layer() or (
            f"not chosen yet (first parallel launch; NUMBA_THREADING_LAYER="
            f"{numba.config.THREADING_LAYER})")
        lines += [
            f"  numba {numba.__version__}: threading layer {layer}, "
            f"{get_num_threads()} threads (max {_max_threads()})",
            f"  numba vectors: {_numba_backend.VECTOR_WIDTH}",
            f"  numba cache: {numba.config.CACHE_DIR or 'next to relukit/_numba_backend.py (__pycache__)'}",
        ]
    else:
        lines.append("  numba: not installed")
    llc = last_level_cache_bytes()
    lines.append(f"  streaming stores: out-of-place outputs from {stream_min_bytes() / 2**20:g} MiB "
                 f"(last-level cache: {f'{llc / 2**20:g} MiB' if llc else 'unknown'})")
    lines.append("  thresholds (elements at which numba takes over):")
    for cls, per in thresholds().items():
        shown = ", ".join(f"{dt} {'never' if n >= NEVER else f'{n:,}'}" for dt, n in per.items())
        lines.append(f"    {cls}: {shown}")
    print("\n".join(lines), file=out)
