"""twinsim: a digital-twin engine with a what-if simulator.

Compile DTDL models and explore them::

    import twinsim
    models = twinsim.ModelSet.from_files("models/")
    models.interface("dtmi:example:Room;1").contents

Build a live twin graph with the Azure Digital Twins SDK's method names
(DigitalTwinsClient), or load one from an ADT import-job NDJSON file::

    graph = twinsim.TwinGraph.from_ndjson("scenarios/building/building.ndjson", models="models/building")
    graph.update_digital_twin("room-00-01", [{"op": "replace", "path": "/temperature", "value": 23.5}])
    ids, temperatures = graph.snapshot().column("dtmi:twinsim:building:Room;1", "temperature")

Ask questions in the ADT query language; the rows page transparently and
convert to a pandas DataFrame::

    warm = graph.query_twins("SELECT R.$dtId, R.temperature FROM DIGITALTWINS R "
                             "WHERE IS_OF_MODEL(R, 'dtmi:twinsim:building:Room;1') AND R.temperature > 24")
    warm.to_dataframe()

The compiled engine lives in the private extension module ``twinsim._core``;
this package re-exports its public names, and ``twinsim.graph`` adds the
pure-Python pieces of the graph API (MatchConditions and result types).

Open simulation results (docs/results-format.md): series as xarray
DataArrays, events and KPIs as pandas DataFrames, each scenario's spec::

    with twinsim.open_results("out.h5") as results:
        results.series(results.scenarios[0], "Room.temperature").mean("replication")
        results.kpis()

Simulate what-if scenarios (docs/scenario-format.md) on a live graph or an
NDJSON file, in parallel, into one HDF5 results file; or step one run::

    scenario = twinsim.Scenario.from_file("scenarios/building/chiller-failure.yaml")
    result = twinsim.run(scenario, graph, out="out.h5")   # result.kpis, result.failures, result.open()
    run = twinsim.Run(scenario, graph)
    run.advance_to(3600)
    run.query_twins("SELECT T.$dtId FROM DIGITALTWINS T WHERE T.temperature > 26")

``twinsim.behaviours()`` lists the behaviours a scenario's ``behaviours:``
section can bind (a "model" is a DTDL interface; ``models()`` is the older,
deprecated name of ``behaviours()``).

Keep a graph on disk (docs/store.md): every write is journaled and returns
once durable; reopening gives the graph back exactly::

    with twinsim.open_store("plant.store", durability="group") as store:
        store.upsert_digital_twin("pump-1", {"$metadata": {"$model": "dtmi:example:Pump;1"}})

Exceptions: ``TwinsimError`` is the base of everything twinsim raises for bad
input, and every one has ``.code`` (the ADT error code, or None).
``ModelError`` (invalid or incomplete DTDL, with ``.errors`` and
``.unresolved``), ``TwinsimIoError`` (a file that cannot be read; also an
``OSError``), ``NotFoundError`` (also a ``LookupError``), ``ConflictError``
(etag mismatch, existing id, delete refused), ``ValidationError`` (also a
``ValueError``) and ``GraphImportError`` (also a ``ValueError``, with
``.problems``) and ``QueryError`` (a malformed query or an exceeded row cap;
also a ``ValueError``, with ``.line``, ``.column``, ``.token``, ``.expected``)
and ``ScenarioError`` (a bad scenario; also a ``ValueError``, with ``.file``,
``.line``, ``.field``, ``.reason``), ``MappingError`` (a bad ingestion
mapping or input that cannot be ingested; the same attributes),
``RouteFilterError`` (a bad event-route filter; also a ``ValueError``, with
``.line``, ``.column``) and ``TelemetryError`` (telemetry the twin's model
refuses; also a ``ValueError``) derive from it.

Fit equipment lives to run-to-failure data, censored units included
(models/equipment/lifetime.md)::

    fit = twinsim.fit_weibull(times, failed)          # failed=False: still running
    fit.life.conditional_failure_probability(age, 720.0)
    twinsim.fit_weibull_aft(times, failed, {"load": load, "temperature": temperature})

Predict failures (models/equipment/prognostics.md): calibrate on
run-to-failure histories, then each unit's remaining useful life as a
distribution::

    model = twinsim.calibrate("train_FD001.txt.gz", out="fd001-params.json")
    twinsim.predict_rul(model, "test_FD001.txt.gz").sort_values("p_fail_30")

Feed a graph with device messages, CSV or a DataFrame (docs/ingest.md)::

    report = graph.ingest("messages.ndjson", mapping="mapping.yaml", policy="dead-letter",
                          dead_letter="bad.ndjson")
"""

