"""Process-level robustness, each case in its own interpreter (a crash or abort must fail the
test, not kill the suite): many Python threads at once with the parallel Numba backend,
fork() after the Numba backend ran, and an unwritable Numba cache."""
import importlib.util
import shutil
from pathlib import Path

import pytest

import relukit
from conftest import run_python

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                reason="numba is not installed")

# Shared prologue: a spy on the Numba kernels (counts launches that really ran), test data
# above the default thresholds, and the expected results written from the contract.
PROLOGUE = """
import os, sys, threading
import numpy as np
import relukit

rng = np.random.default_rng(0)
# Sizes at or above these thresholds (pinned here, whatever the defaults), so that
# automatic dispatch runs the parallel backend on them.
relukit.set_threshold("memory-bound", "float32", 131_072)
relukit.set_threshold("memory-bound", "float64", 262_144)
SIZES = [300_001, 262_144, 400_000 + 3, 131_072 + 9]
XS = []
for i, n in enumerate(SIZES * 2):
    dt = np.float32 if i % 2 == 0 else np.float64
    x = rng.standard_normal(n).astype(dt)
    x[rng.random(n) < 0.01] = np.nan
    x[rng.random(n) < 0.01] = -0.0
    XS.append(x)

def exp_relu(x):
    y = x.copy(); y[x <= 0] = 0; return y

def exp_mask(x):
    return np.packbits(~(x <= 0), bitorder="little")

EXP = [(exp_relu(x), exp_mask(x)) for x in XS]

def same(a, b):
    u = {4: np.uint32, 8: np.uint64}[a.dtype.itemsize]
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.view(u), b.view(u))

NUMBA_RUNS = []
def install_spy():
    from relukit import _numba_backend as nb
    for name in ("relu", "relu_mask", "mask_select"):
        orig = getattr(nb, name)
        def spy(*a, _orig=orig, **k):
            NUMBA_RUNS.append(1)
            return _orig(*a, **k)
        setattr(nb, name, spy)

def check(i, rounds=3):
    x = XS[i]
    ey, em = EXP[i]
    for _ in range(rounds):
        y, m = relukit.relu(x, return_mask=True)
        assert same(y, ey), "relu+mask"
        assert np.array_equal(m, em), "mask"
        assert same(relukit.relu(x), ey), "relu"
        z = x.copy()
        assert relukit.relu(z, out=z) is z and same(z, ey), "in place"
        g = x.copy()
        relukit.relu_backward(g, m, out=g)
        eg = x.copy(); eg[x <= 0] = 0      # grad == x, so backward(x) == relu(x) here
        assert same(g, eg), "backward"
    return True
"""


def _run(body, timeout=240, env=None, **kw):
    r = run_python(PROLOGUE + body, timeout=timeout, env=env, **kw)
    assert r.returncode == 0, (
        f"subprocess exited with {r.returncode}\nstdout:\n{r.stdout[-3000:]}\n"
        f"stderr:\n{r.stderr[-3000:]}")
    return r


LAYERS = pytest.mark.parametrize("layer", [None, "workqueue"],
                                 ids=["default-layer", "workqueue-layer"])


def _layer_env(layer):
    return {"NUMBA_THREADING_LAYER": layer} if layer else None


@LAYERS
def test_many_threads_with_numba_backend(layer):
    r = _run("""
from concurrent.futures import ThreadPoolExecutor
relukit.set_backend("numba")
relukit._core._load_numba()
install_spy()
# cold: the first launches (and their compilation) race each other
with ThreadPoolExecutor(8) as ex:
    assert all(ex.map(check, range(len(XS))))
# hot, pool
with ThreadPoolExecutor(8) as ex:
    assert all(ex.map(lambda i: check(i % len(XS), 4), range(48)))
# hot, plain threads, each with its own use_backend context on top
errors = []
def worker(i):
    try:
        with relukit.use_backend(["numba", "cython", "numpy", "numba"][i % 4]):
            check(i % len(XS), 3)
    except BaseException as e:
        errors.append(repr(e))
ts = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
[t.start() for t in ts]
[t.join() for t in ts]
assert not errors, errors
# automatic dispatch from many threads too
relukit.set_backend(None)
with ThreadPoolExecutor(8) as ex:
    assert all(ex.map(check, range(len(XS))))
import numba
print("layer:", numba.threading_layer())
print("numba runs:", len(NUMBA_RUNS))
""", env=_layer_env(layer))
    runs = int(r.stdout.split("numba runs:")[1])
    if layer:
        assert f"layer: {layer}" in r.stdout
    assert runs > 0, "the Numba kernels never ran: the test did not exercise the parallel backend"


