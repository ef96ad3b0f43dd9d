"""A store's history from Python (store.history as pandas and Arrow, the HDF5
export read with h5py and xarray, retention) and from the CLI
(`twinsim history`, CSV and NDJSON, errors and exit codes)."""

import csv
import io
import json
import math
import os
import subprocess

import numpy as np
import pandas as pd
import pytest

import twinsim

CLI = os.environ.get("TWINSIM_CLI")

ROOM = {
    "@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
    "@id": "dtmi:test:Room;1",
    "@type": "Interface",
    "contents": [
        {"@type": ["Property", "Temperature"], "name": "temperature", "schema": "double", "unit": "degreeCelsius"},
        {"@type": "Property", "name": "label", "schema": "string"},
        {"@type": "Component", "name": "thermostat", "schema": "dtmi:test:Thermostat;1"},
        {"@type": "Relationship", "name": "next", "properties": [{"@type": "Property", "name": "weight", "schema": "double"}]},
        {"@type": "Telemetry", "name": "reading", "schema": "double"},
    ],
}
THERMOSTAT = {
    "@context": "dtmi:dtdl:context;3",
    "@id": "dtmi:test:Thermostat;1",
    "@type": "Interface",
    "contents": [{"@type": "Property", "name": "setpoint", "schema": "double"}],
}

COLUMNS = ["TimeStamp", "SourceTimeStamp", "Id", "ModelId", "Key", "Value", "RelationshipTarget", "RelationshipId",
           "Action", "Cause"]


def room(temperature):
    return {"$metadata": {"$model": "dtmi:test:Room;1"}, "temperature": temperature,
            "thermostat": {"$metadata": {}, "setpoint": 20.0}}


def fill(store):
    store.create_models([ROOM, THERMOSTAT])
    store.upsert_digital_twin("room-1", room(21.0))
    store.upsert_digital_twin("room-2", room(18.0))
    for k in range(1, 6):
        store.update_digital_twin("room-1", [
            {"op": "replace", "path": "/temperature", "value": 21.0 + k},
            {"op": "add", "path": "/$metadata/temperature/sourceTime", "value": f"2026-07-01T10:0{k}:00Z"}])
    store.update_digital_twin("room-1", [{"op": "replace", "path": "/thermostat/setpoint", "value": 19.5}])
    store.update_digital_twin("room-2", [{"op": "add", "path": "/label", "value": "north, \"big\""}])
    store.upsert_relationship("room-1", "n1", {"$targetId": "room-2", "$relationshipName": "next", "weight": 0.5})
    store.update_relationship("room-1", "n1", [{"op": "replace", "path": "/weight", "value": 0.75}])
    store.delete_relationship("room-1", "n1")


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "plant.store"
    with twinsim.open_store(path) as store:
        fill(store)
    return path


def test_history_is_a_dataframe_with_adts_columns(store_path):
    with twinsim.open_store(store_path) as store:
        frame = store.history(twins="room-1", properties="temperature")
    assert list(frame.columns) == COLUMNS + ["Sequence"]
    assert len(frame) == 6
    assert frame["Value"].tolist() == [21.0, 22.0, 23.0, 24.0, 25.0, 26.0]
    assert str(frame["TimeStamp"].dtype) == "datetime64[ns, UTC]"
    assert frame["TimeStamp"].is_monotonic_increasing
    assert pd.isna(frame["SourceTimeStamp"].iloc[0])
    assert frame["SourceTimeStamp"].iloc[5] == pd.Timestamp("2026-07-01T10:05:00Z")
    assert set(frame["Action"]) == {"Update"}
    assert set(frame["ModelId"]) == {"dtmi:test:Room;1"}
    assert frame["RelationshipId"].isna().all()


