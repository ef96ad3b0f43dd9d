#!/usr/bin/env python3
"""Plot the zone temperatures of a twinsim results file and name each scenario's worst room.

Usage: scripts/plot_results.py RESULTS.h5 [-o PLOT.png] [--threshold 26] [--exclude room-plant]

For every scenario of the file (its recorded `temperature` series of the rooms):

* prints the worst room — the one with the most hours above the threshold, averaged over the
  replications (counted from the recorded samples: each sample above stands for one recording
  interval, so the hours are approximate at a 15-minute interval), or, when no room goes above
  it, the room with the highest peak — with those hours and the room's peak temperature (the
  mean over the replications of each run's maximum sample);
* plots, in the upper panel, the building mean (mean over the rooms, then over the
  replications) with its 95 % confidence band across replications, and the outdoor temperature
  of the thermal_zones model's diurnal cosine when the scenario uses one; in the lower panel, the
  worst room's temperature (mean over the replications) per scenario.

Needs the twinsim Python package (twinsim.open_results) and matplotlib.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys

import numpy as np


def t_quantile_975(dof: int) -> float:
    """Student's t 97.5 % quantile (the KPIs' CI uses the same)."""
    table = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
             10: 2.228, 12: 2.179, 15: 2.131, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000}
    if dof in table:
        return table[dof]
    keys = sorted(k for k in table if k <= dof)
    return table[keys[-1]] if keys else 12.706


def outdoor_curve(spec: dict, hours: np.ndarray) -> np.ndarray | None:
    """The thermal_zones diurnal outdoor temperature of the scenario, or None."""
    for model in spec.get("models", []):
        if model.get("model") != "thermal_zones":
            continue
        p = model.get("parameters", {})
        if "outdoor_series" in p:
            return None
        values = [p.get("outdoor_mean", 24), p.get("outdoor_amplitude", 6), p.get("outdoor_peak_hour", 15),
                  p.get("utc_offset", 0)]
        if not all(isinstance(v, (int, float)) for v in values):
            return None  # "${name}" references drawn per replication
        mean, amplitude, peak, offset = values
        return mean + amplitude * np.cos(2 * math.pi * ((hours + offset) - peak) / 24)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="the results file (.h5) of twinsim run")
    parser.add_argument("-o", "--output", help="the PNG to write (default: beside the results, .png)")
    parser.add_argument("--threshold", type=float, default=26.0, help="comfort limit in °C (default 26)")
    parser.add_argument("--exclude", action="append", default=None,
                        help="rooms left out (repeatable; default: room-plant, as the scenarios' KPIs do)")
    args = parser.parse_args(argv)
    exclude = set(args.exclude if args.exclude is not None else ["room-plant"])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import twinsim

    output = pathlib.Path(args.output or pathlib.Path(args.results).with_suffix(".png"))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8), sharex=True, constrained_layout=True)
    rows = []
    outdoor_drawn = False
    with twinsim.open_results(args.results) as results:
        for scenario in results.scenarios:
            if "temperature" not in results.series_names(scenario):
                print(f"{scenario}: no temperature series, skipped", file=sys.stderr)
                continue
            t = results.series(scenario, "temperature")
            t = t.sel(twin=[w for w in t["twin"].values if w not in exclude])
            hours = t["seconds"].values / 3600.0
            interval_h = float(np.median(np.diff(hours))) if len(hours) > 1 else 0.0

            building = t.mean("twin").values  # (replication, time)
            n = building.shape[0]
            mean = building.mean(axis=0)
            # The first scenario (the baseline, usually) wide underneath, so a scenario that follows it stays visible.
            style = {"linewidth": 4, "alpha": 0.5} if not rows else {"linewidth": 1.5}
            line = top.plot(hours, mean, label=scenario, **style)[0]
            if n > 1:
                half = t_quantile_975(n - 1) * building.std(axis=0, ddof=1) / math.sqrt(n)
                top.fill_between(hours, mean - half, mean + half, color=line.get_color(), alpha=0.25, linewidth=0)

            above_h = (t > args.threshold).sum("time").mean("replication") * interval_h
            peaks = t.max("time").mean("replication")
            # Most hours above; with none above anywhere, the room with the highest peak.
            worst = str((above_h if float(above_h.max()) > 0 else peaks).idxmax("twin").values)
            worst_t = t.sel(twin=worst).mean("replication").values
            bottom.plot(hours, worst_t, color=line.get_color(), label=f"{scenario}: {worst}", **style)
            rows.append((scenario, worst, float(above_h.sel(twin=worst)), float(peaks.sel(twin=worst)), n))

            if not outdoor_drawn:
                outdoor = outdoor_curve(results.spec(scenario), hours)
                if outdoor is not None:
                    top.plot(hours, outdoor, color="grey", linestyle="--", label="outdoor")
                    outdoor_drawn = True

    if not rows:
        print("no scenario has a temperature series", file=sys.stderr)
        return 1
    for ax in (top, bottom):
        ax.axhline(args.threshold, color="red", linewidth=0.8, linestyle=":")
        ax.set_ylabel("°C")
        ax.grid(alpha=0.3)
    top.set_title("Mean room temperature (mean over the rooms and replications, 95 % confidence band)")
    bottom.set_title(f"Worst room of each scenario (most hours above {args.threshold:g} °C, else highest peak), "
                     "mean over replications")
    bottom.set_xlabel("hour of the day (from the scenario's start)")
    bottom.set_xticks(range(0, 25, 3))
    top.legend(fontsize=8, loc="upper left")
    bottom.legend(fontsize=8, loc="upper left")
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)

    width = max(len(r[0]) for r in rows)
    print(f"{'scenario':<{width}}  worst room   hours above {args.threshold:g} °C (≈)  peak °C (mean)  n")
    for scenario, worst, hours_above, peak, n in rows:
        print(f"{scenario:<{width}}  {worst:<11}  {hours_above:>19.2f}  {peak:>14.2f}  {n}")
    print(f"plot: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
