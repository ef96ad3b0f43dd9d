"""Results files (docs/results-format.md): h5py and xarray read what the C++
writer wrote, and twinsim.open_results returns exactly the values written.

The file comes from tests/tools/write_results_sample.cpp (TWINSIM_RESULTS_SAMPLE);
its values are repeated here.
"""

import json
import os
import pathlib
import subprocess

import h5py
import numpy as np
import pytest
import xarray as xr

import twinsim

SCENARIOS = {
    "baseline": dict(index=0, replications=3, seed=42, start="2024-07-01T00:00:00",
                     description="Normal operation", parameters={"setpoint": 21.0},
                     spec={"name": "baseline", "horizon": 3600, "step": 600, "replications": 3, "seed": 42}),
    "chiller_failure": dict(index=1, replications=2, seed=43, start="2024-07-01T06:30:00",
                            description="chiller-1 trips at 30 min", parameters={"failure_time": 1800},
                            spec={"name": "chiller_failure", "horizon": 1800, "step": 300, "replications": 2,
                                  "seed": 43, "events": [{"time": 1800, "twin": "chiller-1", "type": "failure"}]}),
}
ROOMS = ["room-1", "room-2", "room-3"]
ROOM_MODEL = "dtmi:twinsim:building:Room;1"
# scenario -> [(name, index, unit, twins, times in seconds, model, property, long_name)]
SERIES = {
    "baseline": [
        ("Room.temperature", 0, "degC", ROOMS, [600.0 * t for t in range(7)], ROOM_MODEL, "temperature",
         "Room air temperature"),
        ("Room.setpoint", 1, "degC", ROOMS, [600.0 * t for t in range(7)], ROOM_MODEL, "setpoint", "Room.setpoint"),
        ("Chiller.power", 2, "W", ["chiller-1", "chiller-2"], [900.0 * t for t in range(10)],
         "dtmi:twinsim:building:Chiller;1", "power", "Electrical power"),
    ],
    "chiller_failure": [
        ("Room.temperature", 0, "degC", ROOMS, [300.0 * t for t in range(7)], ROOM_MODEL, "temperature",
         "Room air temperature"),
        ("Room.setpoint", 1, "degC", ROOMS, [300.0 * t for t in range(7)], ROOM_MODEL, "setpoint", "Room.setpoint"),
    ],
}
EVENTS = {
    "baseline": [(0, 1200.0, "chiller-1", "failure", {"mode": "trip"}), (0, 2400.0, "chiller-1", "repair", {}),
                 (1, 300.0, "", "alarm", {"level": "high"}), (2, 0.0, "room-2", "rule", {})],
    "chiller_failure": [(0, 1800.0, "chiller-1", "failure", {"injected": True}),
                        (1, 1800.0, "chiller-1", "failure", {"injected": True}),
                        (1, 1500.5, "", "alarm", {"level": "low"})],
}
HOT = "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"
KPIS = {  # (name, selection, statistic, replication, aggregate, value, unit)
    "baseline": [("mean_temperature", "room-1", "mean", 0, "", 20.5, "degC"),
                 ("mean_temperature", "room-1", "mean", 1, "", 21.5, "degC"),
                 ("mean_temperature", "room-1", "mean", 2, "", 22.5, "degC"),
                 ("mean_temperature", "room-1", "mean", -1, "mean", 21.5, "degC"),
                 ("mean_temperature", "room-1", "mean", -1, "std", 1.0, "degC"),
                 ("mean_temperature", "room-1", "mean", -1, "ci95_low", 19.015, "degC"),
                 ("mean_temperature", "room-1", "mean", -1, "ci95_high", 23.985, "degC"),
                 ("mean_temperature", "room-1", "mean", -1, "n", 3.0, "1")],
    "chiller_failure": [("hot_hours", HOT, "time_above", 0, "", 0.25, "h"),
                        ("hot_hours", HOT, "time_above", 1, "", 0.75, "h"),
                        ("hot_hours", HOT, "time_above", -1, "mean", 0.5, "h"),
                        ("failures", "chiller-1", "count", 0, "", 1.0, "1"),
                        ("failures", "chiller-1", "count", 1, "", 1.0, "1")],
}


