"""A durable store's history as pandas and Arrow tables (docs/history.md).

These functions become methods of :class:`twinsim.Store`::

    with twinsim.open_store("plant.store") as store:
        frame = store.history(twins=["room-1"], properties=["temperature"],
                              start="2026-07-01T00:00:00Z", end="2026-08-01T00:00:00Z")
        table = store.history_arrow(twins=["room-1"])          # a pyarrow.Table
        store.export_history("history.h5")                     # docs/history-format.md
        series = store.history_series("room-1", "temperature")   # one property, a pandas Series

The columns are named as Azure Digital Twins' data history names them
(TimeStamp, SourceTimeStamp, Id, ModelId, Key, Value, RelationshipTarget,
RelationshipId, Action; the lifecycle tables have their own), plus Cause:
the live rule that made the change ("rule:<name>"), None for a direct write
(models/rules/rules.md, "Live rules"). Times are
``datetime64[ns, UTC]``; a missing SourceTimeStamp is NaT.
"""

from __future__ import annotations

import datetime

__all__: list[str] = []

_KINDS = ("properties", "twins", "relationships", "telemetry")
_TIME_COLUMNS = ("TimeStamp", "SourceTimeStamp")


def _names(value, what):
    """None, one str, or an iterable of str -> a list (or None)."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    try:
        names = list(value)
    except TypeError:
        raise TypeError(f"{what} must be a str or a list of str, not {type(value).__name__}") from None
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{what} must hold str values, not {type(name).__name__}")
    return names


def _instant(value, what):
    """None, RFC 3339 text, a datetime (naive = UTC), a pandas Timestamp or numpy datetime64 -> str or int ns."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    try:
        import pandas as pd

        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{what} must be RFC 3339 text, a datetime or a pandas Timestamp, "
                        f"not {type(value).__name__}") from error
    if stamp is pd.NaT:
        raise ValueError(f"{what} is NaT, not an instant")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.value)


def _columns(store, twins, properties, start, end, kind):
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}, not {kind!r}")
    return store._history_columns(_names(twins, "twins"), _names(properties, "properties"),
                                  _instant(start, "start"), _instant(end, "end"), kind)


