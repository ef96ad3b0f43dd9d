"""Reading twinsim results files (docs/results-format.md) into xarray and pandas.

Pure Python on h5py: the file is opened read-only and each call reads what it
returns into memory (series are small enough per scenario for that; for lazy,
chunked access open a series group with
``xarray.open_dataset(path, group="<scenario>/series/<name>", engine="h5netcdf")``).

::

    with twinsim.open_results("out.h5") as results:
        for name in results.scenarios:
            temperature = results.series(name, "Room.temperature")   # xarray.DataArray
            temperature.mean("replication").sel(twin="room-1").plot()
        results.kpis()                                             # pandas.DataFrame
        results.compare(baseline="base")                           # each scenario vs the baseline
        results.cheapest("maintenance cost")                       # the lowest mean, with its CI
"""

from __future__ import annotations

import errno
import json
import os
from typing import Any, Iterable

import h5py
import numpy as np
import pandas as pd
import xarray as xr

from . import _core
from ._core import NotFoundError, TwinsimError

FORMAT_NAME = "twinsim-results"
#: Major version of the layout this module reads (the file attribute format_version is "<major>.<minor>").
FORMAT_MAJOR = 1

_FILE_ATTRIBUTES = ("format", "format_version", "twinsim_version", "created", "base_graph_source",
                    "base_graph_version", "description")
_KPI_COLUMNS = ("name", "selection", "statistic", "replication", "aggregate", "value", "unit")
_COMPARE_COLUMNS = ("scenario", "name", "selection", "statistic", "unit", "n", "mean", "std", "ci95_low", "ci95_high",
                    "p50", "p90", "p95", "baseline_mean", "difference", "ci_overlap", "paired_n", "paired_mean", "paired_ci95_low",
                    "paired_ci95_high")


def open_results(path: str | os.PathLike) -> "Results":
    """Opens a results file read-only.

    Raises FileNotFoundError when ``path`` does not exist; TwinsimIoError (a
    TwinsimError and an OSError) "not a valid twinsim results file: <path>:
    why" when it is not HDF5, not a twinsim results file, or damaged (the
    library checks its whole structure first); TwinsimError (naming the path)
    for a format version this module does not read.
    """
    return Results(path)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _strings(dataset: h5py.Dataset) -> list[str]:
    return [_text(v) for v in dataset.asstr()[()]] if len(dataset) else []


def _decode_time(seconds: np.ndarray, units: str, calendar: str) -> np.ndarray:
    """CF "seconds since <instant>" numbers to datetime64[ns] (NaN -> NaT), as xarray decodes them."""
    decoded = xr.decode_cf(xr.Dataset(coords={"time": ("time", seconds, {"units": units, "calendar": calendar})}))
    return decoded["time"].values


