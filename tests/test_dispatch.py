"""Dispatcher controls: backends(), set_backend/use_backend/get_backend, RELUKIT_BACKEND,
explain(), thresholds, threads, and that the backend explain() names is the one that runs."""
import asyncio
import importlib.util
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import relukit
from relukit import _core
from conftest import (BACKENDS, assert_same, expected_backward, expected_mask,
                      expected_relu, random_floats, run_python)

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")


# --------------------------------------------------------------------------------------
# backends()
# --------------------------------------------------------------------------------------
def test_backends_list():
    b = relukit.backends()
    assert isinstance(b, list)
    assert set(b) <= {"numpy", "cython", "numba"}
    assert b[:2] == ["numpy", "cython"]
    assert ("numba" in b) == HAVE_NUMBA
    assert len(set(b)) == len(b)


# --------------------------------------------------------------------------------------
# set_backend / use_backend / get_backend
# --------------------------------------------------------------------------------------
def test_default_is_automatic():
    assert relukit.get_backend() is None
    assert "override: none (automatic)" in relukit.explain("relu", np.ones(3, np.float32))


@pytest.mark.parametrize("name", BACKENDS)
def test_set_backend_roundtrip(name):
    relukit.set_backend(name)
    assert relukit.get_backend() == name
    assert f"override: {name} from set_backend() call" in relukit.explain("relu", np.ones(3))
    relukit.set_backend(None)
    assert relukit.get_backend() is None
    relukit.set_backend(name.upper().center(len(name) + 4))
    assert relukit.get_backend() == name
    relukit.set_backend("auto")
    assert relukit.get_backend() is None
    relukit.set_backend(name)
    relukit.set_backend("")
    assert relukit.get_backend() is None


def test_use_backend_precedence_nesting_and_restore():
    relukit.set_backend("cython")
    with relukit.use_backend("numpy"):
        assert relukit.get_backend() == "numpy"
        assert "use_backend() context" in relukit.explain("relu", np.ones(3))
        with relukit.use_backend(None):
            assert relukit.get_backend() is None, "use_backend(None) means automatic"
            assert "automatic" in relukit.explain("relu", np.ones(3))
        assert relukit.get_backend() == "numpy"
        with pytest.raises(ZeroDivisionError):
            with relukit.use_backend("cython"):
                assert relukit.get_backend() == "cython"
                1 / 0
        assert relukit.get_backend() == "numpy"
    assert relukit.get_backend() == "cython"
    relukit.set_backend(None)
    assert relukit.get_backend() is None


def test_use_backend_bad_name_leaves_state_alone():
    with relukit.use_backend("numpy"):
        with pytest.raises(ValueError):
            with relukit.use_backend("bogus"):
                pass
        assert relukit.get_backend() == "numpy"
    assert relukit.get_backend() is None


def test_use_backend_does_not_leak_to_other_threads():
    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def holder():
        with relukit.use_backend("numpy"):
            seen["holder"] = relukit.get_backend()
            inside.set()
            release.wait(10)

    def observer(key):
        seen[key] = (relukit.get_backend(), relukit.explain("relu", np.ones(3, np.float32)))

    t = threading.Thread(target=holder)
    t.start()
    assert inside.wait(10)
    o = threading.Thread(target=observer, args=("thread",))
    o.start()
    o.join(10)
    observer("main")
    with ThreadPoolExecutor(2) as ex:
        pool_seen = ex.submit(lambda: relukit.get_backend()).result(10)
    release.set()
    t.join(10)
    assert seen["holder"] == "numpy"
    assert seen["thread"][0] is None and "backend cython" in seen["thread"][1]
    assert seen["main"][0] is None and "backend cython" in seen["main"][1]
    assert pool_seen is None


def test_use_backend_in_main_not_inherited_by_new_threads():
    got = []
    with relukit.use_backend("numpy"):
        t = threading.Thread(target=lambda: got.append(relukit.get_backend()))
        t.start()
        t.join(10)
        with ThreadPoolExecutor(1) as ex:
            got.append(ex.submit(relukit.get_backend).result(10))
    assert got == [None, None]