def test_history_series_is_one_property_as_a_pandas_series(store_path):
    with twinsim.open_store(store_path) as store:
        frame = store.history(twins="room-1", properties="temperature")
        series = store.history_series("room-1", "temperature")
        window = store.history_series("room-1", "temperature", start=frame["TimeStamp"].iloc[2],
                                      end=frame["TimeStamp"].iloc[4])
        with_source = store.history_series("room-1", "temperature", source_times=True)
        unknown = store.history_series("nobody", "temperature")
    assert series.tolist() == frame["Value"].tolist()
    assert str(series.index.dtype) == "datetime64[ns, UTC]"
    assert (series.index == pd.DatetimeIndex(frame["TimeStamp"])).all()
    assert series.name == "temperature"
    assert window.tolist() == [23.0, 24.0]
    assert list(with_source.columns) == ["Value", "SourceTimeStamp"]
    assert pd.isna(with_source["SourceTimeStamp"].iloc[0])
    assert with_source["SourceTimeStamp"].iloc[5] == pd.Timestamp("2026-07-01T10:05:00Z")
    assert unknown.empty


def test_history_filters_and_kinds(store_path):
    with twinsim.open_store(store_path) as store:
        everything = store.history()
        times = store.history(twins=["room-1"], properties=["temperature"])["TimeStamp"]
        window = store.history(twins=["room-1"], properties=["temperature"], start=times.iloc[2], end=times.iloc[4])
        as_text = store.history(twins="room-1", properties="temperature",
                                start=times.iloc[2].isoformat(), end=times.iloc[4].isoformat())
        setpoint = store.history(properties="thermostat.setpoint")
        rel = store.history(twins="room-1", properties="weight")
        twins = store.history(kind="twins")
        rels = store.history(kind="relationships")
        nobody = store.history(twins="nobody")
    assert window["Value"].tolist() == [23.0, 24.0]
    assert as_text["Value"].tolist() == [23.0, 24.0]
    assert set(everything["Id"]) == {"room-1", "room-2"}
    assert setpoint["Value"].tolist() == [20.0, 19.5, 20.0]   # room-1 twice (in time order), then room-2
    assert setpoint["Id"].tolist() == ["room-1", "room-1", "room-2"]
    assert rel["Value"].tolist() == [0.5, 0.75]
    assert rel["RelationshipId"].tolist() == ["n1", "n1"]
    assert rel["RelationshipTarget"].tolist() == ["room-2", "room-2"]
    assert list(twins.columns) == ["TwinId", "Action", "TimeStamp", "ModelId", "Cause"]
    assert twins["TwinId"].tolist() == ["room-1", "room-2"]
    assert list(rels.columns) == ["RelationshipId", "Name", "Action", "TimeStamp", "Source", "Target", "Cause"]
    assert rels["Action"].tolist() == ["Create", "Delete"]
    assert rels["Target"].tolist() == ["room-2", "room-2"]
    assert len(nobody) == 0


def test_history_sees_the_write_just_made(tmp_path):
    with twinsim.open_store(tmp_path / "s", durability="group") as store:
        store.create_models([ROOM, THERMOSTAT])
        store.upsert_digital_twin("r", room(0.0))
        for k in range(1, 30):
            store.update_digital_twin("r", [{"op": "replace", "path": "/temperature", "value": float(k)}])
            assert store.history(twins="r", properties="temperature")["Value"].iloc[-1] == float(k)


def test_history_as_arrow(store_path):
    pa = pytest.importorskip("pyarrow")
    with twinsim.open_store(store_path) as store:
        table = store.history_arrow(twins="room-1", properties="temperature")
    assert isinstance(table, pa.Table)
    assert table.column_names == COLUMNS + ["Sequence"]
    assert table.schema.field("TimeStamp").type == pa.timestamp("ns", tz="UTC")
    assert [json.loads(v) for v in table.column("Value").to_pylist()] == [21.0, 22.0, 23.0, 24.0, 25.0, 26.0]
    assert table.column("SourceTimeStamp").null_count == 1


