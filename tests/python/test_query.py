"""twinsim.TwinGraph.query_twins / Snapshot.query_twins, QueryResult and QueryError
on the bundled building (scenarios/building). The language itself is tested in
C++ (tests/cpp/query); these tests cover the Python surface: rows as dicts,
transparent paging on one snapshot, pandas frames, errors and options."""

import threading

import pytest

import twinsim

ROOM = "dtmi:twinsim:building:Room;1"
LEVEL = "dtmi:twinsim:building:Level;1"
# The rooms warmer than 24.5 degrees in building.ndjson (read off the file).
WARM_ROOMS = ["room-01-05", "room-02-01", "room-03-02", "room-03-04", "room-03-10", "room-04-08", "room-05-04",
              "room-05-07", "room-plant"]
WARM_QUERY = f"SELECT R.$dtId, R.temperature FROM DIGITALTWINS R WHERE IS_OF_MODEL(R, '{ROOM}') AND R.temperature > 24.5"


@pytest.fixture(scope="module")
def building_path():
    import os
    import pathlib

    root = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
    return root / "scenarios" / "building" / "building.ndjson", root / "models" / "building"


@pytest.fixture
def graph(building_path):
    ndjson, models = building_path
    return twinsim.TwinGraph.from_ndjson(ndjson, models=models)


def test_rows_are_dicts_in_adt_shapes(graph):
    result = graph.query_twins("SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'level-03'")
    assert isinstance(result, twinsim.QueryResult)
    rows = list(result)
    assert len(rows) == 1
    twin = rows[0]
    assert twin["$dtId"] == "level-03"
    assert twin["$metadata"]["$model"] == LEVEL
    assert twin["name"] == "Level 3" and twin["levelNumber"] == 3
    assert twin == graph.get_digital_twin("level-03")

    assert graph.query_twins("SELECT COUNT() FROM DIGITALTWINS").to_list() == [{"COUNT": 278}]
    rows = sorted(graph.query_twins(WARM_QUERY), key=lambda row: row["$dtId"])
    assert [row["$dtId"] for row in rows] == WARM_ROOMS
    assert all(set(row) == {"$dtId", "temperature"} and row["temperature"] > 24.5 for row in rows)


def test_snapshot_query_twins_sees_the_snapshot(graph):
    before = graph.snapshot()
    graph.update_digital_twin("room-01-05", [{"op": "replace", "path": "/temperature", "value": 20.0}])
    assert len(before.query_twins(WARM_QUERY)) == 9
    # A query issued after a write sees it.
    assert "room-01-05" not in {row["$dtId"] for row in graph.query_twins(WARM_QUERY)}
    assert len(graph.query_twins(WARM_QUERY)) == 8


def test_paging_is_transparent_and_on_one_snapshot(graph):
    query = f"SELECT R.$dtId FROM DIGITALTWINS R WHERE IS_OF_MODEL(R, '{ROOM}')"
    everything = sorted(row["$dtId"] for row in graph.query_twins(query, page_size=0))
    assert len(everything) == 61

    result = graph.query_twins(query, page_size=7)
    assert not result.complete
    pages = []
    for page in result.by_page():
        pages.append(page)
        if len(pages) == 1:
            # Writes after the call do not show in later pages: the result keeps its snapshot.
            graph.delete_digital_twin("room-05-10", cascade=True)
    assert [len(page) for page in pages] == [7] * 8 + [5]
    assert sorted(row["$dtId"] for page in pages for row in page) == everything
    assert result.complete
    # Iterating again replays the fetched rows; len() and to_list() agree.
    assert len(list(result)) == len(result) == len(result.to_list()) == 61
    assert len(graph.query_twins(query)) == 60


def test_len_and_to_list_fetch_the_remaining_pages(graph):
    result = graph.query_twins("SELECT * FROM DIGITALTWINS", page_size=50)
    iterator = iter(result)
    first = next(iterator)
    assert "$dtId" in first
    assert len(result) == 278
    assert len(result.to_list()) == 278
    assert sum(1 for _ in iterator) == 277


def test_query_error_has_position_token_and_expected(graph):
    with pytest.raises(twinsim.QueryError) as info:
        graph.query_twins("SELECT T.name, T.temperature WHERE T.x = 1")
    error = info.value
    assert isinstance(error, twinsim.TwinsimError) and isinstance(error, ValueError)
    assert (error.line, error.column, error.token, error.expected) == (1, 30, "WHERE", "FROM")
    assert "line 1, column 30" in str(error)
    assert error.code == "BadRequest"

    with pytest.raises(twinsim.QueryError) as info:
        graph.snapshot().query_twins("SELECT *\nFROM DIGITALTWINS T\nWHERE T.x == 1")
    assert (info.value.line, info.value.column) == (3, 12)

    with pytest.raises(twinsim.QueryError) as info:
        graph.query_twins("SELECT * FROM")
    assert info.value.token is None and info.value.expected == "DIGITALTWINS or RELATIONSHIPS"


