"""`python -m relukit tune` and the per-user thresholds file the dispatcher reads."""
import json
import warnings

import pytest

import relukit
from relukit import tune
from relukit.dispatch import DEFAULT_THRESHOLDS, NEVER
from conftest import run_python


def _write(path, table, version=tune.CONFIG_VERSION):
    path.write_text(json.dumps({"version": version, "thresholds": table}))
    return path


def test_missing_file_means_defaults_without_warning(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tune.load_thresholds(str(tmp_path / "absent.json")) is None


@pytest.mark.parametrize("content", [
    "{not json",
    json.dumps({"version": 999, "thresholds": {}}),
    json.dumps({"version": tune.CONFIG_VERSION}),
    json.dumps({"version": tune.CONFIG_VERSION,
                "thresholds": {"memory-bound": {"float32": -5, "float64": 10}}}),
    json.dumps({"version": tune.CONFIG_VERSION,
                "thresholds": {"memory-bound": {"float32": "many", "float64": 10}}}),
])
def test_corrupt_file_warns_and_gives_defaults(tmp_path, content):
    path = tmp_path / "t.json"
    path.write_text(content)
    with pytest.warns(RuntimeWarning, match="ignoring the tuned thresholds"):
        assert tune.load_thresholds(str(path)) is None


def test_valid_file_is_read(tmp_path):
    table = {"memory-bound": {"float32": 1234, "float64": 5678}}
    assert tune.load_thresholds(str(_write(tmp_path / "t.json", table))) == table


def test_import_applies_tuned_thresholds(tmp_path):
    path = _write(tmp_path / "t.json", {"memory-bound": {"float32": 1234, "float64": 5678},
                                        "no-such-class": {"float32": 1, "float64": 1}})
    out = run_python("import relukit; t = relukit.thresholds(); "
                 "print(t['memory-bound']['float32'], t['memory-bound']['float64'], "
                 "t['mask']['float32'])", env={"RELUKIT_CONFIG": str(path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1234", "5678", str(DEFAULT_THRESHOLDS["mask"][0])]


def test_import_with_corrupt_file_warns_and_keeps_defaults(tmp_path):
    path = tmp_path / "t.json"
    path.write_text("[1, 2")
    out = run_python("import warnings\nwith warnings.catch_warnings(record=True) as w:\n"
                 "    warnings.simplefilter('always')\n    import relukit\n"
                 "print(any('ignoring the tuned thresholds' in str(x.message) for x in w))\n"
                 "print(relukit.thresholds()['memory-bound']['float32'])",
                 env={"RELUKIT_CONFIG": str(path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", str(DEFAULT_THRESHOLDS["memory-bound"][0])]


def test_crossover_rule():
    # numba must win at n and at every larger size
    assert tune.crossover([(1, 1.0, 2.0), (2, 2.0, 1.0), (4, 4.0, 1.0)]) == 2
    assert tune.crossover([(1, 1.0, 2.0), (2, 2.0, 1.0), (4, 1.0, 4.0)]) is None
    assert tune.crossover([(1, 2.0, 1.0), (2, 2.0, 1.0)]) == 1
    assert tune.crossover([]) is None


@pytest.mark.skipif("numba" not in relukit.backends(), reason="needs the numba backend")
def test_tune_writes_a_file_the_dispatcher_accepts(tmp_path, monkeypatch):
    seen = {}

    def fake_measure(sizes, reps, progress, gap_s):
        seen["gap_s"] = gap_s
        return {cls: {dt: [(4096, 2.0, 1.0), (8192, 2.0, 1.0)] for dt in ("float32", "float64")}
                for cls in ("memory-bound", "mask", "compute-bound")}

    monkeypatch.setattr(tune, "measure", fake_measure)
    path = tmp_path / "out.json"
    assert tune.main(["--quick", "--output", str(path), "--gap-ms", "0.5"]) == 0
    assert seen["gap_s"] == pytest.approx(0.0005)
    table = tune.load_thresholds(str(path))
    assert table["memory-bound"] == {"float32": 4096, "float64": 4096}


@pytest.mark.parametrize("gap_s", [0.0, 0.001])
def test_measure_returns_every_class_and_dtype(gap_s):
    res = tune.measure(sizes=[4096], reps=3, gap_s=gap_s)
    assert set(res) == {"memory-bound", "mask", "compute-bound"}
    for per in res.values():
        for dt in ("float32", "float64"):
            (n, cy, nb), = per[dt]
            assert n == 4096 and cy > 0 and nb > 0
    assert NEVER > 2 ** 60