def expected_values(scenario, series_index, replications, times, twins):
    s = SCENARIOS[scenario]["index"]
    r, t, n = np.meshgrid(np.arange(replications), np.arange(times), np.arange(twins), indexing="ij")
    values = 100.0 * s + 10.0 * series_index + r + 0.5 * t + 0.25 * n
    if scenario == "baseline" and series_index == 0:
        values[2, 6, :] = np.nan  # never written
    return values


def datetimes(start, seconds):
    return np.datetime64(start, "ns") + (np.asarray(seconds) * 1e9).astype("timedelta64[ns]")


@pytest.fixture(scope="module")
def writer():
    program = os.environ.get("TWINSIM_RESULTS_SAMPLE")
    if not program:
        pytest.skip("TWINSIM_RESULTS_SAMPLE (the twinsim_results_sample program) is not set; run through CTest")
    return program


@pytest.fixture(scope="module")
def sample(writer, tmp_path_factory):
    path = tmp_path_factory.mktemp("results") / "sample.h5"
    subprocess.run([writer, str(path)], check=True)
    return path


# --- h5py: every attribute and dataset docs/results-format.md lists ----------------------------------

def test_h5py_reads_file_attributes(sample):
    with h5py.File(sample, "r") as f:
        a = f.attrs
        assert a["format"] == "twinsim-results" and a["format_version"] == "1.0"
        assert a["twinsim_version"] == twinsim.__version__
        assert np.datetime64(a["created"].rstrip("Z")) > np.datetime64("2020-01-01")
        assert a["base_graph_source"] == "sample/building.ndjson"
        assert a["base_graph_version"] == "sha256:5a3c0ffee"
        assert a["description"] == "twinsim results sample"
        assert list(f.keys()) == list(SCENARIOS)


def test_h5py_reads_scenarios_series_and_tables(sample):
    with h5py.File(sample, "r") as f:
        for name, s in SCENARIOS.items():
            g = f[name]
            assert list(g.keys()) == ["series", "events", "kpis"]
            assert g.attrs["description"] == s["description"]
            assert json.loads(g.attrs["spec"]) == s["spec"]
            assert json.loads(g.attrs["parameters"]) == s["parameters"]
            assert g.attrs["seed"] == s["seed"] and g.attrs["seed"].dtype == np.uint64
            assert g.attrs["replications"] == s["replications"] and g.attrs["replications"].dtype == np.uint32
            assert g.attrs["scenario_index"] == s["index"]
            assert g.attrs["start"] == s["start"] + ".0000000Z"
            units = "seconds since " + s["start"]
            assert g.attrs["time_units"] == units
            assert list(g["series"].keys()) == [x[0] for x in SERIES[name]]
            for (series, index, unit, twins, times, model, prop, long_name) in SERIES[name]:
                sg = g["series"][series]
                assert sorted(sg.keys()) == sorted([series, "replication", "time", "twin"])
                data = sg[series]
                assert data.dtype == np.float64 and data.shape == (s["replications"], len(times), len(twins))
                assert data.chunks[0] == 1 and np.isnan(data.fillvalue)
                extendable = series == "Chiller.power"
                assert data.maxshape == (s["replications"], None if extendable else len(times), len(twins))
                assert (data.attrs["units"], data.attrs["long_name"], data.attrs["model"], data.attrs["property"]) \
                    == (unit, long_name, model, prop)
                np.testing.assert_array_equal(data[()], expected_values(name, index, *data.shape))
                # dimension scales, attached in order
                assert [d[0].name.rsplit("/", 1)[1] for d in data.dims] == ["replication", "time", "twin"]
                np.testing.assert_array_equal(sg["replication"][()], np.arange(s["replications"]))
                assert sg["replication"].dtype == np.uint32
                assert list(sg["twin"].asstr()[()]) == twins
                np.testing.assert_array_equal(sg["time"][()], times)
                t = sg["time"].attrs
                assert (t["units"], t["calendar"], t["standard_name"], t["axis"]) == \
                    (units, "proleptic_gregorian", "time", "T")
                for scale in ("replication", "time", "twin"):
                    assert sg[scale].attrs["CLASS"] == b"DIMENSION_SCALE"
            ev = g["events"]
            rows = EVENTS[name]
            np.testing.assert_array_equal(ev["event"][()], np.arange(len(rows)))
            assert ev["event"].attrs["CLASS"] == b"DIMENSION_SCALE"
            assert list(ev["replication"][()]) == [r[0] for r in rows]
            assert list(ev["time"][()]) == [r[1] for r in rows]
            assert (ev["time"].attrs["units"], ev["time"].attrs["calendar"]) == (units, "proleptic_gregorian")
            assert list(ev["twin"].asstr()[()]) == [r[2] for r in rows]
            assert list(ev["type"].asstr()[()]) == [r[3] for r in rows]
            assert [json.loads(d) for d in ev["detail"].asstr()[()]] == [r[4] for r in rows]
            assert ev["detail"].attrs["content_type"] == "application/json"
            assert ev["replication"].maxshape == (None,)
            kp = g["kpis"]
            rows = KPIS[name]
            np.testing.assert_array_equal(kp["kpi"][()], np.arange(len(rows)))
            for i, column in enumerate(("name", "selection", "statistic", "replication", "aggregate", "value",
                                        "unit")):
                got = list(kp[column].asstr()[()]) if kp[column].dtype.kind == "O" else list(kp[column][()])
                assert got == [r[i] for r in rows], column
            assert kp["replication"].dtype == np.int32


