"""Command line: ``python -m relukit <command>`` (also installed as ``relukit``).

Commands
--------
bench   time every op of ``relukit.OPS`` against NumPy (and PyTorch / numexpr when
        installed); ``python -m relukit bench --help`` for the options.
"""
import argparse
import sys


def _bench(sub):
    p = sub.add_parser("bench", help="benchmark every op against NumPy (and torch/numexpr if installed)",
                       description="Benchmark every op in relukit.OPS against NumPy's idioms "
                                   "(and PyTorch / numexpr when importable), timed side by side.")

    def run(args):
        from . import bench
        return bench.run(args)
    from . import bench
    bench.add_arguments(p)
    p.set_defaults(_run=run)


# Subcommands: name -> function adding its parser to the subparsers object.
COMMANDS = {"bench": _bench}


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