def history(self, twins=None, properties=None, start=None, end=None, kind="properties"):
    """The recorded history as a pandas DataFrame with ADT's column names.

    twins, properties: a name or a list of names (None: all); a relationship's
    rows belong to its source twin; a component's property is
    "component.property". start, end: the rows in [start, end), as RFC 3339
    text, datetime (naive = UTC) or pandas Timestamp. kind: "properties"
    (property updates, the default), "twins" (twin lifecycle),
    "relationships" (relationship lifecycle) or "telemetry".

    Sees every write made before the call (it waits for the indexer). Raises
    HistoryError, ValueError (bad time text, bad kind), TypeError.
    """
    import numpy as np
    import pandas as pd

    columns = _columns(self, twins, properties, start, end, kind)
    frame = {}
    for name, values in columns.items():
        if name in _TIME_COLUMNS:
            ns = np.asarray(values, dtype=np.int64)  # INT64_MIN is NaT
            frame[name] = pd.to_datetime(ns.view("datetime64[ns]")).tz_localize("UTC")
        elif name == "Sequence":
            frame[name] = np.asarray(values, dtype=np.uint64)
        else:
            frame[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(frame)


def history_arrow(self, twins=None, properties=None, start=None, end=None, kind="properties"):
    """As :meth:`history`, as a pyarrow Table: times are ``timestamp[ns, UTC]``
    and Value is the value's JSON text (a column of one type; ``json.loads``
    gives the value back)."""
    import json

    import pyarrow as pa

    columns = _columns(self, twins, properties, start, end, kind)
    arrays = {}
    for name, values in columns.items():
        if name in _TIME_COLUMNS:
            arrays[name] = pa.array([None if v == -(2 ** 63) else v for v in values], type=pa.int64()).cast(
                pa.timestamp("ns", tz="UTC"))
        elif name == "Sequence":
            arrays[name] = pa.array(values, type=pa.uint64())
        elif name == "Value":
            arrays[name] = pa.array([json.dumps(v) for v in values], type=pa.string())
        else:
            arrays[name] = pa.array(values, type=pa.string())
    return pa.table(arrays)


def export_history(self, path, twins=None, properties=None, start=None, end=None):
    """Writes the selected history (every kind of row) to the HDF5 history file
    ``path`` (docs/history-format.md; written under a temporary name, renamed
    when complete). Returns the rows written per table. Raises HistoryError,
    TwinsimIoError (the file cannot be written)."""
    return self._export_history(path, _names(twins, "twins"), _names(properties, "properties"),
                                _instant(start, "start"), _instant(end, "end"))


def _nanoseconds(value, what):
    import pandas as pd

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if seconds < 0:
            raise ValueError(f"{what} cannot be negative")
        return int(seconds * 1e9)
    try:
        delta = pd.Timedelta(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{what} must be seconds, a timedelta or a pandas Timedelta") from error
    if delta.value < 0:
        raise ValueError(f"{what} cannot be negative")
    return int(delta.value)


def thin_history(self, older_than, interval, now=None):
    """Retention: thins property updates and telemetry older than
    ``older_than`` (before ``now``, default the newest row) to one row per
    (twin, key, relationship) per ``interval`` (the last of each interval);
    lifecycle rows are kept. Durations are seconds or timedeltas. Returns the
    rows removed. Raises HistoryError, ValueError."""
    return self._thin_history(_nanoseconds(older_than, "older_than"), _nanoseconds(interval, "interval"),
                              _instant(now, "now"))


def record_telemetry_event(self, event):
    """The history recorder as an event-route endpoint: records a routed
    ``microsoft.iot.telemetry`` event (a dict, as callback endpoints receive
    it) in the store's history when the store was opened with
    ``history_telemetry=True``; other events are ignored (the store records
    every change from its journal already)::

        store.add_endpoint("history", store.record_telemetry_event)
        store.upsert_event_route("telemetry-history", {"endpointName": "history",
                                                        "filter": "type = 'microsoft.iot.telemetry'"})

    Returns True when a row was recorded. Raises ValueError for a telemetry
    event without a twin in its source or without a valid time."""
    import pandas as pd

    if not isinstance(event, dict) or event.get("type") != "microsoft.iot.telemetry":
        return False
    source = str(event.get("source", ""))
    marker = "/digitaltwins/"
    if marker not in source:
        raise ValueError(f"telemetry event {event.get('id')!r} has no twin in its source {source!r}")
    twin = source.rsplit(marker, 1)[1]
    try:
        time = pd.Timestamp(event["time"]).value
        source_time = event.get("telemetrysourcetime")
        source_ns = None if source_time is None else pd.Timestamp(source_time).value
    except (KeyError, ValueError) as error:
        raise ValueError(f"telemetry event {event.get('id')!r} has no valid time") from error
    return self._record_telemetry(twin, event.get("subject") or "", event.get("dataschema") or "",
                                  event.get("data"), time, source_ns)


def history_series(self, twin, key, start=None, end=None, source_times=False):
    """One property of one twin as a pandas Series of floats indexed by TimeStamp.

    The fast read for a plot or a statistic: one range scan, no row objects.
    key: the property as history rows name it ("temperature",
    "thermostat.setpoint"). start, end: [start, end), as for history(). A
    Delete, or a value that is not a number, is NaN. source_times=True gives
    a DataFrame with the columns Value and SourceTimeStamp instead. An unknown
    twin or key gives an empty series. Raises HistoryError as history() does.
    """
    import pandas as pd

    if not isinstance(twin, str) or not isinstance(key, str):
        raise TypeError("twin and key must be str")
    time, value, source = self._history_series(twin, key, _instant(start, "start"), _instant(end, "end"))
    index = pd.DatetimeIndex(pd.to_datetime(time, unit="ns", utc=True), name="TimeStamp")
    if not source_times:
        return pd.Series(value, index=index, name=key)
    source_time = pd.to_datetime(pd.Series(source).where(source != -(2**63)), unit="ns", utc=True)
    return pd.DataFrame({"Value": value, "SourceTimeStamp": source_time.to_numpy()}, index=index)


def _install(store_class):
    store_class.record_telemetry_event = record_telemetry_event
    store_class.history = history
    store_class.history_arrow = history_arrow
    store_class.history_series = history_series
    store_class.export_history = export_history
    store_class.thin_history = thin_history
