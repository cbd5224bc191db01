"""pytest-benchmark suite for relukit (not collected by the default test run).

Run it explicitly::

    PYTHONPATH=src python -m pytest bench                        # full: n = 10^3 .. 10^7
    PYTHONPATH=src python -m pytest bench --big                  # also n = 10^8
    PYTHONPATH=src python -m pytest bench --bench-quick -q --benchmark-disable   # CI smoke

``--bench-quick`` (or ``RELUKIT_BENCH_QUICK=1``) runs a tiny subset (n = 10^3 and 10^6) with
few rounds; ``--benchmark-disable`` makes every benchmark run its call once (its result is
still checked against relukit.reference). ``RELUKIT_BENCH_PEERS=torch,numexpr,jax`` picks the
peers (default: every one that imports; empty: none).
"""
import os


def pytest_addoption(parser):
    group = parser.getgroup("relukit benchmarks")
    group.addoption("--big", action="store_true", default=False,
                    help="relukit bench: also run n = 10^8 (needs ~6 GB of memory for float64)")
    group.addoption("--bench-quick", action="store_true", default=False,
                    help="relukit bench: tiny subset with few rounds, for a CI smoke run "
                         "(also RELUKIT_BENCH_QUICK=1)")


def bench_quick(config):
    env = os.environ.get("RELUKIT_BENCH_QUICK", "").strip().lower()
    return bool(config.getoption("--bench-quick")) or env not in ("", "0", "false", "no")


def pytest_report_header(config):
    import relukit
    from relukit import bench
    thr = "; ".join(f"{cls}: float32 {bench.fmt_threshold(v['float32'])}, "
                    f"float64 {bench.fmt_threshold(v['float64'])}"
                    for cls, v in relukit.thresholds().items())
    names = os.environ.get("RELUKIT_BENCH_PEERS")
    loaded = bench.load_peers(names=None if names is None else [p.strip() for p in names.split(",")])
    peers = ", ".join(f"jax ({bench.jax_threads()[0]} XLA CPU threads)" if p == "jax" else p
                      for p in loaded) or "none"
    return [f"relukit {relukit.__version__}: backends {', '.join(relukit.backends())}, "
            f"{relukit.get_num_threads()} threads, numba thresholds ({thr}); peers: {peers}; "
            f"mode: {'quick' if bench_quick(config) else 'full'}{' + big' if config.getoption('--big') else ''}"]


try:
    import pytest_benchmark  # noqa: F401
except ImportError:          # the suite skips itself; the hook below would be unknown
    pass
else:
    def pytest_benchmark_update_machine_info(config, machine_info):
        import relukit
        machine_info["relukit"] = {
            "version": relukit.__version__,
            "backends": relukit.backends(),
            "threads": relukit.get_num_threads(),
            "thresholds": relukit.thresholds(),
            "forced_backend": relukit.get_backend(),
        }
