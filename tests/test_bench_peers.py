"""relukit.bench's peers: choosing them, the best-peer column, and the JAX peer's calls
(checked against relukit.reference like every contender; a wrong one is dropped, not timed).

The JAX tests run where JAX is installed (the ``[bench]`` extra) and skip elsewhere."""
import numpy as np
import pytest

from relukit import bench as rb


def _timing(median):
    return rb.Timing(median, median, 1, 1, [median], True)


def test_best_peer_is_the_fastest_peer_present():
    res = {"relukit": _timing(1e-6), "torch": _timing(3e-6), "jax": _timing(2e-6), "numpy": _timing(1e-7)}
    assert rb.best_peer(res, rb.PEER_NAMES) == "jax"
    assert rb.best_peer(res, ["torch", "numexpr"]) == "torch"
    assert rb.best_peer(res, ["numexpr"]) is None
    assert rb.best_peer({}, rb.PEER_NAMES) is None


def test_peers_option_picks_and_rejects_names():
    p = rb.add_arguments(__import__("argparse").ArgumentParser())
    assert p.parse_args(["--peers", "jax", "torch"]).peers == ["jax", "torch"]
    assert p.parse_args([]).peers is None
    with pytest.raises(SystemExit):
        p.parse_args(["--peers", "tensorflow"])


def test_load_peers_honours_names_and_enabled():
    assert rb.load_peers(enabled=False) == {}
    assert rb.load_peers(names=[]) == {}
    assert set(rb.load_peers(names=["numexpr"])) <= {"numexpr"}
    assert set(rb.load_peers()) <= set(rb.PEER_NAMES)


def test_jax_threads_is_the_usable_core_count(monkeypatch):
    import os
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    n, text = rb.jax_threads()
    assert n == len(os.sched_getaffinity(0))
    assert "XLA_FLAGS" in text
    monkeypatch.delenv("XLA_FLAGS")
    assert "XLA_FLAGS" not in rb.jax_threads()[1]


# ---------------------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------------------
@pytest.fixture
def jax():
    jax = pytest.importorskip("jax")
    was = rb._jax_x64(jax)
    yield jax
    jax.config.update("jax_enable_x64", was)


def _cases():
    return [(b.key, v) for b in rb.bench_ops() for v in rb.variants_of(b)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_jax_has_a_checked_call_in_every_cell(jax, dtype):
    rb.jax_enable_x64(jax)
    inp = rb.Inputs(2000, dtype)          # 2000: crelu's (2, 1000), prelu's NCHW shape
    for key, variant in _cases():
        cell = rb.build_cell(key, variant, inp, backends=False, peers={"jax": jax})
        c = {c.name: c for c in cell.contenders}.get("jax")
        assert c is not None, (key, variant, cell.notes)
        result, _ = c.run_checked()       # raises AssertionError on a wrong result
        for a in (result if isinstance(result, tuple) else (result,)):
            assert np.dtype(a.dtype) in (np.dtype(dtype), np.dtype(bool)), (key, variant, a.dtype)


def test_jax_float64_cells_need_x64(jax):
    jax.config.update("jax_enable_x64", False)
    cell = rb.build_cell("relu", "forward out of place", rb.Inputs(100, "float64"), backends=False,
                         peers={"jax": jax})
    assert "jax" not in [c.name for c in cell.contenders]
    assert any("jax_enable_x64" in n for n in cell.notes)


def test_jax_float32_results_do_not_change_with_x64(jax):
    inp = rb.Inputs(3000, "float32")
    cases = [(k, v) for k, v in _cases() if v != "forward in place"]

    def results():
        out = {}
        for key, variant in cases:
            cell = rb.build_cell(key, variant, inp, backends=False, peers={"jax": jax})
            r = {c.name: c for c in cell.contenders}["jax"].run_checked()[0]
            out[key, variant] = [np.asarray(a) for a in (r if isinstance(r, tuple) else (r,))]
        return out
    jax.config.update("jax_enable_x64", False)
    off = results()
    inp.cache.clear()                     # JAX arrays made again, with x64 on
    rb.jax_enable_x64(jax)
    on = results()
    for case in cases:
        for a, b in zip(off[case], on[case]):
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), case


def test_a_wrong_jax_peer_is_dropped_not_timed(jax, monkeypatch):
    real = rb._jax_idioms

    def wrong(jx, bop):
        idiom = real(jx, bop)
        if bop.key == "silu":
            idiom = dict(idiom, forward=jx.nn.sigmoid)        # not silu
        return idiom
    monkeypatch.setattr(rb, "_jax_idioms", wrong)
    cell = rb.build_cell("silu", "forward out of place", rb.Inputs(1000, "float32"), backends=False,
                         peers={"jax": jax})
    res = rb.measure(cell, repeats=2, min_repeats=1, target_s=1e-4, budget_s=0.2)
    assert "jax" not in res and "relukit" in res
    assert any(n.startswith("jax dropped") for n in cell.notes)


def test_jax_leaky_relu_gradient_at_zero_is_its_own(jax):
    inp = rb.Inputs(64, "float32")
    x0 = inp.x0.copy()
    x0[5] = 0.0
    x0.flags.writeable = False
    inp.x0 = x0
    cell = rb.build_cell("leaky_relu", "backward", inp, backends=False, peers={"jax": jax})
    c = {c.name: c for c in cell.contenders}["jax"]
    g = np.asarray(c.run_checked()[0])
    assert g[5] == inp.g0[5]              # JAX: derivative 1 at x == 0 (relukit: the slope)
    assert any("x == 0" in n for n in cell.notes)
    # relu's derivative at 0 is 0 in JAX as in relukit: no exception there
    cell = rb.build_cell("relu", "backward", inp, backends=False, peers={"jax": jax})
    assert not any("x == 0" in n for n in cell.notes)
    assert np.asarray({c.name: c for c in cell.contenders}["jax"].run_checked()[0])[5] == 0


def test_short_smooth_calls_are_timed_on_fresh_input():
    """Smooth and composite cells, and leaky_relu's, are timed call by call on restored input
    whatever their length (fed back, their outputs drift into the subnormals); short relu
    cells in blocks."""
    smooth = rb.build_cell("silu", "forward in place", rb.Inputs(64, "float32"), backends=False,
                           peers={})
    rb.measure(smooth, repeats=2, min_repeats=1, target_s=1e-4, budget_s=0.2)
    assert smooth.fresh
    composite = rb.build_cell("prelu", "forward in place", rb.Inputs(64, "float32"), backends=False,
                              peers={})
    rb.measure(composite, repeats=2, min_repeats=1, target_s=1e-4, budget_s=0.2)
    assert composite.fresh
    masked = rb.build_cell("relu", "forward in place", rb.Inputs(64, "float32"), backends=False,
                           peers={})
    rb.measure(masked, repeats=2, min_repeats=1, target_s=1e-4, budget_s=0.2)
    assert not masked.fresh
    for variant in ("forward in place", "backward"):     # fed back, its negatives shrink
        leaky = rb.build_cell("leaky_relu", variant, rb.Inputs(64, "float32"), backends=False,
                              peers={})
        rb.measure(leaky, repeats=2, min_repeats=1, target_s=1e-4, budget_s=0.2)
        assert leaky.fresh, variant
