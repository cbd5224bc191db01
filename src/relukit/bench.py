"""``python -m relukit bench``: relukit against NumPy (and PyTorch / numexpr when installed).

Every op in :data:`relukit.MASKED` is measured in four variants:

``forward in place``
    relukit ``op.forward(x, out=x)`` against the op's NumPy idiom ``op.numpy_forward(x)``
    (for relu ``np.maximum(x, 0, out=x)``).
``forward out of place``
    relukit ``op.forward(x)`` against NumPy's out-of-place idiom (:data:`NUMPY_OUT_OF_PLACE`,
    ``np.maximum(x, 0)`` for relu; ops without an entry there use ``op.ref_forward``).
``forward + mask``
    (ops whose backward needs a mask) relukit ``op.forward(x, out=x, return_mask=True)``,
    which writes a bit-packed mask in the same pass, against NumPy saving a bool mask and then
    rectifying in place: ``m = op.numpy_saved(x); op.numpy_forward(x)``.
``backward``
    relukit ``op.backward(g, saved, out=g)`` against ``op.numpy_backward(g, numpy_saved)``
    (for relu ``np.multiply(g, m, out=g)`` with the bool mask ``m``).

Columns: NumPy, relukit (automatic dispatch), the speed-up NumPy time / relukit time, the
backend automatic dispatch chose, relukit forced to each compiled backend (``use_backend``),
and PyTorch / numexpr peers when they are importable. A bandwidth table compares relukit's
in-place forward with ``np.negative(x, out=x)``, a one-read-one-write pass over the same
memory (2 * x.nbytes moved per call).

Timing method (:func:`measure`): the contenders of one cell (op, variant, n, dtype) are
timed round-robin, the order rotating from one repeat to the next, the garbage collector off.
A sample is k calls of one contender, k calibrated per contender so that a sample takes about
2 ms (1 ms with ``--quick``), except from n = 10**6 on, where k = 1. The table shows the
median over the repeats ("reps") of sample time / k. Inputs are standard normal (half
negative), so a kernel with a data-dependent branch pays for its mispredictions.

Whatever mutates its input gets it back from a pristine copy (``np.copyto``, never inside
the timed region):

* input "fresh": from n = 10**6 on, or when every contender's call takes at least 10 us,
  each call is timed on its own right after a restore, so every timed call sees the
  original data (a timer read per call costs < 1 % at that length; nothing is subtracted);
* input "reused": shorter calls are timed k back-to-back after one restore, so calls 2..k
  of an in-place op see its own output (for relu: no negatives left). That flatters kernels
  whose speed depends on the data, and the table says so in its "input" column.

Before timing, each contender's result is checked against ``relukit.reference``; a wrong
relukit result is flagged with ``!`` (and the exit status is 1), a peer that fails is
dropped with a note.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import importlib.metadata
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import relukit

VARIANTS = ("forward in place", "forward out of place", "forward + mask", "backward")
VARIANT_KEYS = {"inplace": "forward in place", "oop": "forward out of place",
                "mask": "forward + mask", "backward": "backward"}

DEFAULT_SIZES = (10**3, 10**4, 10**5, 10**6, 10**7)
QUICK_SIZES = (10**3, 10**5, 10**6, 10**7)
QUICK_EXTRA = ((10**6, "float64"),)      # --quick: float32 at QUICK_SIZES plus these
BIG_SIZE = 10**8
LARGE_N = 10**6                          # from here on: k = 1, input restored before every call
OVERHEAD_SIZES = (10, 1000)

# NumPy's honest out-of-place idiom per op (what a NumPy user writes when the input must be
# kept): (function, how it reads). Ops missing here are timed with ``op.ref_forward``.
NUMPY_OUT_OF_PLACE: dict[str, tuple] = {
    "relu": (lambda x: np.maximum(x, 0), "np.maximum(x, 0)"),
}

# numexpr peer: expressions over the local names x (input), m (bool mask), g (gradient).
NUMEXPR_EXPRESSIONS = {
    "relu": {"forward": "where(x > 0, x, 0)", "saved": "x > 0", "backward": "where(m, g, 0)"},
}


def _torch_idioms(torch):
    # PyTorch peer, on tensors sharing memory with the NumPy arrays (torch.from_numpy).
    return {
        "relu": {"forward_": torch.relu_, "forward": torch.relu,
                 "saved": lambda t: t > 0, "backward_": lambda g, m: g.mul_(m)},
    }


def _torch_calls(torch, op, x, g, saved):
    """{variant: zero-argument call} for PyTorch on tensors sharing memory with x, g, saved."""
    idiom = _torch_idioms(torch).get(op.name) if torch is not None else None
    if idiom is None:
        return None
    t, tg = torch.from_numpy(x), torch.from_numpy(g)
    fwd_, fwd, keep, bwd_ = idiom["forward_"], idiom["forward"], idiom["saved"], idiom["backward_"]

    def mask_forward():
        m = keep(t)
        fwd_(t)
        return m
    calls = {"forward in place": lambda: fwd_(t), "forward out of place": lambda: fwd(t),
             "forward + mask": mask_forward}
    if saved.dtype == bool:
        tm = torch.from_numpy(saved)
        calls["backward"] = lambda: bwd_(tg, tm)
    return calls


def _numexpr_calls(ne, op, x, g, saved):
    """{variant: zero-argument call} for numexpr on x, g and the bool mask ``saved``."""
    expr = NUMEXPR_EXPRESSIONS.get(op.name) if ne is not None else None
    if expr is None:
        return None
    evaluate = ne.evaluate
    fwd, keep, bwd = expr["forward"], expr["saved"], expr["backward"]
    dx = {"x": x}

    def mask_forward():
        m = evaluate(keep, local_dict=dx)
        evaluate(fwd, local_dict=dx, out=x)
        return m
    calls = {"forward in place": lambda: evaluate(fwd, local_dict=dx, out=x),
             "forward out of place": lambda: evaluate(fwd, local_dict=dx),
             "forward + mask": mask_forward}
    if saved.dtype == bool:
        dg = {"g": g, "m": saved}
        calls["backward"] = lambda: evaluate(bwd, local_dict=dg, out=g)
    return calls


def _to_numpy(r):
    return r.numpy() if hasattr(r, "numpy") else np.asarray(r)


# --------------------------------------------------------------------------------------
# Contenders and cells
# --------------------------------------------------------------------------------------
@dataclass
class Contender:
    """One implementation in a cell: ``call()`` does one call; ``restore()`` (if any) resets
    the arrays it mutates; ``check(result)`` raises AssertionError on a wrong result."""
    name: str                     # column: numpy, relukit, cython, numba, torch, numexpr, np.negative
    call: Callable[[], object]
    restore: Callable[[], object] | None = None
    check: Callable[[object], None] | None = None
    backend: str | None = None    # relukit backend forced with use_backend() around the calls
    kind: str = "relukit"         # relukit | numpy | peer | reference
    bytes_moved: int = 0

    def context(self):
        return relukit.use_backend(self.backend) if self.backend else contextlib.nullcontext()

    def run_checked(self):
        """Restore, call once (inside the backend context) and check the result."""
        if self.restore is not None:
            self.restore()
        with self.context():
            result = self.call()
        if self.check is not None:
            self.check(result)
        return result


@dataclass
class Cell:
    op: str
    variant: str
    n: int
    dtype: str
    contenders: list
    notes: list = field(default_factory=list)
    auto_backend: str = "?"
    fresh: bool = True            # set by measure(): every timed call saw the pristine input


class Inputs:
    """Pristine, read-only inputs for one (n, dtype): x0 (forward input) and g0 (gradient)."""

    def __init__(self, n, dtype, seed=0):
        rng = np.random.default_rng(seed)
        dt = np.dtype(dtype)
        if dt in (np.float32, np.float64):
            self.x0 = rng.standard_normal(n, dtype=dt)
            self.g0 = rng.standard_normal(n, dtype=dt)
        else:
            self.x0 = rng.standard_normal(n).astype(dt)
            self.g0 = rng.standard_normal(n).astype(dt)
        self.x0.flags.writeable = False
        self.g0.flags.writeable = False
        self.n = n
        self.dtype = dt


def load_peers(enabled=True):
    """The optional peers that import: {"torch": module, "numexpr": module}."""
    peers = {}
    if not enabled:
        return peers
    for name in ("torch", "numexpr"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                peers[name] = __import__(name)
        except Exception:        # absent, or broken install: the column is left out
            pass
    return peers


def relukit_saved(op, x0):
    """What relukit's backward of ``op`` takes for input ``x0``, as the op table says."""
    y, mask = op.ref_forward(x0, return_mask=True, **op.params)
    return {"mask": mask, "output": y, "input": x0}[op.backward_needs]


