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
  a column of dicts;
- ``SELECT *`` over twins: one row per twin with a ``$dtId`` column and one
  column per property (components as dicts); ``$etag`` and ``$metadata`` are
  left out (take the rows themselves for those). Over relationships:
  ``$relationshipId``, ``$sourceId``, ``$targetId``, ``$relationshipName`` and
  the relationship's properties.
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

    # --- pandas ------------------------------------------------------------------

    def to_dataframe(self):
        """The rows as a pandas DataFrame (fetches every page); see the module
        docstring for the columns. Needs pandas."""
        import pandas as pd

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

    def __repr__(self):
        state = f"{len(self._rows)} rows" + ("" if self._pages.done else " so far")
        return f"<twinsim.QueryResult {state}: {self._pages.query!r}>"
