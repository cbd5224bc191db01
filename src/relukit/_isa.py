"""Import the build of the compiled core for the best instruction-set level this CPU runs.

setup.py compiles the same core (kernels/core.pxi) once per level into
``relukit._core_<level>``; this module picks one at import, before anything else of relukit
is loaded, and ``relukit._core`` is that module. Only the chosen module is imported: the
dispatcher's state (overrides, thresholds, the parallel-launch lock) lives in it.

``RELUKIT_ISA=baseline|avx2|avx512|native`` forces a level (to test each level's kernels,
or to compare their speed); a level this installation did not build, or this CPU cannot
run, is refused with a warning and the automatic choice is used instead.
"""
import importlib
import importlib.util
import os
import warnings

from . import _cpu

# Highest first. "native" exists only in a RELUKIT_MARCH build, made on (and for) the
# machine it runs on, so it is preferred whenever it was built.
PREFERENCE = ("native", "avx512", "avx2", "baseline")


def _built(level):
    try:
        return importlib.util.find_spec(f"{__package__}._core_{level}") is not None
    except (ImportError, ValueError):
        return False


def built_levels():
    """The levels this installation has a module for, highest first."""
    return [lv for lv in PREFERENCE if _built(lv)]


def runnable_levels():
    """The built levels this CPU can run, highest first (the automatic choice is the first)."""
    cpu = set(_cpu.supported_levels()) | {"native"}
    return [lv for lv in built_levels() if lv in cpu]


def choose():
    """(level, why): the level to import and the reason, as ``show_config`` prints it."""
    runnable = runnable_levels()
    if not runnable:
        raise ImportError("relukit: no build of the compiled core found for this CPU "
                          f"(built: {built_levels() or 'none'}); reinstall relukit")
    forced = os.environ.get("RELUKIT_ISA", "").strip().lower()
    if forced:
        if forced in runnable:
            return forced, "forced by RELUKIT_ISA"
        why = ("this CPU cannot run it" if forced in built_levels() else
               "it is not built" if forced in PREFERENCE else "unknown level")
        warnings.warn(f"relukit: ignoring RELUKIT_ISA={forced!r} ({why}); "
                      f"runnable levels: {', '.join(runnable)}", RuntimeWarning, stacklevel=3)
    return runnable[0], "best level this CPU runs"


LEVEL, REASON = choose()
core = importlib.import_module(f"{__package__}._core_{LEVEL}")
