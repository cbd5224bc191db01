"""Every op of ``relukit.OPS`` (and ``gelu_tanh``) x variant x n x dtype x implementation, as
pytest-benchmark groups.

A group is one cell, ``"{op} {variant} | n={n} | {dtype}"``; its members are the
implementations compared there:

``relukit``          automatic dispatch (what users get)
``relukit-cython``   relukit forced to the Cython kernels (``relukit.use_backend``)
``relukit-numba``    relukit forced to the parallel Numba kernels
``numpy``            the op's NumPy idiom from the op table (``op.numpy_forward`` ...)
``bandwidth-ref``    ``np.negative``: one read + one write of the same array (in place on the
                     mutated buffer; allocating for out of place), a memory-bandwidth yardstick
                     (elementwise ops only)
``torch``/``numexpr``/``jax`` peers, only when importable (and where they have the call: no
                     in-place prelu in torch, no gelu/crelu/brelu in numexpr). JAX has no
                     in-place form: its in-place tests time the jitted functional op; every
                     JAX call is jit-compiled and warmed up when the cell is built, its inputs
                     are JAX arrays made once, and the timed call ends in
                     ``.block_until_ready()``. ``RELUKIT_BENCH_PEERS=torch,jax`` (names
                     separated by commas; empty: none) limits the peers.

The ops and variants are ``relukit.bench.bench_ops()`` / ``variants_of()``: relu, relu6 and
leaky_relu in four variants (in place, out of place, forward + mask, backward), the smooth
ops (elu, selu, celu, softplus, silu, gelu, gelu_tanh) in three (no mask), prelu in three
and crelu, brelu in two (out of place, backward), on the shapes of
``relukit.bench.composite_shape``.

The contenders are the ones ``python -m relukit bench`` times (``relukit.bench.build_cell``).
In-place calls use ``benchmark.pedantic(setup=restore)``: the input is restored from a
pristine copy (untimed) before every round, one call per round, so every timed call sees the
original data (at n = 10^3 the ~50 ns timer/call overhead of a round is included, equally for
every member of a group). Out-of-place calls do not touch their input and run several
iterations per round when a call is short. Each test checks its result against
``relukit.reference`` before and after timing, also under ``--benchmark-disable``.
"""
import functools
import os
import time

import numpy as np
import pytest

pytest.importorskip("pytest_benchmark")

from relukit import bench as rb  # noqa: E402

SIZES = [10**3, 10**4, 10**5, 10**6, 10**7]
QUICK_SIZES = [10**3, 10**6]
BIG = 10**8
DTYPES = ["float32", "float64"]
QUICK_SMOOTH_DTYPES = ["float32"]    # quick mode: smooth and composite ops in float32 only

# implementation id -> contender name in relukit.bench cells
IMPLS = {
    "relukit": "relukit",
    "relukit-cython": "cython",
    "relukit-numba": "numba",
    "numpy": "numpy",
    "bandwidth-ref": "np.negative",
    "torch": "torch",
    "numexpr": "numexpr",
    "jax": "jax",
}


def _load_peers():
    names = os.environ.get("RELUKIT_BENCH_PEERS")
    peers = rb.load_peers(names=None if names is None else [p.strip() for p in names.split(",") if p.strip()])
    if "jax" in peers:
        rb.jax_enable_x64(peers["jax"])     # the float64 cases; float32 results do not change
    return peers


PEERS = _load_peers()

# time spent on one benchmark (seconds), and bounds on its rounds: (full, quick)
BUDGET_S = (0.25, 0.03)
MIN_ROUNDS = (5, 3)
MAX_ROUNDS = (20000, 300)
ITER_TARGET_S = 20e-6       # out of place: iterations per round so a round lasts about this


def _quick(config):
    # same rule as conftest.bench_quick (kept here: conftest modules are not importable by name)
    env = os.environ.get("RELUKIT_BENCH_QUICK", "").strip().lower()
    return bool(config.getoption("--bench-quick")) or env not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def quick(request):
    return _quick(request.config)


def _slug(variant):
    return variant.replace(" + ", "+").replace(" ", "-")


