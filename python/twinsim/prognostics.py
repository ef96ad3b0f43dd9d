"""Degradation prognostics: calibrate on run-to-failure histories, predict each
unit's remaining useful life (RUL) as a distribution (models/equipment/prognostics.md).

    model = twinsim.calibrate("train_FD001.txt.gz", out="fd001-params.json")
    table = twinsim.predict_rul(model, "test_FD001.txt.gz")   # one row per unit
    table.sort_values("p_fail_30").tail(10)                    # most likely to fail within 30 cycles
    table.attrs["distributions"]["31"].pmf                     # the whole distribution of unit 31

Both are thin shells over the C++ library (twinsim._core.PrognosticsModel).
"""

from __future__ import annotations

import os
from typing import Iterable, Optional, Sequence, Union

from ._core import HistorySet, PrognosticsModel, Store

HistoriesLike = Union[str, os.PathLike, HistorySet, Store]


def _histories(histories: HistoriesLike, *, failed: bool, format: str, settings: Sequence[str],
               sensors: Sequence[str], units: Sequence[str]) -> HistorySet:
    if isinstance(histories, HistorySet):
        return histories
    if isinstance(histories, Store):
        if not sensors:
            raise ValueError("histories from a store need sensors=[...] (the keys to read)")
        return HistorySet.from_store(histories, settings=list(settings), sensors=list(sensors), units=list(units),
                                     failed=failed)
    return HistorySet.read(os.fspath(histories), format=format, settings=list(settings), sensors=list(sensors),
                           units=list(units), failed=failed)


def calibrate(histories: HistoriesLike, *, out: Optional[Union[str, os.PathLike]] = None, format: str = "auto",
              settings: Sequence[str] = (), sensors: Sequence[str] = (), units: Sequence[str] = (),
              rul_cap: float = 125.0, scenario=None, fit: Sequence[str] = (), **building):
    """Two calibrations, as ``twinsim calibrate``:

    With ``scenario=`` (a twinsim.Scenario or a scenario file): fits the
    building model's parameters ``fit`` (``NAME[@ROOMS][=LOW:HIGH]``) to the
    recorded window of ``histories`` (an HDF5 history file or a
    ``twinsim.Store``) and returns the calibration file as a dict; the other
    keywords (``start``, ``end``, ``warmup``, ``cooling_property``, ...) are
    :func:`twinsim.building_calibration.calibrate_building`'s
    (models/building/calibration.md).

    Without it: fits the prognostics model on run-to-failure histories and returns it;
    with ``out``, also writes its parameters file (what ``twinsim calibrate``
    writes and scenarios load).

    ``histories``: a C-MAPSS text file (gzip or not), a CSV file (unit, cycle,
    setting*, sensors), an HDF5 history file (``format="history"`` or a .h5
    name; name the ``sensors`` and ``settings`` keys), a ``twinsim.Store``
    (its recorded history; ``sensors`` required) or a ``HistorySet``. Every
    unit's history is taken to end at its failure. Raises HistoryInputError
    naming the file, line and column of bad input.
    """
    if scenario is not None:
        from .building_calibration import calibrate_building

        return calibrate_building(histories, scenario, fit=fit, out=out, **building)
    if fit or building:
        raise TypeError("fit= and the building-calibration keywords need scenario= (the building model to calibrate)")
    training = _histories(histories, failed=True, format=format, settings=settings, sensors=sensors, units=units)
    model = PrognosticsModel.fit(training, rul_cap=rul_cap)
    if out is not None:
        model.save(os.fspath(out))
    return model


def predict_rul(model: Union[PrognosticsModel, str, os.PathLike], histories: HistoriesLike, *,
                horizon: float = 30.0, quantiles: Iterable[float] = (0.05, 0.5, 0.95), format: str = "auto",
                settings: Sequence[str] = (), sensors: Sequence[str] = (), units: Sequence[str] = ()):
    """The RUL distribution of every unit at its last observed cycle, as a
    pandas DataFrame indexed by unit: ``cycle``, ``health`` (1 healthy, 0
    failed), ``rul_mean``, one ``rul_qNN`` column per quantile and
    ``p_fail_<horizon>`` = P(RUL <= horizon). ``table.attrs["distributions"]``
    maps each unit to its ``RulDistribution`` (``pmf``, ``quantile(p)``,
    ``probability_within(h)``).

    ``model``: a PrognosticsModel or a parameters file. ``histories``: as
    calibrate(), units still running (nothing is assumed about their end).
    """
    import pandas as pd

    if not isinstance(model, PrognosticsModel):
        model = PrognosticsModel.load(os.fspath(model))
    running = _histories(histories, failed=False, format=format, settings=settings, sensors=sensors, units=units)
    distributions = model.predict(running)
    quantiles = list(quantiles)
    horizon_name = f"p_fail_{horizon:g}"
    rows = []
    for d in distributions:
        row = {"unit": d.unit, "cycle": d.cycle, "health": d.health, "rul_mean": d.mean}
        for p in quantiles:
            row[f"rul_q{round(p * 100):02d}"] = d.quantile(p)
        row[horizon_name] = d.probability_within(horizon)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("unit") if rows else pd.DataFrame()
    table.attrs["distributions"] = {d.unit: d for d in distributions}
    return table