# --- xarray with engine h5netcdf ------------------------------------------------------------------

def test_xarray_opens_every_series_group(sample):
    for name, s in SCENARIOS.items():
        for (series, index, unit, twins, times, _model, _prop, _long) in SERIES[name]:
            with xr.open_dataset(sample, group=f"{name}/series/{series}", engine="h5netcdf") as ds:
                da = ds[series]
                assert da.dims == ("replication", "time", "twin")
                assert ds["time"].dtype == np.dtype("datetime64[ns]")
                np.testing.assert_array_equal(ds["time"].values, datetimes(s["start"], times))
                assert list(ds["twin"].values) == twins
                assert da.attrs["units"] == unit
                np.testing.assert_array_equal(da.values, expected_values(name, index, *da.shape))


def test_xarray_opens_event_and_kpi_tables(sample):
    with xr.open_dataset(sample, group="baseline/events", engine="h5netcdf") as ds:
        np.testing.assert_array_equal(ds["time"].values, datetimes("2024-07-01T00:00:00", [1200, 2400, 300, 0]))
    with xr.open_dataset(sample, group="chiller_failure/kpis", engine="h5netcdf") as ds:
        assert list(ds["value"].values) == [r[5] for r in KPIS["chiller_failure"]]


# --- twinsim.open_results -------------------------------------------------------------------------

def test_open_results_identity_specs_and_parameters(sample):
    with twinsim.open_results(sample) as results:
        assert results.scenarios == list(SCENARIOS)
        assert results.attrs["format"] == "twinsim-results"
        assert results.attrs["base_graph_version"] == "sha256:5a3c0ffee"
        for name, s in SCENARIOS.items():
            assert results.spec(name) == s["spec"]
            assert results.parameters(name) == s["parameters"]
            info = results.info(name)
            assert (info["seed"], info["replications"], info["description"]) == \
                (s["seed"], s["replications"], s["description"])
            assert results.series_names(name) == [x[0] for x in SERIES[name]]


