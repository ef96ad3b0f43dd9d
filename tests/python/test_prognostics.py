"""Degradation prognostics from Python and the CLI (models/equipment/prognostics.md):
calibrate on C-MAPSS FD001's training file alone, the RUL distributions' accuracy
and 90 % interval coverage on its test file, the pipeline unchanged on a
synthetic six-condition fleet read from CSV, `twinsim calibrate`, and errors."""

import gzip
import json
import os
import subprocess

import numpy as np
import pandas as pd
import pytest

import twinsim

CLI = os.environ.get("TWINSIM_CLI")


@pytest.fixture(scope="module")
def data(request):
    root = os.environ.get("TWINSIM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
    return os.path.join(root, "scenarios", "equipment", "data")


@pytest.fixture(scope="module")
def fd001(data):
    return twinsim.calibrate(os.path.join(data, "train_FD001.txt.gz"))


def protocol(table, truth):
    """RMSE and 90 % coverage with the truth capped at 125 (the data set's protocol)."""
    truth = np.minimum(np.asarray(truth), 125.0)
    ds = table.attrs["distributions"]
    predicted = np.array([ds[u].capped_mean(125.0) for u in table.index])
    lo = np.array([ds[u].capped_quantile(0.05, 125.0) for u in table.index])
    hi = np.array([ds[u].capped_quantile(0.95, 125.0) for u in table.index])
    rmse = float(np.sqrt(np.mean((predicted - truth) ** 2)))
    coverage = float(np.mean((truth >= lo) & (truth <= hi)))
    return rmse, coverage


def test_fd001_accuracy_and_coverage(fd001, data, tmp_path):
    assert fd001.informative_sensors == ["s2", "s3", "s4", "s7", "s8", "s9", "s11", "s12", "s13", "s14", "s15",
                                         "s17", "s20", "s21"]
    assert fd001.training["units"] == 100
    assert fd001.training["seconds"] < 5.0
    table = twinsim.predict_rul(fd001, os.path.join(data, "test_FD001.txt.gz"), horizon=30)
    assert len(table) == 100
    assert list(table.columns) == ["cycle", "health", "rul_mean", "rul_q05", "rul_q50", "rul_q95", "p_fail_30"]
    assert (table.rul_q05 <= table.rul_q50).all() and (table.rul_q50 <= table.rul_q95).all()
    assert table.p_fail_30.between(0, 1).all()
    rmse, coverage = protocol(table, twinsim.read_rul_truth(os.path.join(data, "RUL_FD001.txt")))
    assert rmse < 18.0
    assert 0.85 <= coverage <= 0.95

    # The units most likely to fail within 30 cycles really are near their end.
    truth = pd.Series(twinsim.read_rul_truth(os.path.join(data, "RUL_FD001.txt")), index=table.index)
    likely = table.sort_values("p_fail_30", ascending=False).head(10).index
    assert truth[likely].median() < 30

    # The parameters file round-trips: the same distributions from the file.
    params = tmp_path / "params.json"
    fd001.save(str(params))
    again = twinsim.predict_rul(str(params), os.path.join(data, "test_FD001.txt.gz"))
    np.testing.assert_array_equal(again.attrs["distributions"]["31"].pmf, table.attrs["distributions"]["31"].pmf)
    assert json.loads(params.read_text())["format"] == "twinsim-prognostics"


def six_conditions(set_, seed):
    """FD001 moved to six operating conditions (FD002's operating points), each with
    its own sensor offsets and gains, as a DataFrame in the CSV layout."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 100], [10, 0.25, 100], [20, 0.7, 100], [25, 0.62, 60], [35, 0.84, 100],
                        [42, 0.84, 100]], dtype=float)
    frames = []
    for unit in set_.units:
        u = set_.unit(unit)
        n = len(u["cycles"])
        c = rng.integers(0, 6, n)
        settings = centres[c] + rng.normal(0, 1, (n, 3)) * [0.002, 0.0002, 0]
        sensors = u["sensors"] * (1 + 0.08 * c)[:, None] + 37.0 * c[:, None] * (np.arange(21) % 3)[None, :]
        frame = pd.DataFrame(sensors, columns=set_.sensor_names)
        frame.insert(0, "setting3", settings[:, 2])
        frame.insert(0, "setting2", settings[:, 1])
        frame.insert(0, "setting1", settings[:, 0])
        frame.insert(0, "cycle", u["cycles"])
        frame.insert(0, "unit", unit)
        frames.append(frame)
    return pd.concat(frames)


def test_the_pipeline_runs_unchanged_on_six_conditions(data, tmp_path):
    train = twinsim.HistorySet.read(os.path.join(data, "train_FD001.txt.gz"))
    test = twinsim.HistorySet.read(os.path.join(data, "test_FD001.txt.gz"), failed=False)
    train_csv, test_csv = tmp_path / "train.csv", tmp_path / "test.csv.gz"
    six_conditions(train, 1).to_csv(train_csv, index=False)
    with gzip.open(test_csv, "wt") as f:
        six_conditions(test, 2).to_csv(f, index=False)
    model = twinsim.calibrate(str(train_csv))
    assert model.conditions == 6
    table = twinsim.predict_rul(model, str(test_csv))
    rmse, coverage = protocol(table, twinsim.read_rul_truth(os.path.join(data, "RUL_FD001.txt")))
    assert rmse < 18.0
    assert coverage >= 0.8


def test_bad_input_is_named(tmp_path, fd001):
    bad = tmp_path / "train.txt"
    bad.write_text("1 1 0 0 100 " + " ".join(["1"] * 21) + "\n1 2 0 0 100 1 2\n")
    with pytest.raises(twinsim.HistoryInputError, match=r"train.txt:2: expected 26 numbers, found 7"):
        twinsim.calibrate(str(bad))
    with pytest.raises(twinsim.TwinsimIoError):
        twinsim.calibrate(str(tmp_path / "missing.txt"))
    params = fd001.to_dict()
    params["degradation"]["temper"] = 3.0
    with pytest.raises(twinsim.PrognosticsParameterError, match=r"degradation.temper"):
        twinsim.PrognosticsModel.from_dict(params)


@pytest.mark.skipif(not CLI, reason="TWINSIM_CLI not set")
def test_cli_calibrate_writes_what_python_fits(fd001, data, tmp_path):
    out = tmp_path / "cli-params.json"
    done = subprocess.run([CLI, "calibrate", os.path.join(data, "train_FD001.txt.gz"), "-o", str(out), "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["training"]["units"] == 100
    written = json.loads(out.read_text())
    mine = fd001.to_dict()
    for doc in (written, mine):
        doc["training"].pop("seconds")
    assert written == mine

    bad = tmp_path / "bad.csv"
    bad.write_text("unit,cycle,t\nA,1,x\n")
    done = subprocess.run([CLI, "calibrate", str(bad), "-o", str(tmp_path / "x.json")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 1
    assert "bad.csv:2" in done.stderr and 'column "t"' in done.stderr
    assert not (tmp_path / "x.json").exists()


def engine_graph(source_dir, ids):
    graph = twinsim.TwinGraph()
    with open(os.path.join(source_dir, "models", "equipment", "degrading_equipment.json"), encoding="utf-8") as f:
        graph.create_models(json.load(f))
    for twin in ids:
        graph.upsert_digital_twin(twin, {"$metadata": {"$model": "dtmi:twinsim:equipment:TurbofanEngine;1"},
                                         "capacity": 1.0})
    return graph


def reading(test, unit, k):
    rows = test.unit(unit)
    values = {name: float(rows["settings"][k, j]) for j, name in enumerate(test.setting_names)}
    values.update({name: float(rows["sensors"][k, j]) for j, name in enumerate(test.sensor_names)})
    return values


def test_live_prognostics_follows_property_updates_and_telemetry(fd001, data, source_dir):
    test = twinsim.HistorySet.read(os.path.join(data, "test_FD001.txt.gz"), failed=False)
    graph = engine_graph(source_dir, ["34", "1", "idle"])
    expected = {d.unit: d for d in fd001.predict(test)}
    with twinsim.LivePrognostics(graph, fd001, horizon=30) as live:
        assert live.seed(test) == 98               # only 34 and 1 of the 100 are twins here ("idle" has no history)
        live.drain()
        engine = graph.get_digital_twin("34")
        assert engine["prognosticsReadings"] == len(test.unit("34")["cycles"])
        assert engine["rulMean"] == pytest.approx(expected["34"].mean, rel=1e-12)
        assert engine["rulQuantiles"]["q95"] == expected["34"].quantile(0.95)
        assert engine["failureProbability"] == pytest.approx(expected["34"].probability_within(30), rel=1e-12)
        assert "rulMean" not in graph.get_digital_twin("idle")

        # Two more cycles of engine 1: one as a property update, one as telemetry.
        before = live.statistics["readings"]
        graph.update_digital_twin("1", [{"op": "add", "path": "/" + k, "value": v}
                                        for k, v in reading(test, "1", 30).items()])
        graph.publish_telemetry("1", {"reading": reading(test, "1", 29)})
        live.drain()
        assert live.statistics["readings"] == before + 2
        assert graph.get_digital_twin("1")["prognosticsReadings"] == 33
        assert live.distribution("1").cycle == 33
        assert live.statistics["failures"] == 0
    with pytest.raises(ValueError, match="closed"):
        live.drain()


@pytest.mark.skipif(not CLI, reason="TWINSIM_CLI not set")
def test_cli_prognostics_predicts_a_store_from_its_history(fd001, data, source_dir, tmp_path):
    test = twinsim.HistorySet.read(os.path.join(data, "test_FD001.txt.gz"), failed=False)
    params = tmp_path / "params.json"
    fd001.save(str(params))
    store_dir = tmp_path / "fleet.store"
    store = twinsim.open_store(str(store_dir))
    with open(os.path.join(source_dir, "models", "equipment", "degrading_equipment.json"), encoding="utf-8") as f:
        store.create_models(json.load(f))
    store.upsert_digital_twin("34", {"$metadata": {"$model": "dtmi:twinsim:equipment:TurbofanEngine;1"}})
    for k in range(len(test.unit("34")["cycles"])):
        store.update_digital_twin("34", [{"op": "add", "path": "/" + n, "value": v}
                                         for n, v in reading(test, "34", k).items()])
    store.close()
    done = subprocess.run([CLI, "prognostics", "--store", str(store_dir), "-p", str(params), "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout.splitlines()[0])
    expected = {d.unit: d for d in fd001.predict(test)}["34"]
    assert row["twin"] == "34"
    assert row["rul_mean"] == pytest.approx(expected.mean, rel=1e-9)
    store = twinsim.open_store(str(store_dir))
    try:
        assert store.get_digital_twin("34")["rulP50"] == expected.quantile(0.5)
    finally:
        store.close()


def test_bundled_predicted_failures_scenario(source_dir, data):
    """The journey's scenario on the bundled fleet: engines fail from their RUL
    distributions (more among those the model rates likely to fail), and their
    aircraft are grounded."""
    path = source_dir / "scenarios" / "equipment" / "predicted-failures.yaml"
    document = twinsim.Scenario.from_file(str(path)).to_dict()
    document["replications"] = 4
    scenario = twinsim.Scenario.from_dict(document, directory=path.parent)
    kpis = twinsim.run(scenario, threads=2, progress=False).kpis
    failures = float(kpis[kpis.name == "engine failures"]["mean"].iloc[0])
    grounded = float(kpis[kpis.name == "aircraft grounded hours"]["mean"].iloc[0])
    # 30 days = 90 cycles: the fleet's predictions put about a third of the engines' RUL below that.
    with open(path.parent / "fleet.ndjson", encoding="utf-8") as f:
        engines = [json.loads(line) for line in f if 'TurbofanEngine' in line]
    expected = sum(e["rulQuantiles"]["q50"] < 90 for e in engines)
    assert 0.5 * expected <= failures <= 1.5 * expected + 2
    assert grounded > 0