from ._core import (
    CommandPayload,
    ConflictError,
    Content,
    Diagnostic,
    GraphImportError,
    HistoryError,
    HistoryInputError,
    HistorySet,
    Interface,
    LifetimeError,
    LivePrognostics,
    MappingError,
    ModelError,
    ModelSet,
    NotFoundError,
    PrognosticsModel,
    PrognosticsParameterError,
    PropertySlot,
    QueryError,
    RouteFilterError,
    RuleFileError,
    RulDistribution,
    ScenarioError,
    Schema,
    Severity,
    Snapshot,
    Store,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreWriteError,
    TelemetryError,
    TwinGraph,
    TwinsimError,
    TwinsimIoError,
    ValidationError,
    WeatherInputError,
    WeibullAft,
    WeibullAftFit,
    WeibullFit,
    WeibullLife,
    __version__,
    behaviours,
    fit_weibull,
    open_store,
    read_rul_truth,
    read_tmy3,
)
from .graph import Column, DigitalTwinsModelData, IncomingRelationship, MatchConditions
from .query import QueryResult
from .history import _install as _install_history
from .lifetime import fit_weibull_aft
from .results import Results, open_results
from .scenario import JobResult, Run, RunFailure, Scenario, cheapest_feasible, run, select_best
from .prognostics import calibrate, predict_rul

_install_history(Store)  # Store.history, history_arrow, export_history, thin_history (docs/history.md)

__all__ = [
    "Column",
    "CommandPayload",
    "ConflictError",
    "Content",
    "Diagnostic",
    "DigitalTwinsModelData",
    "GraphImportError",
    "HistoryError",
    "HistoryInputError",
    "HistorySet",
    "IncomingRelationship",
    "Interface",
    "JobResult",
    "LifetimeError",
    "LivePrognostics",
    "MappingError",
    "MatchConditions",
    "ModelError",
    "ModelSet",
    "NotFoundError",
    "PrognosticsModel",
    "PrognosticsParameterError",
    "PropertySlot",
    "QueryError",
    "QueryResult",
    "Results",
    "RouteFilterError",
    "RuleFileError",
    "RulDistribution",
    "Run",
    "RunFailure",
    "Scenario",
    "ScenarioError",
    "Schema",
    "Severity",
    "Snapshot",
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "StoreWriteError",
    "TelemetryError",
    "TwinGraph",
    "TwinsimError",
    "TwinsimIoError",
    "ValidationError",
    "WeatherInputError",
    "WeibullAft",
    "WeibullAftFit",
    "WeibullFit",
    "WeibullLife",
    "__version__",
    "behaviours",
    "calibrate",
    "fit_weibull",
    "fit_weibull_aft",
    "models",
    "open_results",
    "open_store",
    "predict_rul",
    "read_rul_truth",
    "read_tmy3",
    "run",
    "select_best",
    "cheapest_feasible",
]


def models() -> list[dict]:
    """Deprecated: the older name of :func:`behaviours` (in twinsim a "model" is a
    DTDL interface; what a scenario binds to twins is a behaviour)."""
    import warnings

    warnings.warn("twinsim.models() is deprecated: use twinsim.behaviours() (a \"model\" is a DTDL interface)",
                  DeprecationWarning, stacklevel=2)
    return behaviours()