def test_history_bad_arguments(store_path):
    with twinsim.open_store(store_path) as store:
        with pytest.raises(ValueError, match="start: .* is not an RFC 3339 date-time"):
            store.history(start="yesterday")
        with pytest.raises(twinsim.HistoryError, match="before its start"):
            store.history(start="2026-07-02T00:00:00Z", end="2026-07-01T00:00:00Z")
        with pytest.raises(ValueError, match="kind must be one of"):
            store.history(kind="everything")
        with pytest.raises(TypeError):
            store.history(twins=[1, 2])
    with twinsim.open_store(store_path, history=False) as store:
        with pytest.raises(twinsim.HistoryError, match="does not record history"):
            store.history()


def test_export_to_hdf5_read_with_h5py_and_xarray(store_path, tmp_path):
    h5py = pytest.importorskip("h5py")
    xr = pytest.importorskip("xarray")
    out = tmp_path / "history.h5"
    with twinsim.open_store(store_path) as store:
        counts = store.export_history(out)
        frame = store.history()
    assert counts["property_updates"] == len(frame)
    assert counts["twin_lifecycle"] == 2 and counts["relationship_lifecycle"] == 2
    assert not list(tmp_path.glob("history.h5.partial*"))
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "twinsim-history"
        assert f.attrs["format_version"] == "1.0"
        p = f["property_updates"]
        assert p["time"].attrs["units"] == "seconds since 1970-01-01T00:00:00"
        keys = [k.decode() for k in p["key"][:]]
        ids = [i.decode() for i in p["id"][:]]
        units = [u.decode() for u in p["unit"][:]]
        values = p["value_number"][:]
        for key, twin, unit, value in zip(keys, ids, units, values):
            if key == "temperature":
                assert unit == "degreeCelsius"
            if key == "label":
                assert unit == "" and math.isnan(value)
        assert sorted(set(zip(ids, keys))) == sorted(set(zip(frame["Id"], frame["Key"])))
        assert list(p["time_ns"][:]) == [t.value for t in frame["TimeStamp"]]
    ds = xr.open_dataset(out, group="property_updates", engine="h5netcdf")
    assert "row" in ds.dims
    assert np.issubdtype(ds["time"].dtype, np.datetime64)
    # CF float seconds: within a microsecond of the exact instant (time_ns is exact)
    first = frame["TimeStamp"].iloc[0].tz_localize(None).to_datetime64()
    assert abs(int(ds["time"].values[0].astype("datetime64[ns]").astype(np.int64)) - int(first.astype(np.int64))) < 1000
    ds.close()


def test_retention_thins_old_rows(tmp_path):
    with twinsim.open_store(tmp_path / "s") as store:
        store.create_models([ROOM, THERMOSTAT])
        store.upsert_digital_twin("r", room(0.0))
        for k in range(1, 50):
            store.update_digital_twin("r", [{"op": "replace", "path": "/temperature", "value": float(k)}])
        before = store.history(twins="r", properties="temperature")
        assert store.thin_history(older_than=0, interval=1) == 0      # keep everything
        newest = before["TimeStamp"].iloc[-1]
        removed = store.thin_history(older_than=0.000001, interval=3600, now=newest + pd.Timedelta(days=1))
        after = store.history(twins="r", properties="temperature")
    # every row is more than a day old: one per hour remains (the last of each hour)
    assert removed == len(before) - len(after)
    assert len(after) <= 2
    assert after["Value"].iloc[-1] == 49.0