def test_open_results_series_are_exact(sample):
    with twinsim.open_results(pathlib.Path(sample)) as results:
        for name, s in SCENARIOS.items():
            for (series, index, unit, twins, times, model, prop, long_name) in SERIES[name]:
                da = results.series(name, series)
                assert da.name == series and da.dims == ("replication", "time", "twin")
                np.testing.assert_array_equal(da.values, expected_values(name, index, *da.shape))
                np.testing.assert_array_equal(da["time"].values, datetimes(s["start"], times))
                np.testing.assert_array_equal(da["seconds"].values, times)
                assert list(da["twin"].values) == twins
                assert list(da["replication"].values) == list(range(s["replications"]))
                assert da.attrs == {"units": unit, "long_name": long_name, "model": model, "property": prop,
                                    "scenario": name}
        # a NaN cell stays NaN, its neighbours do not
        t = results.series("baseline", "Room.temperature")
        assert t.isel(replication=2, time=6).isnull().all()
        assert float(t.sel(replication=1, twin="room-2").isel(time=6)) == 1 + 3 + 0.25


def test_open_results_dataset(sample):
    with twinsim.open_results(sample) as results:
        ds = results.dataset("chiller_failure")
        assert list(ds.data_vars) == ["Room.temperature", "Room.setpoint"]
        assert ds["Room.setpoint"].attrs["units"] == "degC"
        with pytest.raises(ValueError, match="different time axes"):
            results.dataset("baseline")
        rooms = results.dataset("baseline", names=["Room.temperature", "Room.setpoint"])
        assert rooms.sizes == {"replication": 3, "time": 7, "twin": 3}
        union = results.dataset("baseline", join="outer")
        assert union.sizes["twin"] == 5


def test_open_results_events_and_kpis(sample):
    with twinsim.open_results(sample) as results:
        for name, s in SCENARIOS.items():
            events = results.events(name)
            rows = EVENTS[name]
            assert list(events.columns) == ["replication", "time", "seconds", "twin", "type", "detail"]
            assert list(events["replication"]) == [r[0] for r in rows]
            assert list(events["seconds"]) == [r[1] for r in rows]
            np.testing.assert_array_equal(events["time"].values, datetimes(s["start"], [r[1] for r in rows]))
            assert list(events["twin"]) == [r[2] for r in rows]
            assert list(events["type"]) == [r[3] for r in rows]
            assert list(events["detail"]) == [r[4] for r in rows]
            kpis = results.kpis(name)
            assert [tuple(row) for row in kpis.drop(columns="scenario").itertuples(index=False)] == KPIS[name]
        everything = results.kpis()
        assert list(everything["scenario"]) == ["baseline"] * 8 + ["chiller_failure"] * 5
        summary = everything[everything["replication"] == -1]
        assert summary.set_index("aggregate").loc["ci95_high", "value"] == 23.985