class Results:
    """An open results file. Use as a context manager, or call close().

    Scenario and series names are the group names in the file; a name that is
    not there raises NotFoundError (also a LookupError).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(errno.ENOENT, "no such results file", self.path)
        # The library checks the structure first (types, ranks, shapes, sizes), so a
        # damaged file is refused with TwinsimIoError instead of reaching h5py.
        _core._validate_results(self.path)
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as error:
            raise TwinsimError(f"{self.path}: not a twinsim results file (not HDF5: {error})") from None
        try:
            attrs = self._file.attrs
            found = _text(attrs["format"]) if "format" in attrs else None
            if found != FORMAT_NAME:
                raise TwinsimError(f"{self.path}: not a twinsim results file (format attribute is "
                                   f"{found!r}, expected {FORMAT_NAME!r})")
            version = _text(attrs.get("format_version", ""))
            if version.split(".")[0] != str(FORMAT_MAJOR):
                raise TwinsimError(f"{self.path}: results format version {version!r} is not readable here "
                                   f"(this twinsim reads {FORMAT_MAJOR}.x)")
            self.attrs: dict[str, str] = {k: _text(attrs[k]) for k in _FILE_ATTRIBUTES if k in attrs}
            groups = [(int(g.attrs["scenario_index"]), name) for name, g in self._file.items()
                      if isinstance(g, h5py.Group) and "scenario_index" in g.attrs]
            #: Scenario names in the order they were defined.
            self.scenarios: list[str] = [name for _, name in sorted(groups)]
        except BaseException:
            self._file.close()
            raise

    # -- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        """Closes the file (idempotent)."""
        self._file.close()

    def __enter__(self) -> "Results":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<twinsim.Results {self.path!r} scenarios={self.scenarios}>"

    # -- scenarios ------------------------------------------------------------------------------
    def _scenario(self, scenario: str) -> h5py.Group:
        if scenario not in self.scenarios:
            raise NotFoundError(f"{self.path}: no scenario named {scenario!r} (scenarios: {self.scenarios})")
        return self._file[scenario]

    def info(self, scenario: str) -> dict[str, Any]:
        """The scenario's attributes: description, seed, replications, start (RFC 3339),
        time_units, scenario_index (spec and parameters: see spec() and parameters())."""
        a = self._scenario(scenario).attrs
        return {"description": _text(a["description"]), "seed": int(a["seed"]),
                "replications": int(a["replications"]), "start": _text(a["start"]),
                "time_units": _text(a["time_units"]), "scenario_index": int(a["scenario_index"])}

    def spec(self, scenario: str) -> dict[str, Any]:
        """The scenario spec as written (the JSON attribute ``spec``, parsed)."""
        return json.loads(_text(self._scenario(scenario).attrs["spec"]))

    def parameters(self, scenario: str) -> dict[str, Any]:
        """The scenario's resolved parameters (the JSON attribute ``parameters``, parsed)."""
        return json.loads(_text(self._scenario(scenario).attrs["parameters"]))

    # -- series ---------------------------------------------------------------------------------
    def series_names(self, scenario: str) -> list[str]:
        """Names of the scenario's recorded series, in the order they were defined."""
        return list(self._scenario(scenario)["series"].keys())

    def series(self, scenario: str, name: str) -> xr.DataArray:
        """One recorded series as a DataArray with dims (replication, time, twin).

        Coordinates: replication (0..R-1), time (datetime64[ns], decoded from the CF
        units; NaT for steps of an extendable axis never written), twin (the twin
        ids) and ``seconds`` along time (seconds since the scenario's start).
        Cells never written are NaN. attrs: units, long_name, model, property,
        scenario.
        """
        groups = self._scenario(scenario)["series"]
        if name not in groups:
            raise NotFoundError(f"{self.path}: scenario {scenario!r} has no series {name!r} "
                                f"(series: {list(groups.keys())})")
        group = groups[name]
        data = group[name]
        time = group["time"]
        seconds = time[()].astype(np.float64)
        attrs = {k: _text(data.attrs[k]) for k in ("units", "long_name", "model", "property") if k in data.attrs}
        attrs["scenario"] = scenario
        return xr.DataArray(
            data[()],
            dims=("replication", "time", "twin"),
            coords={
                "replication": group["replication"][()],
                "time": _decode_time(seconds, _text(time.attrs["units"]), _text(time.attrs["calendar"])),
                "twin": np.array(_strings(group["twin"]), dtype=object),
                "seconds": ("time", seconds),
            },
            name=name,
            attrs=attrs,
        )

    def dataset(self, scenario: str, names: Iterable[str] | None = None, join: str = "exact") -> xr.Dataset:
        """Several series of a scenario (default: all) as one Dataset, one variable per series.

        With join="exact" (the default) the series must share their replication,
        time and twin axes, else ValueError names the first pair that differs:
        pick a subset with ``names`` or pass join="outer" to align them on the
        union of the axes (cells absent from a series become NaN).
        """
        selected = list(names) if names is not None else self.series_names(scenario)
        arrays = [self.series(scenario, n) for n in selected]
        if join == "exact":
            for other in arrays[1:]:
                for axis in ("replication", "time", "twin"):
                    if not np.array_equal(arrays[0][axis].values, other[axis].values):
                        raise ValueError(f"{self.path}: series {arrays[0].name!r} and {other.name!r} of scenario "
                                         f"{scenario!r} have different {axis} axes; pass names=[...] or "
                                         f"join='outer'")
        info = self.info(scenario)
        aligned = xr.align(*[a.drop_vars("seconds") for a in arrays], join=join)
        merged = xr.Dataset({a.name: a for a in aligned}, attrs={"scenario": scenario, **info})
        start = np.datetime64(info["start"].rstrip("Z"), "ns")
        return merged.assign_coords(seconds=("time", (merged["time"].values - start) / np.timedelta64(1, "s")))

    # -- tables ---------------------------------------------------------------------------------
    def events(self, scenario: str) -> pd.DataFrame:
        """The scenario's event table: one row per event in file order, columns
        replication, time (datetime64[ns]), seconds (since the start), twin ("" for
        scenario-wide events), type, detail (the JSON detail, parsed to a dict)."""
        table = self._scenario(scenario)["events"]
        time = table["time"]
        seconds = time[()].astype(np.float64)
        return pd.DataFrame({
            "replication": table["replication"][()],
            "time": _decode_time(seconds, _text(time.attrs["units"]), _text(time.attrs["calendar"])),
            "seconds": seconds,
            "twin": _strings(table["twin"]),
            "type": _strings(table["type"]),
            "detail": [json.loads(d) for d in _strings(table["detail"])],
        }, columns=["replication", "time", "seconds", "twin", "type", "detail"])

    def kpis(self, scenario: str | None = None) -> pd.DataFrame:
        """KPI rows of one scenario (or of all, in scenario order), in file order.

        Columns: scenario, name, selection, statistic, replication (-1 on rows
        summarising all replications), aggregate ("" for a run's value; mean, std,
        ci95_low, ci95_high, p50, p90, p95, n on summary rows), value, unit.
        """
        frames = []
        for name in ([scenario] if scenario is not None else self.scenarios):
            table = self._scenario(name)["kpis"]
            columns: dict[str, Any] = {"scenario": [name] * len(table["kpi"])}
            for column in _KPI_COLUMNS:
                dataset = table[column]
                columns[column] = _strings(dataset) if dataset.dtype.kind == "O" else dataset[()]
            frames.append(pd.DataFrame(columns, columns=["scenario", *_KPI_COLUMNS]))
        if not frames:
            frames.append(pd.DataFrame({c: [] for c in ("scenario", *_KPI_COLUMNS)}))
        frame = pd.concat(frames, ignore_index=True)
        return frame.astype({"replication": np.int32, "value": np.float64})

    def cheapest(self, kpi: str, selection: str | None = None, baseline: str | None = None) -> dict:
        """The scenario with the lowest mean of ``kpi`` — e.g. the cheapest
        maintenance policy or threshold of a sweep — as ``twinsim compare
        --cheapest KPI --json`` prints it (the same library function,
        scenario::cheapest): a dict with ``cheapest`` (scenario, n, mean,
        ci95_low, ci95_high), ``runner_up`` (the same, plus difference, the
        paired 95 % interval of that difference and ``significant``: whether
        the interval lies above 0) or None, ``vs_baseline`` (baseline,
        difference, paired) or None, and ``ranking`` (every scenario by mean).

        selection: the KPI's selection when it has several. Raises TwinsimError
        naming the KPIs the file holds when it has no such KPI.
        """
        return _core._cheapest(self.path, kpi, selection or "", baseline or "")

    def guideline14(self, parameters: int = 1) -> pd.DataFrame:
        """Modelled vs recorded (docs/replay.md): ASHRAE Guideline 14's NMBE and CV(RMSE)
        at hourly resolution for every series a replay wrote with its recorded twin
        ``<series>.recorded``, overall and per twin, flagged against the hourly limits
        (|NMBE| <= 10 %, CV(RMSE) <= 30 %). The same numbers as ``twinsim compare``
        prints, computed by the same library function (scenario::compare_recorded).

        parameters: p of the n - p denominators (1 by default: a replay adjusts
        nothing; a calibration of k parameters passes k).

        One row per scenario, series and twin, in file order, the pooled row first with
        ``twin`` None. Columns: scenario, series, unit, replications, twin, hours, nmbe,
        cv_rmse (both %, NaN when undefined), nmbe_ok, cv_rmse_ok, meets.
        ``frame.attrs["limits"]``: {"nmbe": 10.0, "cv_rmse": 30.0}. Empty when the file
        holds no recorded series.
        """
        if int(parameters) < 0:
            raise ValueError(f"parameters must be >= 0, not {parameters!r}")
        report = _core._guideline14_results(self.path, int(parameters))
        nan = float("nan")
        rows = []
        limits = {"nmbe": 10.0, "cv_rmse": 30.0}
        for c in report:
            limits = c["limits"]
            for twin, stats in [(None, c["overall"])] + [(t["twin"], t) for t in c["twins"]]:
                rows.append({"scenario": c["scenario"], "series": c["series"], "unit": c["unit"],
                             "replications": c["replications"], "twin": twin, "hours": stats["hours"],
                             "nmbe": nan if stats["nmbe"] is None else float(stats["nmbe"]),
                             "cv_rmse": nan if stats["cv_rmse"] is None else float(stats["cv_rmse"]),
                             "nmbe_ok": bool(stats["nmbe_ok"]), "cv_rmse_ok": bool(stats["cv_rmse_ok"]),
                             "meets": bool(stats["meets"])})
        frame = pd.DataFrame(rows, columns=["scenario", "series", "unit", "replications", "twin", "hours", "nmbe",
                                            "cv_rmse", "nmbe_ok", "cv_rmse_ok", "meets"])
        frame = frame.astype({"replications": np.int64, "hours": np.int64, "nmbe_ok": bool, "cv_rmse_ok": bool,
                              "meets": bool})
        frame.attrs["limits"] = dict(limits)
        return frame

    def compare(self, baseline: str | None = None) -> pd.DataFrame:
        """Every KPI of every scenario across replications, and how each scenario
        differs from ``baseline`` (default: the first scenario when the file holds
        more than one): the same numbers as ``twinsim compare --json``, computed
        by the same library function (scenario::compare).

        One row per scenario, KPI and selection, in file order. Columns:
        scenario, name, selection, statistic, unit, n, mean, std, ci95_low,
        ci95_high (the 95 % interval of the mean, kept inside the statistic's
        range: never below 0 for a duration, excess or count), p50, p90, p95
        (percentiles across the replications), and against the baseline (NaN / <NA> on the baseline's rows,
        for a KPI the baseline lacks, and where unknown): baseline_mean,
        difference (mean - baseline mean), ci_overlap (whether the two 95 %
        intervals overlap), paired_n, paired_mean, paired_ci95_low and
        paired_ci95_high (the 95 % interval of the per-replication differences:
        replication r of every scenario draws the same random numbers, so this
        interval is the sharper test). ``frame.attrs["baseline"]`` names the
        baseline (None when there is none).

        Raises NotFoundError when ``baseline`` is not a scenario of the file.
        """
        if baseline is not None and baseline not in self.scenarios:
            raise NotFoundError(f"{self.path}: no scenario named {baseline!r} (the file holds: "
                                f"{', '.join(repr(s) for s in self.scenarios) or 'none'})")
        report = _core._compare_results(self.path, baseline or "")
        nan = float("nan")

        def number(value: Any) -> float:
            return nan if value is None else float(value)

        rows = []
        for scenario in report["scenarios"]:
            for kpi in scenario["kpis"]:
                versus = kpi["vs_baseline"] or {}
                paired = versus.get("paired") or {}
                rows.append({
                    "scenario": scenario["name"], "name": kpi["name"], "selection": kpi["selection"],
                    "statistic": kpi["statistic"], "unit": kpi["unit"], "n": kpi["n"],
                    "mean": number(kpi["mean"]), "std": number(kpi["std"]),
                    "ci95_low": number(kpi["ci95_low"]), "ci95_high": number(kpi["ci95_high"]),
                    "p50": number(kpi.get("p50")), "p90": number(kpi.get("p90")), "p95": number(kpi.get("p95")),
                    "baseline_mean": number(versus.get("baseline_mean")),
                    "difference": number(versus.get("difference")),
                    "ci_overlap": versus.get("ci_overlap"),
                    "paired_n": paired.get("n", 0),
                    "paired_mean": number(paired.get("mean")),
                    "paired_ci95_low": number(paired.get("ci95_low")),
                    "paired_ci95_high": number(paired.get("ci95_high")),
                })
        frame = pd.DataFrame(rows, columns=list(_COMPARE_COLUMNS))
        frame = frame.astype({"n": np.int64, "paired_n": np.int64, "ci_overlap": "boolean"})
        frame.attrs["baseline"] = report["baseline"]
        return frame
