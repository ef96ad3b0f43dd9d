"""Maintenance policies as scenarios (models/equipment/maintenance.md): the bundled
policy comparison, its KPIs, crews, costs, propagation and determinism."""

import copy
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

import twinsim

SOURCE = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
POLICIES = SOURCE / "scenarios" / "equipment" / "maintenance_policies.yaml"
SWEEP = SOURCE / "scenarios" / "equipment" / "maintenance_threshold_sweep.yaml"
UNIT = "IS_OF_MODEL('dtmi:twinsim:equipment:MaintainedUnit;1')"


def variant(path, replications, change=None):
    """The scenario file with fewer replications and `change(document)` applied."""
    scenario = twinsim.Scenario.from_file(path)
    document = copy.deepcopy(scenario.to_dict())
    document["replications"] = replications
    if change is not None:
        change(document)
    return twinsim.Scenario.from_dict(document, directory=path.parent)


def maintenance_parameters(document):
    return next(b for b in document["behaviours"] if b["model"] == "maintenance")["parameters"]


def per_run(results, scenario, kpi):
    rows = results.kpis(scenario)
    rows = rows[(rows.name == kpi) & (rows.replication >= 0)].sort_values("replication")
    return rows.value.to_numpy()


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    out = tmp_path_factory.mktemp("maintenance") / "policies.h5"
    result = twinsim.run(variant(POLICIES, 12), out=out, threads=2, progress=False)
    assert not result.failures
    return result


def mean(result, scenario_suffix, kpi):
    rows = result.kpis[(result.kpis.name == kpi) & result.kpis.scenario.str.endswith(scenario_suffix)]
    assert len(rows) == 1
    return float(rows["mean"].iloc[0])


def test_policies_trade_failures_for_planned_downtime(policies):
    rtf, fixed, cbm = "[policy=run_to_failure]", "[policy=fixed_interval]", "[policy=condition]"
    assert mean(policies, rtf, "planned replacements") == 0
    assert mean(policies, fixed, "failures") < 0.7 * mean(policies, rtf, "failures")
    assert mean(policies, fixed, "planned downtime") > mean(policies, rtf, "planned downtime")
    assert mean(policies, cbm, "failures") < mean(policies, fixed, "failures")
    assert mean(policies, cbm, "availability") > mean(policies, rtf, "availability")
    # The station's capacity follows its pumps: fewer failures, fewer hours short.
    assert mean(policies, cbm, "station hours short") < mean(policies, rtf, "station hours short")
    assert mean(policies, rtf, "station hours short") > 0


def test_costs_add_up_per_replication(policies):
    with policies.open() as results:
        for scenario in results.scenarios:
            cost = per_run(results, scenario, "maintenance cost")
            expected = (12000 * per_run(results, scenario, "failures")
                        + 2500 * per_run(results, scenario, "planned replacements")
                        + 400 * per_run(results, scenario, "unplanned downtime")
                        + 50 * per_run(results, scenario, "planned downtime"))
            np.testing.assert_allclose(cost, expected, rtol=1e-9)


def test_paired_differences_against_run_to_failure(policies):
    with policies.open() as results:
        frame = results.compare()
    assert frame.attrs["baseline"].endswith("[policy=run_to_failure]")
    cost = frame[(frame.name == "maintenance cost") & frame.scenario.str.endswith("[policy=condition]")].iloc[0]
    # Condition-based is cheaper, and the paired interval (common random numbers) says so.
    assert cost.paired_n == 12
    assert cost.paired_ci95_high < 0
    assert cost.difference == pytest.approx(cost.paired_mean)


def test_one_crew_makes_failed_pumps_wait():
    def crews(n):
        def change(document):
            document["sweep"] = {"list": [{"policy": "run_to_failure"}]}
            maintenance_parameters(document)["crews"] = n
            maintenance_parameters(document)["repair_time"] = 48  # one crew is then busy ~3/4 of the year
        return change

    many = twinsim.run(variant(POLICIES, 4, crews(100)), threads=2, progress=False).kpis
    one = twinsim.run(variant(POLICIES, 4, crews(1)), threads=2, progress=False).kpis

    def per_failure(kpis):
        value = lambda name: float(kpis[kpis.name == name]["mean"].iloc[0])  # noqa: E731
        return value("unplanned downtime") / value("failures")

    # With 100 crews a failure costs lead time + repair = 120 h of downtime (less where the year ends).
    assert per_failure(many) == pytest.approx(120.0, rel=0.02)
    assert per_failure(one) > per_failure(many) + 24.0


def test_failures_reach_the_station_only_through_availability():
    def without_availability(document):
        document["behaviours"] = [b for b in document["behaviours"] if b["model"] != "availability"]
        document["sweep"] = {"list": [{"policy": "run_to_failure"}]}

    kpis = twinsim.run(variant(POLICIES, 2, without_availability), threads=1, progress=False).kpis
    assert float(kpis[kpis.name == "failures"]["mean"].iloc[0]) > 0
    assert float(kpis[kpis.name == "station hours short"]["mean"].iloc[0]) == 0.0


def test_same_results_at_any_thread_count():
    scenario = variant(POLICIES, 6)
    one = twinsim.run(scenario, threads=1, progress=False).kpis
    three = twinsim.run(scenario, threads=3, progress=False).kpis
    assert one.equals(three)


def test_threshold_sweep_has_a_cheapest_interior_threshold(tmp_path):
    result = twinsim.run(variant(SWEEP, 10), out=tmp_path / "sweep.h5", threads=2, progress=False)
    cost = result.kpis[result.kpis.name == "maintenance cost"].set_index("scenario")["mean"]
    best = cost.idxmin()
    # Replacing almost never (p = 0.999) and almost always (p = 0.005) both cost more than the best.
    assert best not in (result.scenarios[0], result.scenarios[-1])
    assert cost.iloc[0] > 1.5 * cost.min()
    # The cheapest threshold with its interval, from Python and from the CLI alike.
    with result.open() as results:
        answer = results.cheapest("maintenance cost")
    assert answer["cheapest"]["scenario"] == best
    assert answer["cheapest"]["mean"] == pytest.approx(cost.min())
    assert answer["cheapest"]["ci95_low"] < answer["cheapest"]["mean"] < answer["cheapest"]["ci95_high"]
    assert [r["scenario"] for r in answer["ranking"]] == list(cost.sort_values(kind="stable").index)
    assert answer["vs_baseline"]["baseline"] == result.scenarios[0]
    assert answer["vs_baseline"]["paired"]["ci95_high"] < 0  # far cheaper than almost never replacing
    runner = answer["runner_up"]
    assert runner["significant"] == (runner["paired"]["ci95_low"] > 0)
    cli = os.environ.get("TWINSIM_CLI")
    if cli:
        printed = subprocess.run([cli, "compare", "--cheapest", "maintenance cost", "--json", str(result.path)],
                                 check=True, capture_output=True, text=True)
        assert json.loads(printed.stdout) == answer
    with pytest.raises(twinsim.TwinsimError, match='no KPI named "cost"'):
        with result.open() as results:
            results.cheapest("cost")