@LAYERS
def test_fork_after_numba_backend_ran(layer):
    _run("""
relukit.set_backend("numba")
relukit._core._load_numba()
install_spy()
check(0, 1); check(1, 1)                   # numba kernels compiled and launched (parallel)
assert NUMBA_RUNS
import numba
assert numba.threading_layer() is not None
for k in range(3):
    pid = os.fork()
    if pid == 0:
        try:
            # the child may run the Numba kernels or (fork guard) fall back to Cython:
            # either way it must compute correctly and exit normally
            ok = check(k % 2, 2)
            ok = ok and relukit.get_backend() == "numba"
            os._exit(0 if ok else 3)
        except BaseException as e:
            sys.stderr.write(repr(e)); sys.stderr.flush()
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code == 0, f"child {k} exited with {code}"
check(0, 1)                                # the parent still works after forking
print("ok")
""", env=_layer_env(layer), timeout=180)


@LAYERS
def test_explain_in_forked_child_names_the_backend_that_runs(layer):
    """After fork(), explain() must still name the backend that actually computes: if the
    child cannot launch Numba's parallel kernels (fork guard), explain must not say numba."""
    r = _run("""
x = XS[0]
relukit.relu(x)                            # automatic dispatch: the numba backend
relukit._core._load_numba()
install_spy()
relukit.relu(x)
assert NUMBA_RUNS, "parent: numba did not run above the threshold"
import numba
print("layer:", numba.threading_layer())
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    try:
        said = relukit.explain("relu", x).splitlines()[0].split()[-1]
        before = len(NUMBA_RUNS)
        ok = same(relukit.relu(x), EXP[0][0])
        ran = "numba" if len(NUMBA_RUNS) > before else "cython"
        os.write(w, f"{said} {ran} {ok}".encode())
    finally:
        os._exit(0)
os.close(w)
os.waitpid(pid, 0)
print("child:", os.read(r, 100).decode())
""", env=_layer_env(layer), timeout=120)
    said, ran, ok = r.stdout.split("child:")[1].split()
    assert ok == "True"
    assert said == ran, f"in the forked child explain() says {said} but {ran} ran ({r.stdout.splitlines()[0]})"


@LAYERS
def test_fork_while_another_thread_runs_numba(layer):
    """fork() while another thread is inside a parallel launch (relukit's launch lock held,
    Numba's pool busy): the child must not hang or die, and must compute correctly."""
    _run("""
import time
relukit.set_backend("numba")
relukit._core._load_numba()
install_spy()
check(0, 1)
stop = threading.Event()
def spin():
    while not stop.is_set():
        relukit.relu(XS[2])
t = threading.Thread(target=spin, daemon=True)
t.start()
codes = []
for k in range(8):
    time.sleep(0.005 * k)
    pid = os.fork()
    if pid == 0:
        try:
            ok = check(0, 2)
            os._exit(0 if ok else 3)
        except BaseException as e:
            sys.stderr.write(repr(e)); sys.stderr.flush()
            os._exit(4)
    for _ in range(1200):                   # 60 s per child at most
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            codes.append(os.waitstatus_to_exitcode(status))
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9); os.waitpid(pid, 0)
        codes.append("hung")
stop.set(); t.join()
assert codes == [0] * 8, codes
print("ok")
""", env=_layer_env(layer), timeout=240)


@LAYERS
def test_multiprocessing_fork_pool_after_numba_ran(layer):
    _run("""
import multiprocessing as mp
relukit.set_backend("numba")
check(0, 1)
with mp.get_context("fork").Pool(2) as pool:
    assert all(pool.map(check, range(4), chunksize=1))
print("ok")
""", env=_layer_env(layer), timeout=180)


# --------------------------------------------------------------------------------------
# Numba's on-disk cache
# --------------------------------------------------------------------------------------
def test_unwritable_numba_cache_dir():
    r = _run("""
relukit.set_backend("numba")
relukit._core._load_numba()
install_spy()
check(0, 1); check(1, 1)
assert NUMBA_RUNS
print("ok")
""", env={"NUMBA_CACHE_DIR": "/dev/null/nope"}, timeout=180)
    assert r.stdout.strip().endswith("ok")