def _exact_checker(op, expected, what, max_ulp=None):
    """Bit-exact comparison (or within the op's ``max_ulp`` for float results)."""
    max_ulp = op.max_ulp if max_ulp is None else max_ulp

    def check(actual):
        actual = np.asarray(actual)
        if actual.shape != expected.shape or actual.dtype != expected.dtype:
            raise AssertionError(f"{what}: got {actual.dtype}{actual.shape}, expected "
                                 f"{expected.dtype}{expected.shape}")
        if max_ulp and expected.dtype.kind == "f":
            np.testing.assert_array_max_ulp(actual, expected, maxulp=max_ulp)
        elif not np.array_equal(actual, expected, equal_nan=True):
            bad = int(np.count_nonzero(~((actual == expected) | (np.isnan(actual) & np.isnan(expected)))))
            raise AssertionError(f"{what}: {bad} of {actual.size} elements differ from the NumPy reference")
    return check


def _close_checker(expected, what):
    rtol = 1e-5 if expected.dtype.itemsize <= 4 else 1e-12

    def check(actual):
        actual = np.asarray(actual)
        if actual.shape != expected.shape or not np.allclose(actual, expected, rtol=rtol, atol=0, equal_nan=True):
            raise AssertionError(f"{what}: result differs from the NumPy reference")
    return check


def _backend_runs(explain_text):
    try:
        return explain_text.splitlines()[0].split("backend ", 1)[1].strip()
    except (IndexError, AttributeError):
        return "?"


def which_backend(op, variant, x, g=None, saved=None, forced=None):
    """The backend relukit runs for this call (automatic, or with ``forced`` in force)."""
    with (relukit.use_backend(forced) if forced else contextlib.nullcontext()):
        try:
            if variant == "backward":
                return _backend_runs(relukit.explain(op.backward.__name__, g, out=g))
            if variant == "forward out of place":
                return _backend_runs(relukit.explain(op.name, x))
            return _backend_runs(relukit.explain(op.name, x, out=x, return_mask=variant == "forward + mask"))
        except Exception:
            return "?"