def test_use_backend_threads_each_see_their_own():
    names = BACKENDS * 4
    barrier = threading.Barrier(len(names))
    errors = []

    def work(name):
        try:
            with relukit.use_backend(name):
                barrier.wait(10)
                for _ in range(50):
                    assert relukit.get_backend() == name
                    x = np.linspace(-1, 1, 33, dtype=np.float32)
                    assert_same(relukit.relu(x), expected_relu(x))
                barrier.wait(10)
            assert relukit.get_backend() is None
        except Exception as e:          # noqa: BLE001
            errors.append(repr(e))

    ts = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert not errors


def test_use_backend_is_local_to_asyncio_tasks():
    async def task(name, ev_in, ev_other):
        with relukit.use_backend(name):
            ev_in.set()
            await ev_other.wait()
            return relukit.get_backend()

    async def main():
        a_in, b_in = asyncio.Event(), asyncio.Event()
        ra, rb = await asyncio.gather(task("numpy", a_in, b_in), task("cython", b_in, a_in))
        return ra, rb, relukit.get_backend()

    assert asyncio.run(main()) == ("numpy", "cython", None)


def test_set_backend_is_process_wide():
    relukit.set_backend("numpy")
    got = []
    t = threading.Thread(target=lambda: got.append(relukit.get_backend()))
    t.start()
    t.join(10)
    assert got == ["numpy"]


# --------------------------------------------------------------------------------------
# thresholds, threads
# --------------------------------------------------------------------------------------
def test_thresholds_structure_and_set_threshold():
    thr = relukit.thresholds()
    assert set(thr) >= {"memory-bound"}
    for cls, per in thr.items():
        assert set(per) == {"float32", "float64"}
        assert all(isinstance(v, int) and v >= 0 for v in per.values())
    relukit.set_threshold("memory-bound", np.float32, 1234)
    relukit.set_threshold("memory-bound", "float64", 567)
    assert relukit.thresholds()["memory-bound"] == {"float32": 1234, "float64": 567}
    relukit.set_threshold("memory-bound", np.dtype("float64"), 890)
    assert relukit.thresholds()["memory-bound"]["float64"] == 890
    assert "1234" in relukit.explain("relu", np.ones(5, np.float32))
    assert "890" in relukit.explain("relu", np.ones(5, np.float64))


def test_every_op_class_threshold_can_be_set():
    for cls in relukit.thresholds():
        for dt in ("float32", "float64"):
            relukit.set_threshold(cls, dt, 77)
            assert relukit.thresholds()[cls][dt] == 77
    assert relukit.thresholds()["memory-bound"] == {"float32": 77, "float64": 77}
    # at threshold 77 every call form on 77 contiguous float32 elements goes to numba
    x = np.ones(77, np.float32)
    want = "numba" if HAVE_NUMBA else "cython"
    for s in (relukit.explain("relu", x), relukit.explain("relu", x, return_mask=True),
              relukit.explain("relu_backward", x)):
        assert s.startswith(f"{s.split(':')[0]}: backend {want}"), s
        assert "77" in s


def test_thresholds_are_restored_between_tests_fixture_sanity(low_thresholds):
    assert relukit.thresholds() == low_thresholds
    assert low_thresholds["memory-bound"]["float32"] < 1000


def test_num_threads_controls():
    relukit.set_num_threads(1)
    assert relukit.get_num_threads() == 1
    relukit.set_num_threads(None)
    default = relukit.get_num_threads()
    assert isinstance(default, int) and default >= 1
    relukit.set_num_threads(0)
    assert relukit.get_num_threads() == default


@needs_numba
@pytest.mark.parametrize("nthreads", [1, 2, None])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_with_thread_counts(numba_warm, nthreads, dtype):
    if nthreads is not None and nthreads > (os.cpu_count() or 1):
        nthreads = 1
    relukit.set_num_threads(nthreads)
    rng = np.random.default_rng(0)
    x = random_floats(rng, 300_001, dtype)
    g = random_floats(rng, 300_001, dtype)
    with relukit.use_backend("numba"):
        y, m = relukit.relu(x, return_mask=True)
        xi = x.copy()
        relukit.relu(xi, out=xi)
        gb = relukit.relu_backward(g, m)
    assert_same(y, expected_relu(x))
    assert_same(xi, expected_relu(x))
    assert_same(m, expected_mask(x))
    assert_same(gb, expected_backward(g, m))


