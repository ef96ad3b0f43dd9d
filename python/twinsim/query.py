"""The result of ``query_twins``: rows as dicts, paged transparently.

``graph.query_twins(query)`` and ``snapshot.query_twins(query)`` return a
``QueryResult``, twinsim's counterpart of the ItemPaged iterator the Azure
Digital Twins SDK returns. Iterating it yields every row as a dict, fetching
the pages one after another (all from the same snapshot, so they are
consistent even while the graph changes); rows already fetched are kept, so it
can be iterated again. ``by_page()`` yields the pages as lists.

Row shapes are ADT's: ``SELECT *`` rows are the twins (or relationships)
themselves; ``SELECT A, B`` rows are ``{"A": twin, "B": twin}``; property
projections give ``{"name": value}`` (a property missing on a twin is left out
of that row); ``SELECT COUNT()`` gives ``[{"COUNT": n}]``.

``to_dataframe()`` makes a pandas DataFrame:

- projections: one column per projected name, in SELECT order (``.columns``;
  a value missing from a row is NaN/None); a projected alias (``SELECT T``) is
  a column of dicts. Built from the engine's typed columns (no Python object
  per row for numbers, booleans and strings), typed as pandas types such rows
  (``from_records``), except that model ids (``$metadata.$model``) and
  relationship names are categorical;
- ``SELECT *`` over twins: one row per twin with a ``$dtId`` column and one
  column per property (components as dicts); ``$etag`` and ``$metadata`` are
  left out (take the rows themselves for those). Over relationships:
  ``$relationshipId``, ``$sourceId``, ``$targetId``, ``$relationshipName`` and
  the relationship's properties.

``to_arrow()`` makes a ``pyarrow.Table`` the same way (pyarrow is optional).
Both read every result row from the query's cursor, whatever pages were
fetched.
"""

from __future__ import annotations

__all__ = ["QueryResult"]

_DOCUMENT_METADATA = ("$etag", "$metadata")


class QueryResult:
    """The rows of one query (see the module docstring). Not created directly."""

    __slots__ = ("_pages", "_rows", "_page_ends")

    def __init__(self, pages):
        self._pages = pages  # twinsim._core._QueryPages
        self._rows = []
        self._page_ends = []  # end index in _rows of each page fetched

    # --- paging ------------------------------------------------------------------

    def _fetch(self) -> bool:
        """Fetches the next page; False when there is none."""
        page = self._pages.next_page()
        if page is None:
            return False
        self._rows.extend(page)
        self._page_ends.append(len(self._rows))
        return True

    def _fetch_all(self):
        while self._fetch():
            pass

    def __iter__(self):
        i = 0
        while True:
            while i < len(self._rows):
                yield self._rows[i]
                i += 1
            if not self._fetch():
                return

    def by_page(self):
        """Iterates over the pages (lists of row dicts), as ItemPaged.by_page()."""
        start = 0
        p = 0
        while True:
            while p < len(self._page_ends):
                end = self._page_ends[p]
                yield self._rows[start:end]
                start = end
                p += 1
            if not self._fetch():
                return

    def to_list(self) -> list:
        """Every row (fetches the remaining pages)."""
        self._fetch_all()
        return list(self._rows)

    def __len__(self) -> int:
        """The number of rows (fetches the remaining pages)."""
        self._fetch_all()
        return len(self._rows)

    @property
    def complete(self) -> bool:
        """True once every page has been fetched."""
        return self._pages.done

    @property
    def warnings(self) -> list:
        """Unknown model ids or property names the query mentions (they yield no rows, not an error)."""
        return list(self._pages.warnings)

    @property
    def columns(self) -> list:
        """The names of the row members in SELECT order (a dict row iterates its keys in
        whatever order they were stored): one per projection, aggregate or AS name, or
        the aliases for ``SELECT *`` with JOIN or MATCH; empty when the rows are whole
        twins or relationships (``SELECT *``). Known before any row is fetched."""
        return list(self._pages.columns)

    @property
    def query(self) -> str:
        return self._pages.query

    @property
    def snapshot(self):
        """The Snapshot the query runs on."""
        return self._pages.snapshot

    # --- pandas and Arrow ----------------------------------------------------------

    def _typed_columns(self):
        return self._pages.typed_columns()

    def to_dataframe(self):
        """The rows as a pandas DataFrame; see the module docstring for the
        columns. Projections and aggregates are built from the engine's typed
        columns (NumPy arrays made in C++; no Python object per row except for
        object values), whatever pages were fetched; ``SELECT *`` from the rows.
        Needs pandas."""
        import pandas as pd

        if self._pages.selects_documents or self._pages.size == 0:
            return self._dataframe_from_rows(pd)
        columns = self._typed_columns()
        data = {column["name"]: _pandas_column(pd, column) for column in columns}
        return pd.DataFrame(data, columns=[column["name"] for column in columns], copy=False)

    def _dataframe_from_rows(self, pd):
        self._fetch_all()
        if self._pages.selects_documents:
            records = [{k: v for k, v in row.items() if k not in _DOCUMENT_METADATA} for row in self._rows]
            first = (
                ["$relationshipId", "$sourceId", "$targetId", "$relationshipName"]
                if self._pages.from_relationships
                else ["$dtId"]
            )
        else:
            records = self._rows
            first = list(self._pages.columns)
        columns = list(dict.fromkeys(first))
        seen = set(columns)
        for row in records:
            for key in row:
                if key not in seen:
                    seen.add(key)
                    columns.append(key)
        return pd.DataFrame.from_records(records, columns=columns)

    def to_arrow(self):
        """The rows as a ``pyarrow.Table`` (pyarrow, an optional dependency),
        one column per member of ``columns`` built from the engine's typed
        columns without a Python object per row: integers int64, numbers
        float64, booleans bool, strings string (``large_string`` past 2 GiB),
        model ids and relationship names dictionary<int32, string>; a value
        missing from a row (or a JSON null) is null; objects, arrays and
        columns of mixed types as pyarrow infers them from the Python values,
        else their JSON text. ``SELECT *`` rows (whole twins or relationships)
        become a table as ``pyarrow.Table.from_pylist`` makes one of the rows
        of ``to_dataframe()``. Raises ImportError naming the package when
        pyarrow is not installed."""
        try:
            import pyarrow as pa
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                "QueryResult.to_arrow() needs pyarrow, an optional dependency of twinsim: pip install pyarrow"
            ) from e
        if self._pages.selects_documents:
            import pandas as pd

            return pa.Table.from_pandas(self._dataframe_from_rows(pd), preserve_index=False)
        return pa.table({column["name"]: _arrow_column(pa, column) for column in self._typed_columns()})

    def __repr__(self):
        state = f"{len(self._rows)} rows" + ("" if self._pages.done else " so far")
        return f"<twinsim.QueryResult {state}: {self._pages.query!r}>"


