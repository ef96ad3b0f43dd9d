"""`twinsim import`, run as a user runs it (path in $TWINSIM_CLI)."""

import json
import os
import re
import subprocess

import pytest

CLI = os.environ.get("TWINSIM_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")

CONTEXT = "dtmi:dtdl:context;3"
SPACE = {
    "@context": CONTEXT,
    "@id": "dtmi:example:Space;1",
    "@type": "Interface",
    "contents": [
        {"@type": "Property", "name": "name", "schema": "string"},
        {"@type": "Property", "name": "temperature", "schema": "double"},
        {"@type": "Relationship", "name": "isPartOf", "target": "dtmi:example:Space;1"},
    ],
}
ROOM = {"@context": CONTEXT, "@id": "dtmi:example:Room;1", "@type": "Interface", "extends": "dtmi:example:Space;1"}


def twinsim(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=120)


def twin(twin_id, model="dtmi:example:Room;1", **properties):
    return {"$dtId": twin_id, "$metadata": {"$model": model}, **properties}


def rel(source, rel_id, target, name="isPartOf"):
    return {"$dtId": source, "$relationshipId": rel_id, "$targetId": target, "$relationshipName": name}


def write_ndjson(path, sections):
    """sections: [(name, [json values])]; returns the path."""
    lines = [{"Section": "Header"}, {"fileVersion": "1.0.0", "author": "tests", "organization": "twinsim"}]
    for name, values in sections:
        lines.append({"Section": name})
        lines.extend(values)
    path.write_text("".join(json.dumps(v) + "\n" for v in lines), encoding="utf-8")
    return path


@pytest.fixture
def good_file(tmp_path):
    return write_ndjson(tmp_path / "good.ndjson", [
        ("Models", [ROOM, SPACE]),  # out of dependency order on purpose
        ("Twins", [twin("floor", "dtmi:example:Space;1", name="Floor 1"), twin("r1", temperature=21.5), twin("r2")]),
        ("Relationships", [rel("r1", "p", "floor"), rel("r2", "p", "floor")]),
    ])


def test_import_prints_statistics(good_file):
    run = twinsim("import", good_file)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert out.startswith(f"loaded {good_file} in ")
    assert re.search(r"^  dtmi:example:Room;1\s+2$", out, re.M), out
    assert re.search(r"^  dtmi:example:Space;1\s+1$", out, re.M), out
    assert re.search(r"^  isPartOf\s+2$", out, re.M), out
    assert out.strip().splitlines()[-1] == "total: 3 twins, 2 relationships, 2 models"


def test_import_json(good_file):
    run = twinsim("import", "--json", good_file)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["loaded"] is True
    assert (report["twins"], report["relationships"], report["models"]) == (3, 2, 2)
    assert report["twins_by_model"] == {"dtmi:example:Room;1": 2, "dtmi:example:Space;1": 1}
    assert report["relationships_by_name"] == {"isPartOf": 2}
    assert report["errors"] == []
    assert report["seconds"] >= 0


def test_models_option_adds_a_batch_first(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "room.json").write_text(json.dumps(ROOM), encoding="utf-8")
    (models / "space.json").write_text(json.dumps(SPACE), encoding="utf-8")
    data = write_ndjson(tmp_path / "twins.ndjson", [("Twins", [twin("r1"), twin("r2")]),
                                                   ("Relationships", [rel("r1", "p", "r2")])])
    run = twinsim("import", "--json", "--models", models / "room.json", "--models", models / "space.json", data)
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["twins"] == 2
    # A folder works too; without the models the twins are invalid.
    assert twinsim("import", "--models", models, data).returncode == 0
    assert twinsim("import", data).returncode == 1


def test_every_bad_line_is_reported_and_nothing_loaded(tmp_path):
    path = write_ndjson(tmp_path / "bad.ndjson", [
        ("Models", [ROOM, SPACE]),
        ("Twins", [twin("r1"), twin("r2", colour="red"), twin("r3", temperature="warm"), twin("r4")]),
        ("Relationships", [rel("r1", "p", "r4"), rel("r4", "p", "nobody")]),
    ])
    # Lines: 1-2 header, 3 Models, 4-5 models, 6 Twins, 7-10 twins, 11 Relationships, 12-13.
    run = twinsim("import", path)
    assert run.returncode == 1
    lines = run.stdout.strip().splitlines()
    assert lines[0].startswith(f"{path}:8: Twins: ") and "colour" in lines[0]
    assert lines[1].startswith(f"{path}:9: Twins: ") and "temperature" in lines[1]
    assert lines[2].startswith(f"{path}:13: Relationships: ") and "nobody" in lines[2]
    assert lines[-1] == "invalid: 3 errors; nothing was loaded"

    report = json.loads(twinsim("import", "--json", path).stdout)
    assert report["loaded"] is False
    assert [(e["line"], e["section"]) for e in report["errors"]] == [(8, "Twins"), (9, "Twins"), (13, "Relationships")]
    assert all(e["message"] for e in report["errors"])
    assert report["twins"] == 0


