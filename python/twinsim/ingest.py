"""Helpers of TwinGraph.ingest (the method itself is compiled; docs/ingest.md).

``_frame_rows`` turns a pandas DataFrame into plain rows for the C++
ingestor: one dict per row, timestamps as RFC 3339 text in UTC, missing
values (NaN, None, NaT, pd.NA) left out, numpy scalars as Python numbers.
"""

from __future__ import annotations

import datetime
import math

__all__: list[str] = []


def _cell(value):
    """One DataFrame cell as a JSON-compatible value (None = missing)."""
    if value is None:
        return None
    try:
        import pandas as pd

        if value is pd.NaT or value is pd.NA:
            return None
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
    except ImportError:  # pragma: no cover - a DataFrame implies pandas
        pass
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _frame_rows(frame, time_field: str = "time"):
    """(wide, rows) for a DataFrame: long when it has twin, property and value columns."""
    import pandas as pd

    df = frame
    if time_field not in df.columns and isinstance(df.index, pd.DatetimeIndex):
        df = df.reset_index()
        df = df.rename(columns={df.columns[0]: time_field})
    columns = [str(c) for c in df.columns]
    wide = not {"twin", "property", "value"}.issubset(columns)
    rows = []
    for values in df.itertuples(index=False, name=None):
        row = {}
        for name, value in zip(columns, values):
            cell = _cell(value)
            if cell is not None:
                row[name] = cell
        rows.append(row)
    return wide, rows
