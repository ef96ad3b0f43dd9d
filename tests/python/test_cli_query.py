"""`twinsim query`, run as a user runs it (path in $TWINSIM_CLI), on the bundled building."""

import json
import os
import pathlib
import subprocess

import pytest

CLI = os.environ.get("TWINSIM_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")

ROOT = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BUILDING = ROOT / "scenarios" / "building" / "building.ndjson"
MODELS = ROOT / "models" / "building"
ROOM = "dtmi:twinsim:building:Room;1"
# Read off building.ndjson: the rooms warmer than 24.5 degrees.
WARM_ROOMS = ["room-01-05", "room-02-01", "room-03-02", "room-03-04", "room-03-10", "room-04-08", "room-05-04",
              "room-05-07", "room-plant"]
WARM_QUERY = f"SELECT R.$dtId, R.temperature FROM DIGITALTWINS R WHERE IS_OF_MODEL(R, '{ROOM}') AND R.temperature > 24.5"


def twinsim(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=120)


def query(*args):
    return twinsim("query", "--models", MODELS, *args)


def test_json_is_adt_shaped_with_every_page():
    run = query(BUILDING, WARM_QUERY)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert set(out) == {"value", "continuationToken"}
    assert out["continuationToken"] is None
    assert sorted(row["$dtId"] for row in out["value"]) == WARM_ROOMS

    # Pages of 7 rows are concatenated: the same 61 rooms as one page.
    rooms = f"SELECT R.$dtId FROM DIGITALTWINS R WHERE IS_OF_MODEL(R, '{ROOM}')"
    paged = json.loads(query("--page-size", 7, BUILDING, rooms).stdout)["value"]
    whole = json.loads(query("--page-size", 0, BUILDING, rooms).stdout)["value"]
    assert len(paged) == 61
    assert sorted(r["$dtId"] for r in paged) == sorted(r["$dtId"] for r in whole)

    count = json.loads(query("--format", "json", BUILDING, "SELECT COUNT() FROM DIGITALTWINS").stdout)
    assert count == {"value": [{"COUNT": 278}], "continuationToken": None}


def test_select_star_rows_are_twins():
    run = query(BUILDING, "SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'zone-03'")
    assert run.returncode == 0, run.stderr
    [twin] = json.loads(run.stdout)["value"]
    assert twin["$dtId"] == "zone-03"
    assert twin["name"] == "HVAC zone, level 3"
    assert twin["$metadata"]["$model"] == "dtmi:twinsim:building:Zone;1"


def test_table_aligns_columns():
    run = query("--format", "table", BUILDING, WARM_QUERY)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["$dtId", "temperature"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    body = lines[2:-1]
    assert sorted(line.split()[0] for line in body) == WARM_ROOMS
    # Aligned: every value of the second column starts where its header does.
    start = lines[0].index("temperature")
    assert all(line[start - 1] == " " and line[start] != " " for line in body)
    assert lines[-1] == "(9 rows)"


GROUPED = ("SELECT L.$dtId AS level, COUNT() AS rooms, AVG(R.temperature) AS avgTemperature FROM DIGITALTWINS R "
           f"JOIN L RELATED R.isPartOf WHERE IS_OF_MODEL(R, '{ROOM}') GROUP BY L.$dtId ORDER BY level")


def test_table_columns_follow_the_select_order():
    run = query("--format", "table", "--page-size", 2, BUILDING, GROUPED)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["level", "rooms", "avgTemperature"]
    assert lines[-1] == "(7 rows)"
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:-1]}
    # zone-05's average is the double 22.793999999999997 (its shortest exact form);
    # --precision shows fewer significant digits.
    assert rows["zone-05"] == ["10", "22.793999999999997"]
    run = query("--format", "table", "--precision", 6, BUILDING, GROUPED)
    assert run.returncode == 0, run.stderr
    rows = {line.split()[0]: line.split()[1:] for line in run.stdout.splitlines()[2:-1]}
    assert rows["zone-05"] == ["10", "22.794"] and rows["level-00"] == ["1", "24.54"]
    assert query("--format", "table", "--precision", 0, BUILDING, GROUPED).returncode == 2


def test_table_of_twins_and_nested_objects():
    run = query("--format", "table", BUILDING, "SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'building'")
    assert run.returncode == 0, run.stderr
    header, rule, row, footer = run.stdout.splitlines()
    assert header.split()[0] == "$dtId" and "$etag" not in header and "$metadata" not in header
    assert "address" in header.split()
    # The nested address object is one compact JSON cell.
    assert '{"city":"Rotterdam","country":"NL","postcode":"3011 AA","street":"1 Harbour Street"}' in row
    assert footer == "(1 row)"


def test_max_rows_and_query_errors_exit_1():
    run = query(BUILDING, "SELECT T.name, T.temperature WHERE T.x = 1")
    assert run.returncode == 1
    assert run.stdout == ""
    assert "line 1, column 30" in run.stderr and "expected FROM" in run.stderr

    run = query("--max-rows", 10, BUILDING, "SELECT * FROM DIGITALTWINS")
    assert run.returncode == 1
    assert "10" in run.stderr


def test_invalid_graph_exits_1(tmp_path):
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"Section": "Header"}\n{"fileVersion": "1.0.0"}\n{"Section": "Twins"}\n'
                   '{"$dtId": "x", "$metadata": {"$model": "dtmi:example:Missing;1"}}\n', encoding="utf-8")
    run = query(bad, "SELECT * FROM DIGITALTWINS")
    assert run.returncode == 1
    assert f"{bad}:4" in run.stderr
    assert "nothing was loaded" in run.stderr


def test_usage_errors_exit_2(tmp_path):
    assert query(BUILDING).returncode == 2  # no query
    assert query("--format", "csv", BUILDING, "SELECT * FROM DIGITALTWINS").returncode == 2
    run = query(tmp_path / "missing.ndjson", "SELECT * FROM DIGITALTWINS")
    assert run.returncode == 2
    assert "missing.ndjson" in run.stderr