def test_section_and_json_errors(tmp_path):
    path = tmp_path / "broken.ndjson"
    path.write_text('{"Section": "Twins"}\n{"$dtId": \n{"Section": "Telemetry"}\n', encoding="utf-8")
    report = json.loads(twinsim("import", "--json", path).stdout)
    assert [e["line"] for e in report["errors"]] == [2, 3]
    assert "malformed JSON" in report["errors"][0]["message"]
    assert "Telemetry" in report["errors"][1]["message"]


def test_invalid_models_option_is_exit_1(tmp_path, good_file):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"@context": CONTEXT, "@id": "dtmi:example:Bad;1", "@type": "Interface",
                               "contents": [{"@type": "Property", "name": "1bad", "schema": "double"}]}))
    run = twinsim("import", "--json", "--models", bad, good_file)
    assert run.returncode == 1
    report = json.loads(run.stdout)
    assert report["loaded"] is False
    assert report["errors"][0]["line"] is None and report["errors"][0]["section"] == "--models"
    assert "dtmi:example:Bad;1" in report["errors"][0]["message"]


def test_unreadable_input_and_usage_errors_exit_2(tmp_path, good_file):
    missing = tmp_path / "missing.ndjson"
    run = twinsim("import", missing)
    assert run.returncode == 2 and str(missing) in run.stderr
    run = twinsim("import", "--models", tmp_path / "no-models", good_file)
    assert run.returncode == 2 and "no-models" in run.stderr
    assert twinsim("import").returncode == 2
    assert twinsim("import", "--frobnicate", good_file).returncode == 2
    assert "Traceback" not in run.stderr and "terminate" not in run.stderr


def test_devices_and_deep_or_endless_lines_are_refused_not_read_forever(tmp_path):
    run = twinsim("import", "/dev/zero")
    assert run.returncode == 2
    assert "cannot read /dev/zero: not a regular file" in run.stderr
    assert "Traceback" not in run.stderr and "terminate" not in run.stderr

    path = tmp_path / "deep.ndjson"
    deep = "[" * 1_000_000 + "]" * 1_000_000
    path.write_text('{"Section": "Twins"}\n{"$dtId": "r1", "$metadata": {"$model": "dtmi:example:Room;1"}, '
                    f'"name": {deep}}}\n', encoding="utf-8")
    run = twinsim("import", path)
    assert run.returncode == 1
    assert run.stdout.startswith(f"{path}:2: Twins: the line nests arrays and objects deeper than the limit of 128 levels")


def test_help_names_the_options():
    run = twinsim("import", "--help")
    assert run.returncode == 0
    assert "--models" in run.stdout and "--json" in run.stdout and "FILE" in run.stdout


def test_bundled_building_sample_loads(source_dir):
    sample = source_dir / "scenarios" / "building" / "building.ndjson"
    run = twinsim("import", "--json", "--models", source_dir / "models" / "building", sample)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["errors"] == []
    assert 200 < report["twins"] < 1000
    by_model = report["twins_by_model"]
    for kind in ("Building", "Level", "Room", "Zone", "AirHandlingUnit", "Chiller", "Pump", "TemperatureSensor"):
        assert by_model.get(f"dtmi:twinsim:building:{kind};1", 0) > 0, kind
    for name in ("isPartOf", "feeds", "servedBy", "isLocationOf", "hasPoint", "isPointOf"):
        assert report["relationships_by_name"].get(name, 0) > 0, name


def test_generator_is_deterministic_and_reproduces_the_sample(source_dir, tmp_path):
    import sys

    generator = source_dir / "scenarios" / "building" / "generate.py"
    out = tmp_path / "again.ndjson"
    subprocess.run([sys.executable, generator, "-o", out], check=True, timeout=120)
    assert out.read_bytes() == (source_dir / "scenarios" / "building" / "building.ndjson").read_bytes()

    campus = tmp_path / "campus.ndjson"
    subprocess.run([sys.executable, generator, "--twins", "5000", "--seed", "7", "--embed-models",
                    source_dir / "models" / "building", "-o", campus], check=True, timeout=120)
    report = json.loads(twinsim("import", "--json", campus).stdout)
    assert report["loaded"] is True, report["errors"][:5]
    assert abs(report["twins"] - 5000) < 2500
    assert report["relationships"] > 1.8 * report["twins"]
