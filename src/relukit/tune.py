"""``python -m relukit tune``: measure where the parallel backend starts to pay on this
machine, and save the thresholds for the dispatcher.

For each op class and dtype, a representative kernel is timed with the Cython backend (one
thread) and the Numba backend (parallel), interleaved, at n = 2^12 .. 2^24, each call after
an idle gap (2 ms by default) as in a program that does other work between calls: the
parallel pool's workers have then gone to sleep and the call pays for waking them (50 us to
over 1 ms measured on the 2-core development machine; ``relukit/dispatch.py``). The threshold
is the smallest measured n from which Numba is faster at that size and at every larger one
("never" when it never is). The result goes to a per-user JSON file
(:func:`config_path`), which ``import relukit`` reads; a missing file means the built-in
defaults, and an unreadable or malformed one means the defaults plus a warning.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

CONFIG_VERSION = 1


def config_path():
    """``$RELUKIT_CONFIG``, else ``$XDG_CONFIG_HOME/relukit/thresholds.json`` (default
    ``~/.config/relukit/thresholds.json``)."""
    explicit = os.environ.get("RELUKIT_CONFIG")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "relukit", "thresholds.json")


def load_thresholds(path=None):
    """The thresholds saved by ``tune``, as ``{class: {"float32": n, "float64": n}}``, or
    None when there is no file. A file that cannot be used gives a warning and None."""
    path = path or config_path()
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            data = json.load(f)
        if data.get("version") != CONFIG_VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {CONFIG_VERSION}")
        table = data["thresholds"]
        for cls, per in table.items():
            for dt in ("float32", "float64"):
                n = per[dt]
                if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                    raise ValueError(f"{cls}/{dt}: {n!r} is not a size")
        return table
    except Exception as exc:           # noqa: BLE001 - any unusable file: defaults + warning
        warnings.warn(f"relukit: ignoring the tuned thresholds in {path} ({exc}); using the "
                      "built-in defaults (rerun `python -m relukit tune`)", RuntimeWarning,
                      stacklevel=3)
        return None


def _cases():
    """op class -> (what is timed, f(n, dtype) -> zero-argument call)."""
    import relukit

    def inplace(n, dt):
        x = np.random.default_rng(0).standard_normal(n).astype(dt)
        return lambda: relukit.relu(x, out=x)

    def mask_backward(n, dt):
        rng = np.random.default_rng(0)
        x = rng.standard_normal(n).astype(dt)
        g = rng.standard_normal(n).astype(dt)
        _, m = relukit.relu(x, return_mask=True)
        return lambda: relukit.relu_backward(g, m, out=g)

    def smooth(n, dt):
        x = np.random.default_rng(0).standard_normal(n).astype(dt)
        y = np.empty_like(x)
        return lambda: relukit.elu(x, out=y)

    return {
        "memory-bound": ("relu(x, out=x)", inplace),
        "mask": ("relu_backward(g, mask, out=g)", mask_backward),
        "compute-bound": ("elu(x, out=y)", smooth),
    }


def _time(call, backend, reps, gap_s=0.0):
    import relukit
    samples = []
    with relukit.use_backend(backend):
        call()                                    # warm-up (compilation, caches)
        for _ in range(reps):
            if gap_s:
                time.sleep(gap_s)
            t0 = time.perf_counter()
            call()
            samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def measure(sizes=None, reps=15, progress=None, gap_s=0.002):
    """Time every class at every size, each call after ``gap_s`` seconds idle (0: back to
    back); returns ``{class: {dtype: [(n, cython_s, numba_s)]}}``."""
    sizes = sizes or [2 ** k for k in range(12, 25)]
    cases = _cases()
    total = len(cases) * 2 * len(sizes)
    done = 0
    results = {}
    for cls, (_, make) in cases.items():
        for dt in ("float32", "float64"):
            rows = []
            for n in sizes:
                call = make(n, np.dtype(dt))
                k = max(3, min(reps, int(2e7 // n)))
                cy, nb = [], []
                for _ in range(3):                # interleave the two backends
                    cy.append(_time(call, "cython", k, gap_s))
                    nb.append(_time(call, "numba", k, gap_s))
                rows.append((n, min(cy), min(nb)))
                done += 1
                if progress:
                    progress(done, total, f"{cls} {dt} n={n}")
            results.setdefault(cls, {})[dt] = rows
    return results


def crossover(rows):
    """Smallest n from which numba wins at n and every larger measured n; None: never."""
    best = None
    for n, cy, nb in reversed(rows):
        if nb < cy:
            best = n
        else:
            break
    return best


def _bar(done, total, label, width=30):
    filled = int(width * done / total)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label:<40}")
    sys.stderr.flush()
    if done == total:
        sys.stderr.write("\n")


def add_arguments(p):
    p.add_argument("--quick", action="store_true", help="fewer sizes and repeats (about 20 s)")
    p.add_argument("--dry-run", action="store_true", help="measure and print, do not save")
    p.add_argument("--output", help=f"where to save (default: {config_path()})")
    p.add_argument("--gap-ms", type=float, default=2.0,
                   help="idle time before each timed call, as between the calls of a program "
                        "doing other work (default 2; 0 times calls back to back)")


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(prog="python -m relukit tune", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


def run(args):
    import relukit
    from relukit.dispatch import NEVER

    if "numba" not in relukit.backends():
        print("relukit tune: numba is not installed; nothing to tune", file=sys.stderr)
        return 1
    sizes = [2 ** k for k in range(12, 25, 2 if args.quick else 1)]
    results = measure(sizes, reps=7 if args.quick else 15, progress=_bar,
                      gap_s=max(args.gap_ms, 0.0) / 1000)
    table = {}
    for cls, per in results.items():
        table[cls] = {}
        for dt, rows in per.items():
            n = crossover(rows)
            table[cls][dt] = NEVER if n is None else n
            print(f"{cls:14s} {dt}: " + "  ".join(
                f"2^{int(np.log2(m))} {cy / nb:4.2f}" for m, cy, nb in rows)
                + f"  -> {'never' if n is None else n}")
    print("(figures: Cython time / Numba time; > 1 means the parallel kernel wins)")
    if args.dry_run:
        return 0
    path = args.output or config_path()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"version": CONFIG_VERSION, "machine": platform.platform(),
                   "cpus": os.cpu_count(), "threads": relukit.get_num_threads(),
                   "thresholds": table}, f, indent=2)
    print(f"saved to {path}; `import relukit` uses these thresholds from now on")
    return 0