def build_cell(op, variant, inputs, *, backends=True, peers=None, bandwidth=False):
    """The contenders of one cell, sharing work buffers restored from ``inputs``.

    ``backends``: add relukit forced to each compiled backend; ``peers``: the dict from
    :func:`load_peers`; ``bandwidth``: add the ``np.negative`` bandwidth reference (in place
    on the mutated buffer for in-place variants, allocating for out of place).
    """
    peers = peers or {}
    n, dt = inputs.n, inputs.dtype
    x0, g0 = inputs.x0, inputs.g0
    P = op.params
    cell = Cell(op.name, variant, n, dt.name, [])
    nbytes = x0.nbytes
    x = x0.copy()
    g = g0.copy()

    def restore_x():
        np.copyto(x, x0)

    def restore_g():
        np.copyto(g, g0)

    # The timed relukit calls bind the op's parameters up front: a call spelled
    # f(x, out=x, **P) costs ~200 ns more than f(x, out=x) even when P is empty, which at
    # n = 10**3 would be more than the kernel itself.
    rk_forward = functools.partial(op.forward, **P) if P else op.forward
    rk_backward = functools.partial(op.backward, **P) if P else op.backward
    y_ref, mask_ref = op.ref_forward(x0, return_mask=True, **P)
    rk_saved = relukit_saved(op, x0)
    C = Contender

    # The op's NumPy idioms; where the op table has none, its NumPy reference stands in.
    np_forward, np_saved_of, np_backward = op.numpy_forward, op.numpy_saved, op.numpy_backward
    if np_forward is None:
        np_forward = lambda a: op.ref_forward(a, out=a, **P)                   # noqa: E731
        if variant != "backward":
            cell.notes.append("NumPy column: the op has no numpy_forward; its NumPy reference is timed")
    if np_saved_of is None or np_backward is None:
        # no NumPy idiom for what is saved / the backward: use relukit's saved data + reference
        np_saved_of = lambda a: relukit_saved(op, a)                          # noqa: E731
        np_backward = lambda gr, sv: op.ref_backward(gr, sv, out=gr, **P)     # noqa: E731
        if variant in ("backward", "forward + mask"):
            cell.notes.append("NumPy column: the op has no numpy_saved/numpy_backward; its NumPy "
                              "reference is timed")
    np_saved = np_saved_of(x0)

    def add_relukit(make):
        """make(forced_backend) -> Contender for automatic dispatch and each forced backend."""
        cell.contenders.append(make(None))
        if not backends:
            return
        for b in ("cython", "numba"):
            if b not in relukit.backends():
                continue
            runs = which_backend(op, variant, x, g, rk_saved, forced=b)
            if runs != b:
                cell.notes.append(f"{b} column: this call cannot run on {b} (it runs {runs})")
                continue
            cell.contenders.append(make(b))

    if variant == "forward in place":
        bm = 2 * nbytes
        x_ok = _exact_checker(op, y_ref, f"{op.name}(x, out=x)")
        x_close = _close_checker(y_ref, f"{op.name} in place")
        cell.contenders.append(C("numpy", lambda: np_forward(x), restore_x,
                                 lambda r: x_close(x), kind="numpy", bytes_moved=bm))
        add_relukit(lambda b: C(b or "relukit", lambda: rk_forward(x, out=x), restore_x,
                                lambda r: x_ok(x), backend=b, bytes_moved=bm))
        peer_spec = (restore_x, lambda r: x_close(x), bm)

    elif variant == "forward out of place":
        bm = 2 * nbytes
        y_ok = _exact_checker(op, y_ref, f"{op.name}(x)")
        y_close = _close_checker(y_ref, f"{op.name} out of place")
        np_oop = NUMPY_OUT_OF_PLACE.get(op.name, (None,))[0]
        if np_oop is None:
            np_oop = lambda a: op.ref_forward(a, **P)    # noqa: E731
            cell.notes.append("NumPy column: no out-of-place idiom registered; the NumPy reference is timed")
        cell.contenders.append(C("numpy", lambda: np_oop(x), None, y_close, kind="numpy", bytes_moved=bm))
        add_relukit(lambda b: C(b or "relukit", lambda: rk_forward(x), None, y_ok,
                                backend=b, bytes_moved=bm))
        peer_spec = (None, lambda r: y_close(_to_numpy(r)), bm)

    elif variant == "forward + mask":
        x_ok = _exact_checker(op, y_ref, f"{op.name}(x, out=x, return_mask=True) output")
        m_ok = _exact_checker(op, mask_ref, f"{op.name}(x, out=x, return_mask=True) mask", max_ulp=0)
        x_close = _close_checker(y_ref, f"{op.name} in place")
        bits_ref = relukit.reference.unpack_mask(mask_ref, x0.shape)
        bits_ok = _exact_checker(op, bits_ref, f"{op.name} saved bool mask", max_ulp=0)

        def rk_check(r):
            x_ok(x)
            m_ok(r[1])

        def np_mask_forward():
            m = np_saved_of(x)
            np_forward(x)
            return m

        def peer_check(m):
            x_close(x)
            m = np.asarray(m)
            if m.dtype == bool:                # a bool mask as NumPy users keep it
                bits_ok(m)

        bm_np = 2 * nbytes + x0.size          # read + write x, write a bool per element
        cell.contenders.append(C("numpy", np_mask_forward, restore_x, peer_check, kind="numpy", bytes_moved=bm_np))
        add_relukit(lambda b: C(b or "relukit", lambda: rk_forward(x, out=x, return_mask=True),
                                restore_x, rk_check, backend=b, bytes_moved=2 * nbytes + (x0.size + 7) // 8))
        peer_spec = (restore_x, lambda m: peer_check(_to_numpy(m)), bm_np)

    elif variant == "backward":
        g_ref = op.ref_backward(g0, rk_saved, **P)
        g_ok = _exact_checker(op, g_ref, f"{op.backward.__name__}(g, saved, out=g)")
        g_close = _close_checker(g_ref, f"{op.name} backward in place")
        saved_bytes = np_saved.nbytes
        cell.contenders.append(C("numpy", lambda: np_backward(g, np_saved), restore_g,
                                 lambda r: g_close(g), kind="numpy", bytes_moved=2 * nbytes + saved_bytes))
        add_relukit(lambda b: C(b or "relukit", lambda: rk_backward(g, rk_saved, out=g), restore_g,
                                lambda r: g_ok(g), backend=b, bytes_moved=2 * nbytes + rk_saved.nbytes))
        peer_spec = (restore_g, lambda r: g_close(g), 2 * nbytes + saved_bytes)
    else:
        raise ValueError(f"unknown variant {variant!r}; known: {VARIANTS}")

    # Peers: the same calls on the same buffers, checked like NumPy's idiom.
    for name, calls in (("torch", _torch_calls(peers.get("torch"), op, x, g, np_saved)),
                        ("numexpr", _numexpr_calls(peers.get("numexpr"), op, x, g, np_saved))):
        call = (calls or {}).get(variant)
        if call is not None:
            rest, check, bm_peer = peer_spec
            cell.contenders.append(C(name, call, rest, check, kind="peer", bytes_moved=bm_peer))

    if bandwidth:
        # One read and one write of the array, with the variant's memory pattern.
        if variant == "forward out of place":
            neg_ok = _exact_checker(op, -x0, "np.negative(x)", max_ulp=0)
            cell.contenders.append(C("np.negative", lambda: np.negative(x), None, neg_ok,
                                     kind="reference", bytes_moved=2 * nbytes))
        else:
            buf, buf0, rest = (g, g0, restore_g) if variant == "backward" else (x, x0, restore_x)
            neg_ok = _exact_checker(op, -buf0, "np.negative(a, out=a)", max_ulp=0)
            cell.contenders.append(C("np.negative", lambda: np.negative(buf, out=buf), rest,
                                     lambda r: neg_ok(buf), kind="reference", bytes_moved=2 * nbytes))
    cell.auto_backend = which_backend(op, variant, x, g, rk_saved)
    return cell


def variants_of(op):
    """The variants that apply to ``op`` (``forward + mask`` only where backward needs a mask)."""
    return [v for v in VARIANTS if v != "forward + mask" or op.backward_needs == "mask"]


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------
_clock = time.perf_counter_ns


def _time_block(c, k):
    """Seconds for k back-to-back calls of ``c`` (restore, if any, done before, untimed)."""
    if c.restore is not None:
        c.restore()
    call = c.call
    with c.context():
        t0 = _clock()
        for _ in range(k):
            call()
        t1 = _clock()
    return (t1 - t0) * 1e-9


def _time_fresh(c, k):
    """Seconds for k calls of ``c``, each timed alone after an untimed restore of its input."""
    call, restore = c.call, c.restore
    total = 0
    with c.context():
        for _ in range(k):
            if restore is not None:
                restore()
            t0 = _clock()
            call()
            total += _clock() - t0
    return total * 1e-9


def _time_restore(c):
    if c.restore is None:
        return 0.0
    t0 = _clock()
    c.restore()
    return (_clock() - t0) * 1e-9


@dataclass
class Timing:
    median: float                 # seconds per call
    minimum: float
    k: int                        # calls per sample
    repeats: int                  # samples
    samples: list
    fresh: bool                   # every timed call saw the pristine input
    error: str | None = None


FRESH_MIN_S = 10e-6   # a call this long is timed on its own (timer cost < 1%) on fresh input


def measure(cell, *, repeats=15, min_repeats=5, target_s=2e-3, budget_s=4.0, large_n=LARGE_N,
            fresh_min_s=FRESH_MIN_S):
    """Time the contenders of ``cell`` interleaved; returns {name: Timing} (see module doc).

    Each contender is first run once and checked (this is also its warm-up: a Numba kernel
    compiles or loads here). A relukit contender that fails its check is still timed and
    its Timing carries the error; a peer that fails is dropped (note added to the cell).

    Two ways to take a sample of k calls, chosen per cell:

    * fresh (n >= ``large_n``, where k = 1, or when every contender's single call takes at
      least ``fresh_min_s``): each call is timed on its own right after an untimed restore
      of its input, so every timed call sees the pristine data;
    * block (short calls): the input is restored once, then k back-to-back calls are timed
      together; calls 2..k of an in-place contender see its own output.
    """
    live = []
    first = {}
    for c in cell.contenders:
        err = None
        try:
            t0 = time.perf_counter()
            c.run_checked()
            first[c.name] = time.perf_counter() - t0
        except AssertionError as exc:
            err = str(exc)
        except Exception as exc:          # a peer idiom that does not run here
            if c.kind in ("relukit", "numpy", "reference"):
                raise
            err = f"{type(exc).__name__}: {exc}"
        if err is not None and c.kind == "peer":
            cell.notes.append(f"{c.name} dropped: {err}")
            continue
        if err is not None:
            cell.notes.append(f"{c.name}: WRONG RESULT: {err}")
            first.setdefault(c.name, 0.0)
        live.append((c, err))

    gc_was = gc.isenabled()
    gc.disable()
    try:
        # single-call probe (the checked call above stands in for it at large n)
        if cell.n >= large_n:
            single = {c.name: max(first[c.name], 1e-9) for c, _ in live}
        else:
            single = {c.name: max(min(_time_fresh(c, 1) for _ in range(3)), 1e-9) for c, _ in live}
        fresh = cell.n >= large_n or (bool(live) and min(single.values()) >= fresh_min_s)
        ks = {}
        round_s = 0.0
        for c, _ in live:
            restore_s = _time_restore(c)
            if cell.n >= large_n:
                k = 1
            elif fresh:
                k = max(1, round(target_s / single[c.name]))
            else:
                k = 1                      # grow k until a block is long enough to scale from
                while True:
                    blk = _time_block(c, k)
                    if blk >= target_s / 8 or k >= 1 << 20:
                        break
                    k *= 8 if blk < target_s / 64 else 2
                single[c.name] = max(blk / k, 1e-9)
                k = max(1, min(1 << 22, round(target_s / single[c.name])))
            ks[c.name] = k
            round_s += k * single[c.name] + restore_s * (k if fresh else 1)
        reps = repeats
        if round_s * repeats > budget_s:
            reps = max(min_repeats, int(budget_s / max(round_s, 1e-12)))
        timer = _time_fresh if fresh else _time_block
        samples = {c.name: [] for c, _ in live}
        m = len(live)
        for r in range(reps):
            shift = r % m if m else 0
            for c, _ in live[shift:] + live[:shift]:
                k = ks[c.name]
                samples[c.name].append(timer(c, k) / k)
    finally:
        if gc_was:
            gc.enable()
    cell.fresh = fresh or all(c.restore is None for c, _ in live)
    results = {}
    for c, err in live:
        s = samples[c.name]
        results[c.name] = Timing(statistics.median(s), min(s), ks[c.name], len(s), s,
                                 fresh or c.restore is None, err)
    return results


# --------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------
def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [f for f in ("avx512f", "avx2", "sse4_2", "neon", "asimd") if f in flags]
    except OSError:
        pass
    return []


def _l3_cache():
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for d in sorted(os.listdir(base)):
            p = os.path.join(base, d)
            with open(os.path.join(p, "level")) as fh:
                if fh.read().strip() == "3":
                    with open(os.path.join(p, "size")) as fh2:
                        return fh2.read().strip()
    except OSError:
        pass
    return None


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(peers):
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    env = {
        "cpu": _cpu_model(),
        "processor": platform.processor(),
        "machine": platform.machine(),
        "simd": _cpu_flags(),
        "l3": _l3_cache(),
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": _version("numba"),
        "relukit": relukit.__version__,
        "relukit_threads": relukit.get_num_threads(),
        "relukit_backends": relukit.backends(),
        "thresholds": relukit.thresholds(),
        "forced_backend": relukit.get_backend(),
    }
    if "torch" in peers:
        env["torch"] = peers["torch"].__version__
        env["torch_threads"] = peers["torch"].get_num_threads()
    if "numexpr" in peers:
        ne = peers["numexpr"]
        env["numexpr"] = ne.__version__
        env["numexpr_threads"] = getattr(ne, "nthreads", None) or ne.detect_number_of_cores()
    return env


def warm_up_numba(ops, dtypes):
    """Compile (or load) every Numba kernel the run will use; returns (seconds, warning lines)."""
    if "numba" not in relukit.backends():
        return 0.0, []
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with relukit.use_backend("numba"):
            for dt in dtypes:
                x0 = np.linspace(-1, 1, 64).astype(dt)
                for op in ops:
                    op.forward(x0.copy(), **op.params)
                    op.forward(x0.copy(), return_mask=True, **op.params)
                    op.backward(x0.copy(), relukit_saved(op, x0), **op.params)
    seconds = time.perf_counter() - t0
    texts = [str(w.message) for w in caught]
    uncached = sorted({t.split('"')[1] for t in texts if t.startswith("Cannot cache") and t.count('"') >= 2})
    msgs = []
    if uncached:
        first = next(t for t in texts if t.startswith("Cannot cache"))
        reason = first.split(" as it ", 1)[1] if " as it " in first else first
        msgs.append(f"Numba could not cache {', '.join(uncached)} on disk ({reason}); they are "
                    "JIT-compiled again in every process")
    msgs += sorted({t for t in texts if not t.startswith("Cannot cache")})
    return seconds, msgs


# --------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------
def fmt_time(s):
    if s is None or not math.isfinite(s):
        return "-"
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        v = s * 1e6
        return f"{v:.1f} us" if v < 100 else f"{v:.0f} us"
    if s < 1:
        v = s * 1e3
        return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms"
    return f"{s:.2f} s"


def fmt_n(n):
    e = round(math.log10(n)) if n > 0 else 0
    return f"10^{e}" if 10**e == n else f"{n:,}"


def fmt_threshold(n):
    return "never" if n >= 2**60 else f">= {n:,}"


def fmt_gbs(bytes_moved, s):
    return f"{bytes_moved / s / 1e9:.1f}" if s and s > 0 else "-"


_SHORT = {"forward in place": "fwd in place", "forward out of place": "fwd out of place",
          "forward + mask": "fwd + mask", "backward": "backward"}


def _has_rich():
    try:
        import rich  # noqa: F401
        return True
    except ImportError:
        return False


def render_table(headers, rows, *, right=(), title=None, use_rich=False, out=None):
    """Print an aligned table: plain text, or with rich when ``use_rich``."""
    out = out or sys.stdout
    if use_rich:
        from rich.console import Console
        from rich.table import Table
        t = Table(title=title, show_lines=False, header_style="bold")
        for i, h in enumerate(headers):
            t.add_column(h, justify="right" if i in right else "left", no_wrap=True)
        for r in rows:
            if r is None:
                t.add_section()
            else:
                t.add_row(*[str(v) for v in r])
        Console(file=out, width=max(100, sum(len(h) + 3 for h in headers) + 40)).print(t)
        return
    body = [r for r in rows if r is not None]
    widths = [max([len(h)] + [len(str(r[i])) for r in body]) for i, h in enumerate(headers)]

    def line(vals):
        cells = [str(v).rjust(w) if i in right else str(v).ljust(w)
                 for i, (v, w) in enumerate(zip(vals, widths))]
        return "  ".join(cells).rstrip()
    if title:
        print(title, file=out)
    print(line(headers), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for r in rows:
        if r is None:
            print("", file=out)
        else:
            print(line(r), file=out)


# --------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------
def parse_size(text):
    t = text.strip().replace("_", "").replace(",", "")
    for sep in ("**", "^"):
        if sep in t:
            b, e = t.split(sep, 1)
            return int(b) ** int(e)
    try:
        return int(t)
    except ValueError:
        v = float(t)
        if not v.is_integer() or v < 1:
            raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
        return int(v)


def _parse_size_arg(text):
    try:
        v = parse_size(text)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"not a size (elements): {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"size must be >= 1: {text!r}")
    return v


def _parse_dtype_arg(text):
    try:
        dt = np.dtype(text)
    except TypeError:
        raise argparse.ArgumentTypeError(f"not a NumPy dtype: {text!r}") from None
    if dt.kind != "f":
        raise argparse.ArgumentTypeError(f"dtype must be floating point, got {dt}")
    return dt.name


def add_arguments(p):
    p.add_argument("--quick", action="store_true",
                   help="10^3, 10^5, 10^6, 10^7 float32 plus 10^6 float64, fewer repeats (well under a minute)")
    p.add_argument("--sizes", nargs="+", type=_parse_size_arg, metavar="N",
                   help="array sizes in elements (1e6, 10**6, 10^6 and 1_000_000 are accepted); "
                        "default 10^3 .. 10^7")
    p.add_argument("--dtypes", nargs="+", type=_parse_dtype_arg, metavar="DTYPE",
                   help="float dtypes (default float32 float64)")
    p.add_argument("--big", action="store_true", help="add n = 10^8 (needs ~6 GB of memory for float64)")
    p.add_argument("--ops", nargs="+", metavar="OP", help="ops to run (default: every op in relukit.MASKED)")
    p.add_argument("--variants", nargs="+", choices=sorted(VARIANT_KEYS), metavar="V",
                   help=f"variants to run, of {', '.join(VARIANT_KEYS)} (default: all)")
    p.add_argument("--repeats", type=int, metavar="R",
                   help="timed repeats per contender (default 15, 5 with --quick; fewer for very "
                        "large n so a cell stays within its time budget)")
    p.add_argument("--no-peers", action="store_true", help="leave out PyTorch and numexpr even if installed")
    p.add_argument("--plain", action="store_true", help="plain text table even if rich is installed")
    p.add_argument("--json", metavar="FILE", help="also save all results (every sample) as JSON")
    return p


def plan(args):
    """The (n, dtype) pairs to run, in order."""
    if args.quick and not args.sizes and not args.dtypes:
        pairs = [(n, "float32") for n in QUICK_SIZES] + list(QUICK_EXTRA)
    else:
        sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
        dtypes = args.dtypes or ["float32", "float64"]
        pairs = [(n, d) for n in sizes for d in dtypes]
    if args.big:
        dtypes = args.dtypes or (["float32"] if args.quick else ["float32", "float64"])
        pairs += [(BIG_SIZE, d) for d in dtypes]
    seen, out = set(), []
    for p in sorted(pairs, key=lambda p: (p[0], p[1])):
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _print_header(env, peers, warm_s, warm_msgs, out):
    w = lambda s="": print(s, file=out)    # noqa: E731
    w("relukit benchmark")
    simd = f", {'/'.join(env['simd'])}" if env["simd"] else ""
    l3 = f", L3 {env['l3']}" if env["l3"] else ""
    usable = (f" ({env['cores_usable']} usable)" if env["cores_usable"] and env["cores_usable"] != env["cores"]
              else "")
    w(f"machine:    {env['cpu']} ({env['machine']}{simd}{l3}), {env['cores']} cores{usable}")
    w(f"versions:   python {env['python']}, numpy {env['numpy']}, numba {env['numba'] or 'not installed'}, "
      f"relukit {env['relukit']}")
    w(f"relukit:    backends {', '.join(env['relukit_backends'])}; parallel backend threads "
      f"{env['relukit_threads']}; numba threading layer {env.get('numba_layer') or '-'}"
      + (f"; forced backend {env['forced_backend']}" if env["forced_backend"] else ""))
    thr = "; ".join(f"{cls}: float32 {fmt_threshold(v['float32'])}, float64 {fmt_threshold(v['float64'])}"
                    for cls, v in env["thresholds"].items())
    w(f"thresholds: automatic dispatch runs numba from n = ({thr}), cython below")
    peer_txt = []
    if "torch" in peers:
        peer_txt.append(f"torch {env['torch']} ({env['torch_threads']} threads, default)")
    if "numexpr" in peers:
        peer_txt.append(f"numexpr {env['numexpr']} ({env['numexpr_threads']} threads)")
    w(f"peers:      {', '.join(peer_txt) if peer_txt else 'none (torch and numexpr not installed)'}")
    if warm_s:
        w(f"numba JIT:  {warm_s:.2f} s to compile/load the kernels before timing")
    for m in warm_msgs:
        w(f"  note: {m}")


def run(args, out=None):
    out = out or sys.stdout
    t_start = time.perf_counter()
    ops = list(relukit.MASKED.values())
    if args.ops:
        unknown = [o for o in args.ops if o not in relukit.MASKED]
        if unknown:
            print(f"relukit bench: unknown op(s) {unknown}; known: {sorted(relukit.MASKED)}", file=sys.stderr)
            return 2
        ops = [relukit.MASKED[o] for o in args.ops]
    chosen = {VARIANT_KEYS[v] for v in args.variants} if args.variants else set(VARIANTS)
    variants = [v for v in VARIANTS if v in chosen]
    quick = args.quick
    repeats = args.repeats or (5 if quick else 15)
    if repeats < 1:
        print("relukit bench: --repeats must be >= 1", file=sys.stderr)
        return 2
    timing_kw = dict(repeats=repeats, min_repeats=min(repeats, 3 if quick else 5),
                     target_s=1e-3 if quick else 2e-3, budget_s=1.5 if quick else 4.0)
    pairs = plan(args)
    peers = load_peers(not args.no_peers)
    use_rich = _has_rich() and not args.plain

    warm_s, warm_msgs = warm_up_numba(ops, sorted({d for _, d in pairs} | {"float32"}))
    env = environment(peers)
    if "numba" in relukit.backends():
        try:
            from relukit import _numba_backend
            env["numba_layer"] = _numba_backend.threading_layer()
        except Exception:
            pass
    _print_header(env, peers, warm_s, warm_msgs, out)
    out.flush()

    peer_names = [p for p in ("torch", "numexpr") if p in peers]
    record = {"environment": env, "numba_warmup_s": warm_s, "notes": warm_msgs,
              "method": {"timer": "time.perf_counter_ns", "target_sample_s": timing_kw["target_s"],
                         "k1_from_n": LARGE_N, "fresh_min_call_s": FRESH_MIN_S, "repeats": repeats,
                         "statistic": "median over samples of sample time / k", "text": method_text(timing_kw["target_s"])},
              "overhead": [], "cells": []}

    # ---- per-call overhead ------------------------------------------------------------
    rows = []
    for n in OVERHEAD_SIZES:
        inp = Inputs(n, "float32")
        for op in ops:
            cell = build_cell(op, "forward in place", inp, backends=False, peers=peers)
            res = measure(cell, **{**timing_kw, "budget_s": 1.0})
            rel, npy = res.get("relukit"), res.get("numpy")
            rows.append([f"{op.name} in place", fmt_n(n), "float32", fmt_time(npy.median), fmt_time(rel.median),
                         f"{npy.median / rel.median:.1f}x"] + [fmt_time(res[p].median) if p in res else "-"
                                                              for p in peer_names])
            record["overhead"].append(_cell_record(cell, res))
    print(file=out)
    render_table(["per-call overhead", "n", "dtype", "NumPy", "relukit", "speed-up"] + peer_names, rows,
                 right=set(range(1, 6 + len(peer_names))), use_rich=use_rich, out=out,
                 title="Per-call time at tiny n (mostly call overhead), median, in place:")
    out.flush()

    # ---- main table -------------------------------------------------------------------
    backend_cols = [b for b in ("cython", "numba") if b in relukit.backends()]
    headers = (["op / variant", "n", "dtype", "NumPy", "relukit", "speed-up", "auto"]
               + backend_cols + peer_names + ["reps", "input"])
    right = set(range(1, len(headers) - 1)) - {2, 6}
    print(file=out)
    print("Median time per call (speed-up = NumPy / relukit; auto = backend relukit chose; "
          + (", ".join(backend_cols) + " = relukit forced to that backend" if backend_cols else "")
          + "):", file=out)
    stream = None if use_rich else _StreamTable(headers, right, out, _typical_widths(headers, ops, pairs))
    rows, bw_rows, notes = [], [], []
    for n, dt in pairs:
        inp = Inputs(n, dt)
        for op in ops:
            for variant in variants:
                if variant not in variants_of(op):
                    continue
                cell = build_cell(op, variant, inp, peers=peers, bandwidth=(variant == "forward in place"))
                res = measure(cell, **timing_kw)
                record["cells"].append(_cell_record(cell, res))
                npy, rel = res["numpy"], res["relukit"]
                flag = "!" if rel.error else ""
                row = [f"{op.name} {_SHORT[variant]}", fmt_n(n), dt, fmt_time(npy.median),
                       fmt_time(rel.median) + flag, f"{npy.median / rel.median:.2f}x", cell.auto_backend]
                for b in backend_cols:
                    row.append(fmt_time(res[b].median) + ("!" if res[b].error else "") if b in res else "n/a")
                for p in peer_names:
                    row.append(fmt_time(res[p].median) if p in res else "-")
                row.append(str(rel.repeats))
                row.append("fresh" if cell.fresh else "reused")
                rows.append(row)
                for note in cell.notes:
                    notes.append(f"{op.name} {_SHORT[variant]}, n={fmt_n(n)}, {dt}: {note}")
                if "np.negative" in res:
                    ref = res["np.negative"]
                    bm = 2 * inp.x0.nbytes
                    bw_rows.append([op.name, fmt_n(n), dt, fmt_time(ref.median), fmt_gbs(bm, ref.median),
                                    fmt_time(rel.median), fmt_gbs(bm, rel.median),
                                    f"{100 * ref.median / rel.median:.0f}%", cell.auto_backend]
                                   + [fmt_gbs(bm, res[b].median) if b in res else "-" for b in backend_cols])
                if stream:
                    stream.row(row)
        if stream:
            stream.blank()
        else:
            rows.append(None)          # a section break in the rich table
        del inp
    if use_rich:
        render_table(headers, rows, right=right, use_rich=True, out=out)

    if bw_rows:
        print(file=out)
        render_table(["in place vs bandwidth", "n", "dtype", "np.negative", "GB/s", "relukit", "GB/s",
                      "% of ref", "auto"] + [f"{b} GB/s" for b in backend_cols], bw_rows,
                     right=set(range(1, 9 + len(backend_cols))) - {2, 8}, use_rich=use_rich, out=out,
                     title="Bandwidth: relukit forward in place vs np.negative(x, out=x) "
                           "(2 x nbytes moved per call; NumPy reference is single-threaded):")
    wall = time.perf_counter() - t_start
    print(file=out)
    for line in method_text(timing_kw["target_s"]):
        print(line, file=out)
    for note in notes:
        print(f"note: {note}", file=out)
    print(f"total wall time: {wall:.1f} s", file=out)
    record["wall_s"] = wall
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(record, fh, indent=1)
        print(f"results saved to {args.json}", file=out)
    bad = [c for c in record["cells"] if any(v.get("error") for v in c["results"].values()
                                             if v["kind"] == "relukit")]
    return 1 if bad else 0


class _StreamTable:
    """Plain table printed row by row as cells finish (fixed column widths)."""

    def __init__(self, headers, right, out, widths):
        self.right, self.out = right, out
        self.widths = [max(len(h), w) for h, w in zip(headers, widths)]
        self._line(headers)
        print("  ".join("-" * w for w in self.widths), file=out)

    def _line(self, vals):
        cells = [str(v).rjust(w) if i in self.right else str(v).ljust(w)
                 for i, (v, w) in enumerate(zip(vals, self.widths))]
        print("  ".join(cells).rstrip(), file=self.out)
        self.out.flush()

    def row(self, vals):
        self._line(vals)

    def blank(self):
        print(file=self.out)


def _typical_widths(headers, ops, pairs):
    name = max(len(f"{op.name} {v}") for op in ops for v in _SHORT.values())
    n = max(len(fmt_n(p[0])) for p in pairs)
    dt = max(len(p[1]) for p in pairs)
    rest = {"speed-up": 7, "auto": 6, "reps": 4, "input": 6}
    return [name, n, dt] + [rest.get(h, 9) for h in headers[3:]]


def method_text(target_s):
    """The lines printed under the tables that say how they were measured."""
    return [
        "Method: the contenders of a row are timed interleaved (round-robin, order rotating per repeat, GC off);",
        f"a sample is k calls (~{target_s * 1e3:.0f} ms; k = 1 from n = {fmt_n(LARGE_N)}); shown: median over 'reps' "
        "samples of sample time / k.",
        "input 'fresh': each call is timed alone right after an untimed np.copyto restore of its input "
        f"(n >= {fmt_n(LARGE_N)}, or every call >= {FRESH_MIN_S * 1e6:.0f} us),",
        "so every timed call sees the pristine data; 'reused': calls too short to time alone run k back-to-back "
        "after one restore,",
        "so calls 2..k of an in-place op see its own output (for relu: no negatives), which flatters "
        "kernels whose speed depends on the data.",
        "Inputs: standard normal (half negative). Out of place, NumPy: "
        + "; ".join(f"{k}: {v[1]}" for k, v in NUMPY_OUT_OF_PLACE.items())
        + ". forward + mask: NumPy saves a bool mask (1 byte/element), relukit a bit mask (1 bit/element).",
        "Each result was checked against relukit.reference before timing ('!' marks a wrong relukit result).",
    ]


def _cell_record(cell, res):
    kinds = {c.name: c for c in cell.contenders}
    return {
        "op": cell.op, "variant": cell.variant, "n": cell.n, "dtype": cell.dtype,
        "auto_backend": cell.auto_backend, "notes": cell.notes, "fresh_input": cell.fresh,
        "results": {name: {"median_s": t.median, "min_s": t.minimum, "k": t.k, "repeats": t.repeats,
                           "samples_s": t.samples, "fresh_input": t.fresh, "error": t.error,
                           "kind": kinds[name].kind,
                           "backend": kinds[name].backend, "bytes_moved": kinds[name].bytes_moved,
                           "gb_per_s": kinds[name].bytes_moved / t.median / 1e9 if t.median > 0 else None}
                    for name, t in res.items()},
    }


def main(argv=None):
    p = add_arguments(argparse.ArgumentParser(prog="python -m relukit bench", description=__doc__.split("\n\n")[0]))
    return run(p.parse_args(argv))