def test_deeply_nested_where_is_a_query_error_not_a_crash(graph):
    prefix = "SELECT * FROM DIGITALTWINS T WHERE "
    deep = prefix + "(" * 10_000 + "T.x = 1" + ")" * 10_000
    with pytest.raises(twinsim.QueryError) as info:
        graph.query_twins(deep)
    assert "limit of 256 levels" in str(info.value)
    assert (info.value.line, info.value.column) == (1, len(prefix) + 257)
    with pytest.raises(twinsim.QueryError, match="limit of 256 levels"):
        graph.query_twins(prefix + "NOT " * 20_000 + "T.x = 1")


def test_max_rows_caps_the_query(graph):
    with pytest.raises(twinsim.QueryError) as info:
        graph.query_twins("SELECT * FROM DIGITALTWINS", max_rows=100)
    assert info.value.line is None and info.value.column is None
    assert "100" in str(info.value)
    assert len(graph.query_twins("SELECT * FROM DIGITALTWINS", max_rows=1000)) == 278
    with pytest.raises(ValueError):
        graph.query_twins("SELECT * FROM DIGITALTWINS", max_rows=0)


def test_unknown_names_give_no_rows_not_errors(graph):
    result = graph.query_twins("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:example:Nothing;1')")
    assert result.to_list() == []
    assert isinstance(result.warnings, list)


def test_to_dataframe_of_a_projection(graph):
    pd = pytest.importorskip("pandas")
    frame = graph.query_twins(WARM_QUERY).to_dataframe()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["$dtId", "temperature"]
    assert sorted(frame["$dtId"]) == WARM_ROOMS
    assert (frame["temperature"] > 24.5).all()

    # A projected property a twin lacks is left out of its row: NaN in the frame.
    frame = graph.query_twins(
        "SELECT T.$dtId, T.capacity FROM DIGITALTWINS T WHERE T.$dtId IN ['level-01', 'room-01-01']"
    ).to_dataframe().sort_values("$dtId")
    assert list(frame.columns) == ["$dtId", "capacity"]
    assert pd.isna(frame["capacity"].iloc[0]) and frame["capacity"].iloc[1] == 2

    assert graph.query_twins("SELECT COUNT() FROM DIGITALTWINS").to_dataframe()["COUNT"].tolist() == [278]
    # No rows: the projected names are still the columns.
    empty = graph.query_twins("SELECT T.$dtId, T.name FROM DIGITALTWINS T WHERE T.area > 1e9").to_dataframe()
    assert len(empty) == 0 and list(empty.columns) == ["$dtId", "name"]


def test_columns_and_dataframe_follow_the_select_order(graph):
    pd = pytest.importorskip("pandas")
    query = ("SELECT L.$dtId AS level, COUNT() AS rooms, MAX(R.temperature), AVG(R.temperature) AS avgTemperature "
             f"FROM DIGITALTWINS R JOIN L RELATED R.isPartOf WHERE IS_OF_MODEL(R, '{ROOM}') GROUP BY L.$dtId")
    result = graph.query_twins(query, page_size=3)
    # Known from the first page, before the rows are fetched; the dict rows themselves come out alphabetically.
    assert result.columns == ["level", "rooms", "MAX", "avgTemperature"]
    assert list(result.to_list()[0]) == ["MAX", "avgTemperature", "level", "rooms"]
    frame = result.to_dataframe()
    assert list(frame.columns) == ["level", "rooms", "MAX", "avgTemperature"]
    assert frame["rooms"].sum() == 61
    assert graph.query_twins("SELECT * FROM DIGITALTWINS").columns == []
    assert graph.query_twins("SELECT COUNT() AS n FROM DIGITALTWINS").columns == ["n"]


