"""Calibration of the building model (thermal_zones) against recorded history
(models/building/calibration.md): twinsim.calibrate(..., scenario=...) fits
chosen parameters to a recorded window and writes the calibration file a
scenario loads (``calibration: fitted.json``).

    fit = twinsim.calibrate("history.h5", scenario="week1.yaml",
                            fit=["ua_per_area@room-01-*", "mass_capacity"], out="fitted.json")
    fit["fit"]["parameters"]      # value and standard error of each
    fit["fit"]["guideline_14"]    # NMBE and CV(RMSE) of the fitted window, hourly

A thin shell over the C++ library (models::calibrate_thermal).
"""

from __future__ import annotations

import datetime
import os
from typing import Any, Optional, Sequence, Union

from . import _core
from ._core import Store
from .scenario import Scenario, _bases, _replay_inputs, _seconds


def _offset(value: Any, scenario: Scenario, what: str) -> Optional[float]:
    """Seconds from the scenario's start: None, a number of seconds, a datetime or an RFC 3339 string."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise ValueError(f"{what}: give a timezone-aware datetime (UTC)")
        return (value - scenario.start).total_seconds()
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected a datetime, an RFC 3339 string or seconds from the scenario's start")
    return float(value)


def calibrate_building(history: Union[str, os.PathLike, Store], scenario: Union[Scenario, str, os.PathLike], *,
                       fit: Sequence[str], out: Optional[Union[str, os.PathLike]] = None, start: Any = None,
                       end: Any = None, cooling_property: str = "coolingPower",
                       temperature_property: str = "temperature", max_gap: float = 3600.0, warmup: Any = 0.0,
                       binding: int = 0, max_iterations: int = 100, base: Any = None,
                       allow_outside_paths: bool = False) -> dict:
    """Fits ``fit`` (``NAME[@ROOMS][=LOW:HIGH]``, models/building/calibration.md)
    of the scenario's ``binding``-th thermal_zones binding to the recorded
    window ``start`` .. ``end`` (default: the scenario's start and horizon) of
    ``history`` (an HDF5 history file or a ``twinsim.Store``), and returns the
    calibration file as a dict (``behaviours``: the fitted parameters;
    ``fit``: values, standard errors, correlations, warnings, Guideline 14).
    ``fit`` may also hold ``cop`` or ``cop@CHILLERS`` (a $dtId or a prefix with
    ``*``): the chillers' COP fitted to their recorded power (the binding's
    ``chiller_power_property``; models/building/calibration.md, "COP"), written as
    thermal_zones' ``chiller_cop`` with its report under ``fit.cop``.
    With ``out``, writes it there too. Raises TwinsimError subclasses naming
    the bad input (unknown parameter or room, empty window, a recorded series
    missing or with a gap).
    """
    if not isinstance(scenario, Scenario):
        scenario = Scenario.from_file(scenario, allow_outside_paths=allow_outside_paths)
    points = scenario.expand()
    if len(points) != 1:
        raise ValueError(f"scenario {scenario.name!r} sweeps {len(points)} points: calibrate one of scenario.expand()")
    if isinstance(fit, str):
        fit = [fit]
    snapshots, _ = _bases([scenario], base, allow_outside_paths)
    specs = [scenario._with_files(scenario._spec, allow_outside_paths)]
    _replay_inputs([scenario], specs, snapshots, None, allow_outside_paths)  # replay.source as twinsim run reads it
    prepared = _core._prepare_job(specs, snapshots)[0]
    if not isinstance(history, Store):
        history = os.fspath(history)
    return _core._calibrate_building(
        prepared, history, list(fit), _offset(start, scenario, "start"), _offset(end, scenario, "end"),
        cooling_property or "", temperature_property, float(max_gap), _seconds(warmup, "warmup"), int(binding),
        int(max_iterations), "" if out is None else os.fspath(out))