def test_open_results_errors(sample, tmp_path):
    missing = tmp_path / "absent.h5"
    with pytest.raises(FileNotFoundError, match="absent.h5"):
        twinsim.open_results(missing)
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(twinsim.TwinsimIoError, match="not a valid twinsim results file: .*notes.h5: "):
        twinsim.open_results(text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(twinsim.TwinsimIoError, match="not a valid twinsim results file: .*other.h5: .*'something-else'"):
        twinsim.open_results(other)
    with twinsim.open_results(sample) as results:
        with pytest.raises(twinsim.NotFoundError, match="no scenario named 'nope'"):
            results.series("nope", "Room.temperature")
        with pytest.raises(LookupError, match="no series 'Room.humidity'"):
            results.series("baseline", "Room.humidity")


def test_open_results_refuses_a_truncated_file(sample, tmp_path):
    data = open(sample, "rb").read()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(twinsim.TwinsimIoError, match=r"^not a valid twinsim results file: .*truncated\.h5: ") as caught:
        twinsim.open_results(truncated)
    assert isinstance(caught.value, OSError) and isinstance(caught.value, twinsim.TwinsimError)


def test_open_results_refuses_a_file_whose_dataset_has_the_wrong_rank(sample, tmp_path):
    damaged = tmp_path / "damaged.h5"
    damaged.write_bytes(open(sample, "rb").read())
    with h5py.File(damaged, "r+") as f:
        scenario = next(iter(f))
        del f[scenario]["kpis"]["value"]
        f[scenario]["kpis"].create_dataset("value", data=np.zeros((2, 2)))
    with pytest.raises(twinsim.TwinsimIoError, match=r"not a valid twinsim results file: .*damaged\.h5: .*/kpis/value: expected a 1-D dataset"):
        twinsim.open_results(damaged)


def test_failed_write_leaves_no_file(writer, tmp_path):
    path = tmp_path / "failed.h5"
    done = subprocess.run([writer, "--fail", str(path)], capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert list(tmp_path.iterdir()) == []


# --- compact files: compressed, chunked for both common reads, at most the raw size ----------------

def raw_bytes(f):
    """What a results file holds, counted as raw bytes: every number at its width,
    every string (dataset element or attribute) at its UTF-8 length."""
    total = 0

    def text_or_number(value):
        if isinstance(value, (bytes, str)):
            return len(value.encode() if isinstance(value, str) else value)
        return np.asarray(value).nbytes

    def visit(name, obj):
        nonlocal total
        for key, value in obj.attrs.items():
            if key not in ("DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME"):  # HDF5's own bookkeeping
                total += text_or_number(value)
        if isinstance(obj, h5py.Dataset):
            if h5py.check_string_dtype(obj.dtype):
                values = obj.asstr()[()]
                total += sum(len(v.encode()) for v in np.atleast_1d(values))
            else:
                total += obj.size * obj.dtype.itemsize

    for key, value in f.attrs.items():
        total += text_or_number(value)
    f.visititems(visit)
    return total


def test_series_are_compressed_with_filters_every_reader_has(sample):
    with h5py.File(sample, "r") as f:
        for name in SCENARIOS:
            for (series, *_rest) in SERIES[name]:
                data = f[name]["series"][series][series]
                assert data.compression == "gzip" and data.compression_opts == 1 and data.shuffle
        for table in ("events", "kpis"):
            column = f["baseline"][table]["time" if table == "events" else "value"]
            assert column.compression == "gzip" and column.shuffle


def test_a_sweep_file_is_at_most_its_raw_size_and_h5py_and_xarray_read_it(source_dir, tmp_path):
    # The building's capacity sweep as `twinsim run` writes it: 6 scenarios x 10 replications,
    # room temperatures every 15 minutes for two days, events and KPI tables per scenario.
    scenario = twinsim.Scenario.from_file(source_dir / "scenarios/building/capacity-sweep.yaml")
    out = tmp_path / "sweep.h5"
    twinsim.run(scenario, out=out, threads=2, progress=False)
    size = out.stat().st_size
    with h5py.File(out, "r") as f:
        raw = raw_bytes(f)
        series_bytes = 0
        scenarios = list(f)
        assert len(scenarios) == 6
        for name in scenarios:
            data = f[name]["series"]["temperature"]["temperature"]
            values = data[()]
            series_bytes += values.nbytes
            assert values.shape[0] == 10 and np.isfinite(values).all()
            assert data.compression == "gzip" and data.shuffle
            replications, times, twins = values.shape
            assert data.chunks == (1, times, twins)  # 193 steps x 61 rooms: one chunk per replication
            # one twin's series and one instant across twins read what the whole read gave
            np.testing.assert_array_equal(data[:, :, 3], values[:, :, 3])
            np.testing.assert_array_equal(data[:, 100, :], values[:, 100, :])
            assert len(f[name]["kpis"]["value"]) > 0 and len(f[name]["events"]["type"]) >= 10
    assert size <= raw, f"{size} B file for {raw} B of content ({series_bytes} B of series)"
    ds = xr.open_dataset(out, group=f"{scenarios[0]}/series/temperature", engine="h5netcdf")
    assert ds["temperature"].sizes == {"replication": 10, "time": 193, "twin": 61}
    assert float(ds["temperature"].sel(twin=ds["twin"].values[0]).mean()) == pytest.approx(
        float(np.mean(h5py.File(out, "r")[scenarios[0]]["series"]["temperature"]["temperature"][:, :, 0])))
    ds.close()
    with twinsim.open_results(out) as results:
        assert results.scenarios == scenarios