@needs_numba
def test_set_num_threads_validated_once_numba_loaded(numba_warm):
    import numba
    with pytest.raises(ValueError):
        relukit.set_num_threads(numba.config.NUMBA_NUM_THREADS + 1)


@needs_numba
@pytest.mark.parametrize("how", ["set_num_threads", "RELUKIT_NUM_THREADS"])
def test_too_many_threads_before_numba_loads_is_refused_or_works(how):
    """A thread count above what Numba can run (1024 here), given before numba is loaded,
    must either be refused when given (as set_num_threads does once numba is loaded; for
    the environment variable: ignored with a warning) or still let every call compute; it
    must not make every later large call raise."""
    r = run_python("""
        import warnings, numpy as np, sys
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            import relukit
        assert "numba" not in sys.modules
        if any("RELUKIT_NUM_THREADS" in str(i.message) for i in w):
            print("refused")
            sys.exit(0)
        try:
            if "RELUKIT_NUM_THREADS" not in __import__("os").environ:
                relukit.set_num_threads(1024)
        except ValueError:
            print("refused")
            sys.exit(0)
        x = np.linspace(-1, 1, 1_000_000).astype(np.float32)
        y = relukit.relu(x)                      # above the threshold: numba backend
        assert np.array_equal(y, np.where(x > 0, x, 0).astype(np.float32))
        print("computed")
    """, env={"RELUKIT_NUM_THREADS": "1024"} if how == "RELUKIT_NUM_THREADS" else None,
        timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() in ("refused", "computed")


# --------------------------------------------------------------------------------------
# explain(): the text
# --------------------------------------------------------------------------------------
def test_explain_small_large_dtype_layout_override(low_thresholds):
    t32 = low_thresholds["memory-bound"]["float32"]
    s = relukit.explain("relu", np.ones(t32 - 1, np.float32))
    assert s.startswith("relu: backend cython")
    assert f"n = {t32 - 1}" in s and "below" in s and str(t32) in s and "float32" in s

    if HAVE_NUMBA:
        s = relukit.explain("relu", np.ones(t32, np.float32))
        assert s.startswith("relu: backend numba")
        assert "at or above" in s and str(t32) in s and "threads" in s

    s = relukit.explain("relu", np.ones(10, np.float16))
    assert s.startswith("relu: backend numpy") and "dtype" in s and "float16" in s
    s = relukit.explain("relu", np.ones(10, np.int32))
    assert "backend numpy" in s and "int32" in s
    s = relukit.explain("relu", np.ones(10, ">f8"))
    assert "backend numpy" in s and "byte order" in s

    s = relukit.explain("relu", np.ones((100, 100), np.float32)[:, ::2])
    assert "backend cython" in s and "layout" in s and "strided" in s
    s = relukit.explain("relu", np.ones((100, 100), np.float32, order="F"), return_mask=True)
    assert "backend cython" in s and "layout" in s and "F-contiguous" in s

    with relukit.use_backend("numpy"):
        s = relukit.explain("relu", np.ones(10, np.float32))
        assert "backend numpy" in s and "override" in s and "use_backend() context" in s
    relukit.set_backend("cython")
    s = relukit.explain("relu", np.ones(10_000, np.float64))
    assert "backend cython" in s and "set_backend() call" in s
    if HAVE_NUMBA:
        relukit.set_backend("numba")
        s = relukit.explain("relu", np.ones((100, 100))[::2])
        assert "backend cython" in s and "layout" in s and "override" in s
    relukit.set_backend(None)

    s = relukit.explain("relu_backward", np.ones(100, np.float64))
    assert s.startswith("relu_backward: backend")
    assert isinstance(relukit.explain("relu", [1.0, -1.0]), str)


# --------------------------------------------------------------------------------------
# explain(): the backend it names is the one that runs
# --------------------------------------------------------------------------------------
class Spy:
    def __init__(self, monkeypatch):
        self.calls = []
        ref = relukit.reference
        for name in ("relu", "relu_backward"):
            orig = getattr(ref, name)
            monkeypatch.setattr(ref, name, self._wrap("numpy", orig))
        if HAVE_NUMBA:
            from relukit import _numba_backend as nb
            for name in ("relu", "relu_mask", "mask_select"):
                monkeypatch.setattr(nb, name, self._wrap("numba", getattr(nb, name)))

    def _wrap(self, tag, fn):
        def spy(*a, **k):
            self.calls.append(tag)
            return fn(*a, **k)
        return spy

    def used(self):
        assert len(set(self.calls)) <= 1, self.calls
        return self.calls[0] if self.calls else "cython"


def _dispatch_cases(t32, t64):
    c = {
        "small-f32": (np.float32, (t32 - 1,), "C", False),
        "at-thr-f32": (np.float32, (t32,), "C", False),
        "above-thr-f64": (np.float64, (t64 + 5,), "C", False),
        "below-thr-f64": (np.float64, (t64 - 1,), "C", False),
        "big-2d-C-mask": (np.float32, (t32, 3), "C", True),
        "big-2d-F": (np.float32, (t32, 3), "F", False),
        "big-2d-F-mask": (np.float32, (t32, 3), "F", True),
        "big-strided": (np.float64, (t64, 4), "strided", False),
        "big-unaligned": (np.float32, (t32 * 2,), "unaligned", False),
        "f16": (np.float16, (t32 * 2,), "C", False),
        "int64": (np.int64, (t32 * 2,), "C", True),
        "byteswapped": (np.dtype(">f4"), (t32 * 2,), "C", True),
        "zero-d": (np.float64, (), "C", True),
        "empty": (np.float32, (0,), "C", True),
    }
    return c


def _make(dtype, shape, layout):
    n = int(np.prod(shape))
    rng = np.random.default_rng(n)
    if np.dtype(dtype).kind in "iu":
        base = rng.integers(-1000, 1000, max(n, 1) * 2)
    else:
        base = random_floats(rng, max(n, 1) * 2, np.dtype(dtype).newbyteorder("="))
    if layout == "strided":
        return base[: 2 * n].astype(dtype).reshape(shape[0], 2 * shape[1])[:, ::2] if n else \
            np.zeros(shape, dtype)
    x = base[:n].astype(dtype).reshape(shape)
    if layout == "F":
        x = np.asfortranarray(x)
    if layout == "unaligned":
        raw = np.empty(x.nbytes + 1, np.uint8)
        u = raw[1:].view(x.dtype)
        u[...] = x
        x = u
    return x


OVERRIDES = [None] + BACKENDS


@pytest.mark.parametrize("override", OVERRIDES, ids=lambda o: f"override={o}")
@pytest.mark.parametrize("case", list(_dispatch_cases(96, 40)))
def test_explain_names_the_backend_that_runs(monkeypatch, low_thresholds, numba_warm,
                                             override, case):
    t32 = low_thresholds["memory-bound"]["float32"]
    t64 = low_thresholds["memory-bound"]["float64"]
    dtype, shape, layout, mask = _dispatch_cases(t32, t64)[case]
    x = _make(dtype, shape, layout)
    with relukit.use_backend(override):
        # forward
        said = relukit.explain("relu", x, return_mask=mask).splitlines()[0].split()[-1]
        spy = Spy(monkeypatch)
        res = relukit.relu(x, return_mask=mask)
        assert spy.used() == said, relukit.explain("relu", x, return_mask=mask)
        y, m = res if mask else (res, None)
        assert_same(y, expected_relu(x))
        if mask:
            assert_same(m, expected_mask(x))
        monkeypatch.undo()
        # backward
        m = expected_mask(x)
        said = relukit.explain("relu_backward", x).splitlines()[0].split()[-1]
        spy = Spy(monkeypatch)
        gb = relukit.relu_backward(x, m)
        assert spy.used() == said, relukit.explain("relu_backward", x)
        assert_same(gb, expected_backward(x, m))
        monkeypatch.undo()
    # the forced backend is used whenever it can be
    if override == "numpy":
        assert said == "numpy"
    if override == "cython" and np.dtype(dtype) in (np.float32, np.float64) and np.dtype(dtype).isnative:
        assert said == "cython"


# --------------------------------------------------------------------------------------
# process-level: import, environment variables, numba missing or broken
# --------------------------------------------------------------------------------------
def test_import_does_not_import_numba():
    r = run_python("""
        import sys
        import relukit, numpy as np
        assert "numba" not in sys.modules, "import relukit imported numba"
        print(relukit.backends())
        x = np.linspace(-1, 1, 1001).astype(np.float32)
        relukit.relu(x); relukit.relu(x, return_mask=True); relukit.relu(x, out=x)
        relukit.explain("relu", np.ones(10**7, np.float32))
        relukit.thresholds(); relukit.set_num_threads(1); relukit.get_num_threads()
        assert "numba" not in sys.modules, "small calls / controls imported numba"
        big = np.linspace(-1, 1, 5 * 10**6).astype(np.float32)
        y = relukit.relu(big)
        assert np.array_equal(y, np.where(big > 0, big, 0).astype(np.float32))
        print("numba" in sys.modules)
    """, timeout=150)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.split("\n")
    if HAVE_NUMBA:
        assert lines[1] == "True", "a call above the threshold should run the Numba kernel"


@pytest.mark.parametrize("value,expected", [("numpy", "numpy"), ("  Cython ", "cython"),
                                            ("auto", None), ("", None)])
def test_relukit_backend_env_var(value, expected):
    r = run_python("""
        import warnings, numpy as np
        warnings.simplefilter("error")
        import relukit
        print(relukit.get_backend())
        s = relukit.explain("relu", np.ones(5 * 10**6, np.float32))
        print(s.splitlines()[0])
        print("RELUKIT_BACKEND" in s)
        relukit.set_backend(None)
        print(relukit.get_backend())
    """, env={"RELUKIT_BACKEND": value}, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    got, first, mentions_env, after = r.stdout.split("\n")[:4]
    assert got == str(expected)
    if expected:
        assert first == f"relu: backend {expected}"
        assert mentions_env == "True"
    assert after == "None", "set_backend(None) overrides the environment variable"


def test_relukit_backend_env_var_forces_computation():
    r = run_python("""
        import numpy as np, relukit
        calls = []
        orig = relukit.reference.relu
        relukit.reference.relu = lambda *a, **k: (calls.append(1), orig(*a, **k))[1]
        x = np.linspace(-1, 1, 5 * 10**6).astype(np.float32)
        y = relukit.relu(x)
        assert np.array_equal(y, np.where(x > 0, x, 0).astype(np.float32))
        print(len(calls))
    """, env={"RELUKIT_BACKEND": "numpy"}, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "1"


def test_relukit_backend_env_var_invalid_is_ignored_with_warning():
    r = run_python("""
        import warnings
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            import relukit
        print(relukit.get_backend())
        print(any(issubclass(i.category, RuntimeWarning) and "RELUKIT_BACKEND" in str(i.message)
                  for i in w))
    """, env={"RELUKIT_BACKEND": "tensorflow"}, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["None", "True"]


def test_relukit_num_threads_env_var():
    r = run_python("""
        import relukit
        print(relukit.get_num_threads())
    """, env={"RELUKIT_NUM_THREADS": "1"}, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "1"
    r = run_python("""
        import warnings
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            import relukit
        print(any("RELUKIT_NUM_THREADS" in str(i.message) for i in w))
        print(relukit.get_num_threads() >= 1)
    """, env={"RELUKIT_NUM_THREADS": "many"}, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["True", "True"]


@needs_numba
def test_relukit_num_threads_env_var_runs_numba():
    r = run_python("""
        import numpy as np, relukit
        x = np.linspace(-1, 1, 5 * 10**6).astype(np.float32)
        assert "backend numba" in relukit.explain("relu", x)
        y, m = relukit.relu(x, return_mask=True)
        assert np.array_equal(y, np.where(x > 0, x, 0).astype(np.float32))
        assert np.array_equal(m, np.packbits(x > 0, bitorder="little"))
        print(relukit.get_num_threads())
    """, env={"RELUKIT_NUM_THREADS": "1"}, timeout=150)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "1"


def test_without_numba():
    """numba hidden from the interpreter: two backends, large arrays computed by Cython."""
    r = run_python("""
        import sys
        sys.modules["numba"] = None           # makes "import numba" fail, find_spec None
        import numpy as np, relukit
        assert relukit.backends() == ["numpy", "cython"], relukit.backends()
        try:
            relukit.set_backend("numba")
        except ValueError:
            pass
        else:
            raise AssertionError("set_backend('numba') accepted without numba")
        x = np.linspace(-1, 1, 5 * 10**6).astype(np.float32)
        s = relukit.explain("relu", x)
        assert "backend cython" in s and "numba" in s, s
        y, m = relukit.relu(x, return_mask=True)
        assert np.array_equal(y, np.where(x > 0, x, 0).astype(np.float32))
        assert np.array_equal(m, np.packbits(x > 0, bitorder="little"))
        g = relukit.relu_backward(x, m)
        assert np.array_equal(g, np.where(x > 0, x, 0).astype(np.float32))
        print("ok")
    """, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "ok"


def test_numba_that_fails_to_import(tmp_path):
    """An installed but broken numba (ImportError on import): Cython computes, numba drops
    out of backends()."""
    fake = tmp_path / "fake" / "numba"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('numba is broken here')\n")
    from conftest import SRC
    r = run_python("""
        import numpy as np, relukit
        x = np.linspace(-1, 1, 5 * 10**6).astype(np.float32)
        y, m = relukit.relu(x, return_mask=True)
        assert np.array_equal(y, np.where(x > 0, x, 0).astype(np.float32))
        assert np.array_equal(m, np.packbits(x > 0, bitorder="little"))
        xi = x.copy(); relukit.relu(xi, out=xi)
        assert np.array_equal(xi, y)
        print(relukit.backends())
        s = relukit.explain("relu", x)
        print(s.splitlines()[0])
    """, pythonpath=f"{tmp_path / 'fake'}{os.pathsep}{SRC}", timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout.split("\n")
    assert out[0] == "['numpy', 'cython']"
    assert out[1] == "relu: backend cython"


def test_busy_machine_keeps_large_calls_on_cython():
    """Automatic dispatch avoids the parallel backend while the machine is busy, says so in
    explain(), and a forced numba backend still runs numba."""
    x = np.ones(relukit.thresholds()["memory-bound"]["float32"] * 2, np.float32)
    try:
        _core._set_busy_mode(1)
        text = relukit.explain("relu", x)
        assert text.splitlines()[0] == "relu: backend cython"
        assert "busy" in text
        if "numba" in relukit.backends():
            with relukit.use_backend("numba"):
                assert relukit.explain("relu", x).splitlines()[0] == "relu: backend numba"
        _core._set_busy_mode(0)
        expected = "numba" if "numba" in relukit.backends() else "cython"
        assert relukit.explain("relu", x).splitlines()[0] == f"relu: backend {expected}"
    finally:
        _core._set_busy_mode(0)


def test_busy_check_can_be_turned_off_by_environment():
    out = run_python("import relukit, numpy as np\n"
                     "from relukit import _core\n"
                     "print('numba' in relukit.backends())\n"
                     "print(relukit.explain('relu', np.ones(5 * 10**6, np.float32)).splitlines()[0])",
                     env={"RELUKIT_BUSY_CHECK": "0"})
    assert out.returncode == 0, out.stderr
    has_numba, first = out.stdout.strip().splitlines()
    assert first == ("relu: backend numba" if has_numba == "True" else "relu: backend cython")


def test_busy_check_discounts_this_process_own_load():
    # The load average counts this process's own threads: two cores kept busy by our own
    # parallel calls must not make the machine "busy"; the same load from others must.
    _core._reset_busy_state()
    try:
        cores = os.cpu_count() or 1
        t = 1000.0
        assert _core._busy_update(t, 0.0, 0.0) is False
        for _ in range(600):                     # 60 s at `cores` CPU-seconds per second
            t += 0.1
            cpu = (t - 1000.0) * cores
            busy = _core._busy_update(t, cpu, float(cores))
        own, _ = _core._busy_state()
        assert own == pytest.approx(cores * (1 - math.exp(-1.0)), rel=0.02)
        assert busy is False                      # all of the load is ours
        assert _core._busy_update(t + 0.1, cpu, own + cores) is True   # others' load on top
        _core._reset_busy_state()
        assert _core._busy_update(t, 0.0, float(cores)) is True       # idle here, busy there
    finally:
        _core._reset_busy_state()