def pytest_generate_tests(metafunc):
    if "case" not in metafunc.fixturenames:
        return
    quick = _quick(metafunc.config)
    sizes = list(QUICK_SIZES if quick else SIZES)
    if metafunc.config.getoption("--big"):
        sizes.append(BIG)
    impls = [i for i in IMPLS if i not in rb.PEER_NAMES or i in PEERS]
    cases, ids = [], []
    for n in sizes:                      # n outermost: the cached inputs are reused in order
        for dtype in DTYPES:
            for bop in rb.bench_ops():
                if quick and bop.group != "masked" and dtype not in QUICK_SMOOTH_DTYPES:
                    continue
                if n == BIG and bop.group != "masked":
                    continue             # 10^8: the memory-bound elementwise ops only
                for variant in rb.variants_of(bop):
                    for impl in impls:
                        if impl == "bandwidth-ref" and bop.group == "composite":
                            continue
                        cases.append((bop.key, variant, n, dtype, impl))
                        ids.append(f"{bop.key}-{_slug(variant)}-n{n}-{dtype}-{impl}")
    metafunc.parametrize("case", cases, ids=ids)


@functools.lru_cache(maxsize=1)
def _inputs(n, dtype):
    return rb.Inputs(n, dtype)


@functools.lru_cache(maxsize=1)
def _cell(op_name, variant, n, dtype):
    # One cell per group, built once and shared by the group's tests (they run in a row).
    bop = rb.as_bench_op(op_name)
    return rb.build_cell(bop, variant, _inputs(n, dtype), backends=True, peers=PEERS,
                         bandwidth=bop.group != "composite")


def _single_call_s(c, reps=3):
    best = float("inf")
    with c.context():
        for _ in range(reps):
            if c.restore is not None:
                c.restore()
            if c.prime is not None:
                c.prime()
            t0 = time.perf_counter()
            c.call()
            best = min(best, time.perf_counter() - t0)
    return max(best, 1e-9)


def test_op(benchmark, case, quick):
    op_name, variant, n, dtype, impl = case
    cell = _cell(op_name, variant, n, dtype)
    by_name = {c.name: c for c in cell.contenders}
    c = by_name.get(IMPLS[impl])
    if c is None:
        why = [note for note in cell.notes if note.startswith(IMPLS[impl])]
        pytest.skip(why[0] if why else f"{impl} does not apply to {op_name} {variant}")

    benchmark.group = f"{op_name} {variant} | n={n} | {dtype}"
    benchmark.extra_info.update({
        "op": op_name, "variant": variant, "n": n, "dtype": dtype, "impl": impl,
        "backend": (cell.auto_backend if impl == "relukit" else c.backend or "-"),
        "bytes_moved": c.bytes_moved, "fresh_input": True,
    })

    # correctness first (also the warm-up: Numba compiles or loads its kernel here)
    with np.errstate(all="ignore"):
        c.run_checked()

    q = 1 if quick else 0
    with c.context():
        if benchmark.disabled:
            result = benchmark.pedantic(c.call, setup=c.restore)
        else:
            t1 = _single_call_s(c)
            if c.restore is not None:
                # in place: restore before every round, one call per round
                restore_s = rb._time_restore(c)
                rounds = int(BUDGET_S[q] / (t1 + restore_s))
                rounds = max(MIN_ROUNDS[q], min(MAX_ROUNDS[q], rounds))
                result = benchmark.pedantic(c.call, setup=c.restore, rounds=rounds,
                                            warmup_rounds=1, iterations=1)
            else:
                iterations = max(1, round(ITER_TARGET_S / t1))
                rounds = int(BUDGET_S[q] / (t1 * iterations))
                rounds = max(MIN_ROUNDS[q], min(MAX_ROUNDS[q], rounds))
                result = benchmark.pedantic(c.call, rounds=rounds, warmup_rounds=1,
                                            iterations=iterations)
    # the state after the last timed round is one call on restored input: check it again
    if c.check is not None:
        c.check(result)

    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    if stats is not None and stats.median > 0:
        benchmark.extra_info["GB/s"] = round(c.bytes_moved / stats.median / 1e9, 2)