def test_no_usable_cache_location_falls_back_to_memory(tmp_path):
    """Every cache location Numba tries is unusable (NUMBA_CACHE_DIR, the package's
    __pycache__, the user cache dir): the kernels are compiled in memory with a warning."""
    pkg_src = Path(relukit.__file__).resolve().parent
    dst = tmp_path / "site" / "relukit"
    shutil.copytree(pkg_src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    (dst / "__pycache__").write_text("not a directory\n")      # in-tree cache: unusable
    r = _run("""
import warnings
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    relukit.set_backend("numba")
    relukit._core._load_numba()
assert relukit.__file__.startswith(os.environ["EXPECT_PKG"]), relukit.__file__
msgs = [str(i.message) for i in w if issubclass(i.category, RuntimeWarning)]
print("fallback warnings:", len([m for m in msgs if "cannot cache" in m]))
install_spy()
check(0, 1); check(1, 1)
assert NUMBA_RUNS
assert "numba" in relukit.backends()
print("ok")
""", env={"NUMBA_CACHE_DIR": "/dev/null/nope", "HOME": "/dev/null",
          "XDG_CACHE_HOME": "/dev/null/nope", "EXPECT_PKG": str(dst),
          "PYTHONDONTWRITEBYTECODE": "1"},
        pythonpath=str(tmp_path / "site"), timeout=180)
    n = int(r.stdout.split("fallback warnings:")[1].split()[0])
    assert n >= 1, "the in-memory fallback was not taken; the test did not test it"


def test_numba_kernels_are_cached_on_disk(tmp_path):
    """_numba_backend promises on-disk caching (cache=True): with a writable cache dir the
    first process must compile without NumbaWarnings and leave cache files for the next."""
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    body = """
import warnings
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    relukit.set_backend("numba")
    check(0, 1); check(1, 1)
print("numba warnings:", [str(i.message)[:120] for i in w
                          if "numba" in type(i.message).__module__.lower()
                          or "Numba" in type(i.message).__name__])
"""
    r = _run(body, env={"NUMBA_CACHE_DIR": str(cache)}, timeout=180)
    warned = r.stdout.split("numba warnings:")[1].strip()
    index_files = sorted(p.name for p in cache.rglob("*.nbi"))
    assert warned == "[]", f"Numba warned while compiling relukit's kernels: {warned}"
    for kernel in ("relu", "relu_mask", "mask_select"):
        assert any(kernel + "-" in f or f.startswith(f"_numba_backend.{kernel}-") for f in index_files), \
            f"no cache index for {kernel}: {index_files}"


WIDTH_PROBE = """
import llvmlite.binding as ll, numba
{before}
import relukit
from relukit import _numba_backend
avx512 = "+avx512f" in ll.get_host_cpu_features().flatten().split(",")
print("avx512:", avx512)
print("width:", _numba_backend.VECTOR_WIDTH)
print("features:", numba.config.CPU_FEATURES)
"""


def _width_probe(before="", env=None):
    r = run_python(WIDTH_PROBE.format(before=before), env=env, timeout=180)
    assert r.returncode == 0, r.stderr
    out = dict(line.split(": ", 1) for line in r.stdout.strip().splitlines())
    return out["avx512"] == "True", out["width"], out["features"]


def test_numba_vector_width_preference():
    """Loading the Numba backend turns off LLVM's 256-bit preference on AVX-512 CPUs only
    while Numba's code generator is still unset and the user set no CPU name or features."""
    avx512, width, features = _width_probe()
    if avx512:
        assert width.startswith("512-bit") and features.endswith(",-prefer-256-bit")
    else:
        assert width.startswith("not applicable") and features == "None"
    # the user's own settings win
    _, width, features = _width_probe(env={"NUMBA_CPU_FEATURES": "+sse2"})
    assert width.startswith("left to") and features == "+sse2"
    # Numba already compiled something: its code generator is fixed, nothing is changed
    _, width, features = _width_probe(before="numba.njit(lambda v: v + 1)(1.0)")
    assert features == "None"
    assert width.startswith("256-bit" if avx512 else "not applicable")