def test_to_dataframe_of_select_star_flattens_twins_and_relationships(graph):
    frame = graph.query_twins(f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{LEVEL}')").to_dataframe()
    assert list(frame.columns)[0] == "$dtId"
    assert {"name", "area", "levelNumber", "ceilingHeight"} <= set(frame.columns)
    assert "$etag" not in frame.columns and "$metadata" not in frame.columns
    assert sorted(frame["levelNumber"]) == [0, 1, 2, 3, 4, 5]

    frame = graph.query_twins("SELECT * FROM RELATIONSHIPS R WHERE R.priority = 2").to_dataframe()
    assert list(frame.columns)[:4] == ["$relationshipId", "$sourceId", "$targetId", "$relationshipName"]
    assert sorted(frame["$sourceId"]) == ["pump-1-standby", "pump-2-standby"]
    assert set(frame["medium"]) == {"chilledWater"}


def test_queries_run_in_parallel_threads(graph):
    # The GIL is released while a page is computed, so threads can query the same snapshot at once.
    snapshot = graph.snapshot()
    counts = []

    def worker():
        for _ in range(20):
            counts.append(snapshot.query_twins("SELECT COUNT() FROM DIGITALTWINS WHERE IS_DEFINED(temperature)").to_list())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts == [[{"COUNT": 133}]] * 80


def test_the_package_docstring_query_example(graph):
    """The query in twinsim's package docstring runs as written."""
    pytest.importorskip("pandas")
    warm = graph.query_twins("SELECT R.$dtId, R.temperature FROM DIGITALTWINS R "
                             "WHERE IS_OF_MODEL(R, 'dtmi:twinsim:building:Room;1') AND R.temperature > 24")
    frame = warm.to_dataframe()
    assert list(frame.columns) == ["$dtId", "temperature"]
    assert len(frame) > 0 and (frame["temperature"] > 24).all()
    assert "R.$dtId" in twinsim.__doc__ and "warm.to_dataframe()" in twinsim.__doc__


def test_duplicate_result_names_raise_with_both_positions(graph):
    with pytest.raises(twinsim.QueryError) as info:
        graph.query_twins("SELECT L.$dtId, R.$dtId FROM DIGITALTWINS R JOIN L RELATED R.isPartOf")
    assert (info.value.line, info.value.column, info.value.token) == (1, 17, "$dtId")
    assert "items 1 (line 1, column 8) and 2" in str(info.value) and "AS" in str(info.value)


# --- cursors that resume, typed columns ------------------------------------------------

TYPES = "dtmi:test:columns:Thing;1"
TYPE_MODELS = [
    {"@id": "dtmi:test:columns:Dial;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
     "contents": [{"@type": "Property", "name": "setpoint", "schema": "double"},
                  {"@type": "Property", "name": "mode", "schema": "string"}]},
    {"@id": TYPES, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
     "contents": [{"@type": "Property", "name": "d", "schema": "double"},
                  {"@type": "Property", "name": "f", "schema": "float"},
                  {"@type": "Property", "name": "i", "schema": "integer"},
                  {"@type": "Property", "name": "l", "schema": "long"},
                  {"@type": "Property", "name": "b", "schema": "boolean"},
                  {"@type": "Property", "name": "s", "schema": "string"},
                  {"@type": "Property", "name": "t", "schema": "dateTime"},
                  {"@type": "Property", "name": "e", "schema": {
                      "@type": "Enum", "valueSchema": "string",
                      "enumValues": [{"name": "on", "enumValue": "on"}, {"name": "off", "enumValue": "off"}]}},
                  {"@type": "Property", "name": "o", "schema": {
                      "@type": "Object", "fields": [{"name": "x", "schema": "integer"}]}},
                  {"@type": "Property", "name": "a", "schema": {"@type": "Array", "elementSchema": "double"}},
                  {"@type": "Component", "name": "dial", "schema": "dtmi:test:columns:Dial;1"},
                  {"@type": "Relationship", "name": "next",
                   "properties": [{"@type": "Property", "name": "w", "schema": "double"}]}]},
]


@pytest.fixture(scope="module")
def typed_graph():
    return _make_typed_graph()


def _make_typed_graph():
    g = twinsim.TwinGraph()
    g.create_models(TYPE_MODELS)
    for k in range(40):
        twin = {"$metadata": {"$model": TYPES}, "dial": {"$metadata": {}}}
        if k % 5:  # every fifth twin lacks its values
            twin.update(d=k * 0.5, f=k + 0.25, i=k - 20, l=2**40 + k, b=k % 2 == 0, s=f"name-{k}",
                        t=f"2024-01-{1 + k % 28:02d}T00:00:00Z", e="on" if k % 3 else "off", o={"x": k}, a=[k, k / 2])
            twin["dial"]["setpoint"] = 20 + k / 4
        if k % 7 == 0:
            twin["dial"]["mode"] = "eco"
        g.upsert_digital_twin(f"t-{k:02d}", twin)
    for k in range(39):
        rel = {"$targetId": f"t-{k + 1:02d}", "$relationshipName": "next"}
        if k % 4:
            rel["w"] = k / 10
        g.upsert_relationship(f"t-{k:02d}", f"n-{k}", rel)
    return g


TYPED_QUERIES = [
    "SELECT T.$dtId, T.$metadata.$model AS model, T.d, T.f, T.i, T.l, T.b, T.s, T.t, T.e, T.o, T.a, "
    "T.dial.setpoint AS setpoint, T.dial.mode AS mode, T.missing FROM DIGITALTWINS T ORDER BY T.$dtId",
    "SELECT A.$dtId AS a, B.$dtId AS b, R.w, R.$relationshipName AS name, B.i FROM DIGITALTWINS A "
    "JOIN B RELATED A.next R WHERE A.i > -15",
    "SELECT T.e, COUNT() AS n, AVG(T.d) AS avg, SUM(T.i) AS total, MIN(T.s) AS first FROM DIGITALTWINS T GROUP BY T.e",
    "SELECT A, B.i FROM DIGITALTWINS A JOIN B RELATED A.next WHERE A.$dtId IN ['t-01', 't-02']",
    "SELECT COUNT() FROM DIGITALTWINS",
]


def _row_frame(result):
    """The DataFrame from the dict rows, as to_dataframe() made it before typed columns."""
    import pandas as pd

    return pd.DataFrame.from_records(result.to_list(), columns=result.columns)


@pytest.mark.parametrize("query", TYPED_QUERIES)
def test_to_dataframe_from_typed_columns_equals_the_row_frame(typed_graph, query):
    import pandas as pd

    frame = typed_graph.query_twins(query, page_size=7).to_dataframe()
    rows = _row_frame(typed_graph.query_twins(query))
    assert list(frame.columns) == list(rows.columns)
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):  # model ids and relationship names
            column = column.astype(rows[name].dtype)
        assert column.dtype == rows[name].dtype, name
        pd.testing.assert_series_equal(column, rows[name], check_exact=True, obj=name)


