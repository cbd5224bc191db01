"""Command line: ``python -m relukit <command>`` (also installed as ``relukit``).

Commands
--------
bench   time every op of ``relukit.OPS`` against NumPy (and PyTorch / numexpr when
        installed); ``--plot FILE.png`` also draws the results (needs matplotlib);
        ``python -m relukit bench --help`` for the options.
tune    measure where the parallel backend starts to pay on this machine and save the
        thresholds for the dispatcher (``relukit.tune``).
config  print how relukit is built and how it dispatches (``relukit.show_config()``).
"""
import argparse
import sys


def _bench(sub):
    p = sub.add_parser("bench", help="benchmark every op against NumPy (and torch/numexpr if installed)",
                       description="Benchmark every op in relukit.OPS against NumPy's idioms "
                                   "(and PyTorch / numexpr when importable), timed side by side; "
                                   "--plot draws the results (matplotlib).")

    def run(args):
        from . import bench
        return bench.run(args)
    from . import bench
    bench.add_arguments(p)
    p.set_defaults(_run=run)


def _tune(sub):
    from . import tune
    p = sub.add_parser("tune", help="measure the Cython/Numba crossovers and save them",
                       description=tune.__doc__.split("\n\n")[0])
    tune.add_arguments(p)
    p.set_defaults(_run=tune.run)


def _config(sub):
    p = sub.add_parser("config", help="show the build, backends, threads and thresholds")

    def run(args):
        import relukit
        relukit.show_config()
        return 0
    p.set_defaults(_run=run)


# Subcommands: name -> function adding its parser to the subparsers object.
COMMANDS = {"bench": _bench, "tune": _tune, "config": _config}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m relukit",
                                     description="relukit: compiled CPU kernels for ReLU activations.")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for add in COMMANDS.values():
        add(sub)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    return args._run(args)


if __name__ == "__main__":
    sys.exit(main())