# --- typed columns -> pandas / Arrow -------------------------------------------------

_STRING_DTYPE = None


def _string_dtype(pd):
    """The dtype pandas gives a column of str (``str`` from pandas 3, else object)."""
    global _STRING_DTYPE
    if _STRING_DTYPE is None:
        _STRING_DTYPE = pd.Series(["a"]).dtype
    return _STRING_DTYPE


def _valid_bitmap(pa, valid):
    import numpy as np

    if valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def _arrow_strings(pa, column, large=False):
    """A string array over the column's bytes (no copy of them); large_string
    (int64 offsets, no conversion) when asked or past 2 GiB."""
    import numpy as np

    offsets, chars = column["offsets"], column["chars"]
    large = large or len(chars) >= 2**31
    offsets = offsets if large else offsets.astype(np.int32)
    return pa.Array.from_buffers(
        pa.large_string() if large else pa.string(),
        column["size"],
        [_valid_bitmap(pa, column["valid"]), pa.py_buffer(offsets), pa.py_buffer(chars)],
    )


def _pandas_column(pd, column):
    """One column as pandas' from_records would type it from the dict rows;
    model ids and relationship names categorical."""
    import numpy as np

    kind, valid = column["type"], column["valid"].view(bool)
    if kind == "empty":
        return np.full(column["size"], np.nan)
    if kind == "float64":
        values = column["values"]
        return values if valid.all() else np.where(valid, values, np.nan)
    if kind == "int64":
        values = column["values"]
        return values if valid.all() else np.where(valid, values.astype(np.float64), np.nan)
    if kind == "boolean":
        values = column["values"].view(bool)
        if valid.all():
            return values
        out = values.astype(object)
        out[~valid] = np.nan
        return out
    if kind == "string":
        dtype = _string_dtype(pd)
        try:
            import pyarrow as pa
        except ImportError:
            pa = None
        if pa is not None and dtype != object:
            # pandas keeps Arrow strings as large_string: hand it those
            return pd.array(_arrow_strings(pa, column, large=True), dtype=dtype)
        chars, offsets = column["chars"].tobytes(), column["offsets"]
        out = np.empty(column["size"], dtype=object)
        for k in range(column["size"]):
            out[k] = chars[offsets[k]:offsets[k + 1]].decode("utf-8") if valid[k] else np.nan
        return pd.array(out, dtype=dtype)
    if kind == "dictionary":
        categories = pd.Index(column["dictionary"], dtype=_string_dtype(pd))
        return pd.Categorical.from_codes(column["codes"], categories=categories)
    # json: objects, arrays, mixed types; typed as from_records types the rows
    name = column["name"]
    records = [{name: v} if ok else {} for v, ok in zip(column["values"], valid)]
    return pd.DataFrame.from_records(records, columns=[name])[name].array


def _arrow_column(pa, column):
    import numpy as np

    kind, valid = column["type"], column["valid"]
    size, bitmap = column["size"], _valid_bitmap(pa, valid)
    if kind == "empty":
        return pa.nulls(size)
    if kind in ("int64", "float64"):
        values = column["values"]
        return pa.Array.from_buffers(pa.int64() if kind == "int64" else pa.float64(), size, [bitmap, pa.py_buffer(values)])
    if kind == "boolean":
        bits = pa.py_buffer(np.packbits(column["values"], bitorder="little"))
        return pa.Array.from_buffers(pa.bool_(), size, [bitmap, bits])
    if kind == "string":
        return _arrow_strings(pa, column)
    if kind == "dictionary":
        codes = pa.Array.from_buffers(pa.int32(), size, [bitmap, pa.py_buffer(column["codes"])])
        return pa.DictionaryArray.from_arrays(codes, pa.array(column["dictionary"], pa.string()))
    values = [v if ok else None for v, ok in zip(column["values"], valid)]
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        import json

        return pa.array([json.dumps(v) if ok else None for v, ok in zip(column["values"], valid)], pa.string())