def test_telemetry_routed_to_the_history_recorder(tmp_path):
    with twinsim.open_store(tmp_path / "s", history_telemetry=True) as store:
        store.create_models([ROOM, THERMOSTAT])
        store.upsert_digital_twin("r", room(20.0))
        store.add_endpoint("history", store.record_telemetry_event)
        store.upsert_event_route("t", {"endpointName": "history", "filter": "type = 'microsoft.iot.telemetry'"})
        store.publish_telemetry("r", {"reading": 1.25}, "m-1", source_time="2026-07-01T00:00:00Z")
        store.publish_telemetry("r", {"reading": 2.5}, "m-2")
        store.flush_events()
        frame = store.history(kind="telemetry")
    assert list(frame.columns) == ["TimeStamp", "SourceTimeStamp", "Id", "ModelId", "Key", "Value"]
    assert frame["Value"].tolist() == [1.25, 2.5]
    assert frame["Key"].tolist() == ["reading", "reading"]
    assert frame["ModelId"].tolist() == ["dtmi:test:Room;1"] * 2
    assert frame["SourceTimeStamp"].iloc[0] == pd.Timestamp("2026-07-01T00:00:00Z")
    assert pd.isna(frame["SourceTimeStamp"].iloc[1])
    # without history_telemetry the rows are not kept
    with twinsim.open_store(tmp_path / "s") as store:
        assert store.record_telemetry_event({"type": "microsoft.iot.telemetry", "source": "x/digitaltwins/r",
                                             "time": "2026-07-01T00:00:00Z", "data": {"reading": 9.0}}) is False


# --- the CLI ---------------------------------------------------------------------------------

needs_cli = pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")


def run(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=300)


@needs_cli
def test_cli_history_csv_and_ndjson(store_path, tmp_path):
    r = run("history", "--store", store_path, "--twin", "room-1", "--property", "temperature")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0].keys()) == COLUMNS
    assert [json.loads(row["Value"]) for row in rows] == [21.0, 22.0, 23.0, 24.0, 25.0, 26.0]
    assert rows[0]["SourceTimeStamp"] == ""
    assert rows[5]["SourceTimeStamp"].startswith("2026-07-01T10:05:00")

    # a string with a comma and quotes survives CSV quoting, as JSON text
    r = run("history", "--store", store_path, "--property", "label")
    assert json.loads(list(csv.DictReader(io.StringIO(r.stdout)))[0]["Value"]) == 'north, "big"'

    out = tmp_path / "rels.ndjson"
    r = run("history", "--store", store_path, "--kind", "relationships", "--format", "ndjson", "--output", out)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["Action"] for line in lines] == ["Create", "Delete"]
    assert lines[0]["Source"] == "room-1" and lines[0]["Target"] == "room-2" and lines[0]["Name"] == "next"

    r = run("history", "--store", store_path, "--twin", "room-1", "--property", "temperature", "--format", "ndjson",
            "--start", rows[2]["TimeStamp"], "--end", rows[4]["TimeStamp"])
    assert [json.loads(line)["Value"] for line in r.stdout.splitlines()] == [23.0, 24.0]


@needs_cli
def test_cli_history_hdf5(store_path, tmp_path):
    h5py = pytest.importorskip("h5py")
    out = tmp_path / "h.h5"
    r = run("history", "--store", store_path, "--hdf5", out)
    assert r.returncode == 0, r.stderr
    assert "property updates" in r.stdout
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "twinsim-history"
        assert len(f["twin_lifecycle/twin_id"]) == 2


@needs_cli
def test_cli_history_errors(store_path, tmp_path):
    r = run("history", "--store", store_path, "--start", "noon")
    assert r.returncode == 2
    assert "--start \"noon\" is not an RFC 3339 date-time" in r.stderr
    r = run("history", "--store", store_path, "--start", "2026-07-02T00:00:00Z", "--end", "2026-07-01T00:00:00Z")
    assert r.returncode == 2 and "is before --start" in r.stderr
    r = run("history", "--store", tmp_path / "missing")
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = run("history", "--store", store_path, "--format", "xml")
    assert r.returncode == 2
    r = run("history", "--store", store_path, "--output", tmp_path / "no" / "such" / "dir.csv")
    assert r.returncode == 2 and "cannot write" in r.stderr
    with twinsim.open_store(store_path):
        r = run("history", "--store", store_path)
        assert r.returncode == 2 and "already open" in r.stderr