def test_model_ids_and_relationship_names_are_categorical(typed_graph):
    import pandas as pd

    frame = typed_graph.query_twins(TYPED_QUERIES[0]).to_dataframe()
    assert isinstance(frame["model"].dtype, pd.CategoricalDtype)
    assert list(frame["model"].cat.categories) == [TYPES]
    assert frame["d"].dtype == "float64" and frame["l"].dtype == "float64"  # NaN where missing
    assert frame["setpoint"].dtype == "float64"
    joined = typed_graph.query_twins(TYPED_QUERIES[1]).to_dataframe()
    assert isinstance(joined["name"].dtype, pd.CategoricalDtype)


@pytest.mark.parametrize("query", TYPED_QUERIES)
def test_to_arrow_holds_the_rows_values(typed_graph, query):
    pa = pytest.importorskip("pyarrow")
    result = typed_graph.query_twins(query)
    table = result.to_arrow()
    assert isinstance(table, pa.Table)
    assert table.column_names == result.columns
    rows = result.to_list()
    assert table.num_rows == len(rows)
    for name in table.column_names:
        values = table.column(name).to_pylist()
        for value, row in zip(values, rows):
            expected = row.get(name)
            if isinstance(expected, list) and expected and not isinstance(expected[0], (dict, list)):
                expected = [float(v) for v in expected]  # an Arrow list of doubles
                value = [float(v) for v in value]
            assert value == expected, (name, row)


def test_to_arrow_types(typed_graph):
    pa = pytest.importorskip("pyarrow")
    table = typed_graph.query_twins(TYPED_QUERIES[0]).to_arrow()
    schema = table.schema
    assert schema.field("d").type == pa.float64() and schema.field("i").type == pa.int64()
    assert schema.field("b").type == pa.bool_() and schema.field("s").type == pa.string()
    assert schema.field("model").type == pa.dictionary(pa.int32(), pa.string())
    assert table.column("i").null_count == 8  # every fifth of 40 twins lacks it
    assert schema.field("missing").type == pa.null()


def test_to_arrow_without_pyarrow_says_what_to_install(typed_graph, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError("No module named 'pyarrow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(ImportError, match="pip install pyarrow"):
        typed_graph.query_twins(TYPED_QUERIES[0]).to_arrow()
    # to_dataframe still works without pyarrow (strings as Python objects)
    frame = typed_graph.query_twins(TYPED_QUERIES[0]).to_dataframe()
    assert frame["$dtId"].tolist()[:2] == ["t-00", "t-01"]


def test_pages_resume_from_the_first_pages_snapshot():
    graph = _make_typed_graph()
    query = "SELECT T.$dtId, T.i FROM DIGITALTWINS T ORDER BY T.$dtId"
    whole = graph.query_twins(query, page_size=0).to_list()
    result = graph.query_twins(query, page_size=3)
    pages = result.by_page()
    first = next(pages)
    assert len(first) == 3
    assert result._pages.continuation_token is not None
    graph.delete_relationship("t-04", "n-4")
    graph.delete_relationship("t-05", "n-5")
    graph.delete_digital_twin("t-05")
    graph.update_digital_twin("t-06", [{"op": "replace", "path": "/i", "value": 1000}])
    rest = [row for page in pages for row in page]
    assert first + rest == whole
    assert result.complete and result._pages.continuation_token is None
    assert len(graph.query_twins(query)) == len(whole) - 1
    # every page size gives the same rows
    for size in (1, 7, 1000):
        assert graph.query_twins(query, page_size=size).to_list() == graph.query_twins(query, page_size=0).to_list()
