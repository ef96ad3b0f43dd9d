"""What-if scenarios from Python: build or read them, run them in parallel, or step one run.

A :class:`Scenario` is the scenario file format (docs/scenario-format.md) as an
object, validated by the same C++ readers as a file::

    scenario = twinsim.Scenario(
        "warm-day", base="building.ndjson", start="2026-07-01T00:00:00Z", horizon="PT24H",
        replications=4, seed=1,
        behaviours=[{"model": "relaxation", "where": "IS_OF_MODEL('dtmi:twinsim:building:Room;1')",
                     "parameters": {"property": "temperature", "target": 24, "time_constant": "PT1H"}}],
        recording={"series": [{"where": "IS_OF_MODEL('dtmi:twinsim:building:Room;1')",
                               "properties": ["temperature"], "interval": "PT10M"}]},
        kpis=[{"name": "peak", "statistic": "max", "property": "temperature", "over": "max",
               "where": "IS_OF_MODEL('dtmi:twinsim:building:Room;1')"}])
    scenario = twinsim.Scenario.from_file("scenarios/building/chiller-failure.yaml")

:func:`run` runs every replication of every scenario (sweeps expanded) on all
cores, with the GIL released, and writes one HDF5 results file
(docs/results-format.md)::

    result = twinsim.run(scenario, graph, out="warm.h5")     # base: a TwinGraph or an NDJSON path
    result.kpis                                             # pandas DataFrame of the summaries
    with result.open() as results:                          # twinsim.open_results
        results.series("warm-day", "temperature")

Ctrl-C stops a run cleanly: KeyboardInterrupt is raised and no results file is
left behind.

:class:`Run` is one replication stepped from Python, to look at and change
the simulated world between steps::

    r = twinsim.Run(scenario, graph)
    r.advance_to(3600)                     # seconds, a timedelta from the start, or a datetime
    hot = r.query_twins("SELECT T.$dtId FROM DIGITALTWINS T WHERE T.temperature > 25")
    r.update_digital_twin("room-00-01", [{"op": "replace", "path": "/temperature", "value": 30.0}])
    r.run_to_end()
    r.finish()["kpis"]

Durations are seconds (a number), ISO 8601 strings ("PT10M") or
``datetime.timedelta``; instants are RFC 3339 strings or ``datetime`` (a naive
datetime is taken as UTC).
"""

from __future__ import annotations

import collections
import datetime
import os
import sys
import time as _time
from typing import Any, Callable, Iterable, Mapping

from . import _core
from ._core import ScenarioError, Snapshot, TwinGraph

__all__ = ["JobResult", "Run", "RunFailure", "Scenario", "ScenarioError", "run"]

_UTC = datetime.timezone.utc
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=_UTC)

#: The keyword arguments of Scenario(), in the file format's key order.
_FIELDS = ("name", "description", "base", "base_models", "start", "horizon", "step", "replications", "seed",
           "parameters", "overrides", "edits", "events", "behaviours", "sweep", "recording", "kpis")
#: Older names still accepted: ``models`` is ``behaviours`` (a "model" is a DTDL interface).
_ALIASES = {"models": "behaviours"}


# --- values ------------------------------------------------------------------------------------

def _instant_text(value: datetime.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return value.isoformat()


def _plain(value: Any) -> Any:
    """Python values as the scenario format's JSON: timedelta -> seconds, datetime ->
    RFC 3339, paths -> str, mappings and sequences recursively."""
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, datetime.datetime):
        return _instant_text(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _from_ns(ns: int) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(microseconds=ns // 1000)


def _seconds(value: Any, what: str) -> float:
    """A duration as seconds: a number, a timedelta or an ISO 8601 string."""
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, str):
        seconds = _core._parse_duration(value)
        if seconds is None:
            raise ValueError(f"{what}: {value!r} is not a duration (seconds, or ISO 8601 such as 'PT10M')")
        return seconds
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected seconds, a timedelta or an ISO 8601 duration, not a bool")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what}: expected seconds, a timedelta or an ISO 8601 duration, "
                        f"not {type(value).__name__}") from None


# --- Scenario ----------------------------------------------------------------------------------

class Scenario:
    """One scenario (or a sweep of them): docs/scenario-format.md as an object.

    ``Scenario(name, *, base="live", start, horizon, ...)`` takes the file
    format's fields as keyword arguments (description, base_models, step,
    replications, seed, parameters, overrides, edits, events, behaviours,
    sweep, recording, kpis; ``models`` is accepted as the older name of
    ``behaviours``). Durations may be seconds, ISO 8601 strings or
    timedelta, ``start`` an RFC 3339 string or a datetime (naive = UTC), at
    any depth (an event's ``at``, a series' ``interval``). Validation is the
    file readers': a bad field raises ScenarioError (also a ValueError) with
    ``.field`` naming it.

    ``base`` is the base graph's NDJSON file, relative to ``directory`` (the
    scenario file's folder for from_file; the current directory otherwise), or
    "live" (the default for a scenario built in code): the graph is handed to
    run() / Run() then. Scenarios compare equal when their content is equal.
    """

    __slots__ = ("_spec", "_directory")

    def __init__(self, name: str | None = None, *, directory: str | os.PathLike | None = None,
                 **fields: Any):
        unknown = [key for key in fields if key not in _FIELDS and key not in _ALIASES]
        if unknown:
            raise TypeError(f"Scenario() got unexpected keyword argument(s) {', '.join(map(repr, unknown))} "
                            f"(fields: {', '.join(_FIELDS)})")
        document: dict[str, Any] = {}
        if name is not None:
            document["name"] = name
        fields.setdefault("base", "live")
        for key in _FIELDS + tuple(_ALIASES):
            if key in fields and fields[key] is not None:
                document[key] = _plain(fields[key])  # an alias beside its field: the reader refuses both
        self._spec = _core._ScenarioSpec.from_dict(document)
        self._directory = os.path.abspath(os.fspath(directory)) if directory is not None else None

    @classmethod
    def _wrap(cls, spec, directory: str | None) -> "Scenario":
        self = cls.__new__(cls)
        self._spec = spec
        self._directory = directory
        return self

    # -- readers ---------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | os.PathLike, *, allow_outside_paths: bool = False) -> "Scenario":
        """Reads a scenario file (.yaml/.yml or .json). Relative ``base`` and
        ``base_models`` resolve against the file's folder. Its ``calibration:`` files
        are applied now: they must stay inside the file's folder tree unless
        ``allow_outside_paths`` (as ``twinsim run --allow-outside-paths``). Raises
        ScenarioError (.file, .line, .field) for an invalid file, TwinsimIoError for
        an unreadable one."""
        path = os.fspath(path)
        return cls._wrap(_core._ScenarioSpec.from_file(path, bool(allow_outside_paths)),
                         os.path.dirname(os.path.abspath(path)))

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<yaml>", directory: str | os.PathLike | None = None) -> "Scenario":
        """A scenario from YAML text; errors name ``source`` and the line."""
        directory = os.path.abspath(os.fspath(directory)) if directory is not None else None
        return cls._wrap(_core._ScenarioSpec.from_yaml(text, source), directory)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], *, directory: str | os.PathLike | None = None) -> "Scenario":
        """A scenario from a dict in the file format (what to_dict() returns;
        durations and instants may also be timedelta and datetime). Errors name
        the field (there are no lines)."""
        if not isinstance(document, Mapping):
            raise TypeError(f"Scenario.from_dict expects a dict, not {type(document).__name__}")
        directory = os.path.abspath(os.fspath(directory)) if directory is not None else None
        return cls._wrap(_core._ScenarioSpec.from_dict(_plain(document)), directory)

    # -- views -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every field (defaults too) as the file format's JSON: durations in
        seconds, start as RFC 3339. ``Scenario.from_dict(s.to_dict()) == s``."""
        return self._spec.to_dict()

    def replace(self, **changes: Any) -> "Scenario":
        """A copy with some fields changed (``s.replace(replications=10)``)."""
        unknown = [key for key in changes if key not in _FIELDS and key not in _ALIASES]
        if unknown:
            raise TypeError(f"replace() got unexpected field(s) {', '.join(map(repr, unknown))}")
        document = self.to_dict()
        for key, value in changes.items():
            key = _ALIASES.get(key, key)
            if value is None:
                document.pop(key, None)
            else:
                document[key] = _plain(value)
        return Scenario.from_dict(document, directory=self._directory)

    def with_model(self, model: str, where: str | None = None, **parameters: Any) -> "Scenario":
        """A copy with one more behaviour binding (``behaviours:`` entry), e.g.
        ``s.with_model("schedule", "$dtId = 'room-00-01'", property="temperatureSetpoint",
        values=[["PT6H", 20.0]])``. ``where=None`` binds every twin (or, for a model bound to a
        DTDL interface, every twin of that interface); twinsim.behaviours() lists the behaviours and
        their parameters. Checked when the scenario is run or a Run is made."""
        binding: dict[str, Any] = {"model": model}
        if where is not None:
            binding["where"] = where
        if parameters:
            binding["parameters"] = _plain(parameters)
        document = self.to_dict()
        document["behaviours"] = list(document.get("behaviours") or []) + [binding]
        return Scenario.from_dict(document, directory=self._directory)

    def with_rules(self, where: str | None, *rules: Mapping[str, Any]) -> "Scenario":
        """A copy with a ``rules`` binding on the twins ``where`` selects: each rule a
        mapping as in a scenario file (models/rules/rules.md), e.g. ``{"name": "too hot",
        "when": "temperature > 26", "for": "PT30M", "then": [{"alarm": "hot"}]}``."""
        if not rules:
            raise ValueError("with_rules() needs at least one rule")
        return self.with_model("rules", where, rules=[dict(r) for r in rules])

    def expand(self) -> list["Scenario"]:
        """One scenario per point of the sweep (itself when there is none), named
        ``name[p=v,...]``, with the point's values as fixed parameters."""
        return [Scenario._wrap(spec, self._directory) for spec in self._spec.expand()]

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def base(self) -> str:
        """The base graph as written: an NDJSON path (relative to ``directory``) or "live"."""
        return self._spec.base

    @property
    def base_models(self) -> list[str]:
        return list(self._spec.base_models)

    @property
    def start(self) -> datetime.datetime:
        """Simulated time 0, as a UTC datetime (microseconds)."""
        return _from_ns(self._spec.start_ns)

    @property
    def horizon(self) -> float:
        """Seconds simulated."""
        return self._spec.horizon

    @property
    def replications(self) -> int:
        return self._spec.replications

    @property
    def seed(self) -> int:
        return self._spec.seed

    @property
    def file(self) -> str | None:
        """The file the scenario was read from (None when built in code)."""
        return self._spec.file or None

    @property
    def directory(self) -> str | None:
        """The folder relative paths resolve against (None: the current directory)."""
        return self._directory

    @property
    def replay(self) -> dict[str, Any] | None:
        """The ``replay:`` section as a dict (docs/replay.md; every field, defaults too), or
        None. Its ``source`` is as written: :func:`run` and :class:`Run` resolve it against
        ``directory`` as ``twinsim run`` does (see :meth:`replay_source`)."""
        return self.to_dict().get("replay")

    def replay_source(self, allow_outside_paths: bool = False) -> str | None:
        """The replay section's ``source`` resolved against ``directory`` and, unless
        ``allow_outside_paths``, confined to that folder's tree (an HDF5 history file, or a
        folder: a live store); None without a replay section or source. Raises
        ScenarioError naming ``replay.source`` (outside the folder, missing)."""
        _, _, source = _core._resolve_replay_source(self._spec, self._directory or os.getcwd(),
                                                    allow_outside_paths or self._directory is None)
        return source or None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scenario):
            return NotImplemented
        return self._spec == other._spec

    __hash__ = None  # mutable-looking content: not hashable

    def __repr__(self) -> str:
        sweep = ", sweep" if self._spec.has_sweep else ""
        return (f"<twinsim.Scenario {self.name!r} base={self.base!r} horizon={self.horizon:g} s "
                f"replications={self.replications}{sweep}>")

    # -- base graph --------------------------------------------------------------------------------
    def _resolve(self, path: str, pointer: str, field: str, allow_outside: bool, folder: bool) -> str:
        """``path`` (this scenario's ``base`` or a ``base_models`` entry) resolved against
        ``directory`` and, unless ``allow_outside``, confined to that folder's tree
        (scenario/input_paths.hpp). A scenario without a directory (built in code, not
        read from a file) names the caller's own paths: they resolve against the current
        folder, unconfined. Regular files (and model folders) only. Raises ScenarioError."""
        return _core._resolve_input_path(self._spec, self._directory or os.getcwd(), path, pointer, field,
                                         allow_outside or self._directory is None, folder)

    def _with_files(self, spec: Any, allow_outside: bool) -> Any:
        """``spec`` (this scenario's, possibly changed) with the files its behaviours read
        (thermal_zones' ``weather_file``) resolved and confined as ``_resolve`` does."""
        return _core._resolve_parameter_paths(spec, self._directory or os.getcwd(),
                                              allow_outside or self._directory is None)

    def _base_models(self, allow_outside: bool) -> list[str]:
        return [self._resolve(m, f"/base_models/{i}", f"base_models[{i}]", allow_outside, True)
                for i, m in enumerate(self.base_models)]


# --- bases -------------------------------------------------------------------------------------

def _bases(scenarios: list[Scenario], base: Any, allow_outside_paths: bool = False) -> tuple[list[Snapshot], str]:
    """One base snapshot per scenario, and the base's description for the results file.
    A scenario's own ``base`` and ``base_models`` stay inside its folder unless
    ``allow_outside_paths``; a ``base`` path passed here is the caller's own."""
    if isinstance(base, TwinGraph):
        snapshot = base.snapshot()
        return [snapshot] * len(scenarios), "live"
    if isinstance(base, Snapshot):
        return [base] * len(scenarios), "snapshot"
    if base is not None and not isinstance(base, (str, os.PathLike)):
        raise TypeError(f"base must be a TwinGraph, a Snapshot, a path to an NDJSON file or None, "
                        f"not {type(base).__name__}")
    loaded: dict[tuple[str, tuple[str, ...]], Snapshot] = {}
    sources: list[str] = []
    snapshots = []
    models_all: list[str] = []
    if base is not None:
        # One file for every scenario, with the models all of them name.
        for s in scenarios:
            for resolved in s._base_models(allow_outside_paths):
                if resolved not in models_all:
                    models_all.append(resolved)
    for s in scenarios:
        if base is not None:
            path, models = os.fspath(base), tuple(models_all)
        else:
            if s.base == "live":
                raise ValueError(f"scenario {s.name!r} has base 'live': pass the graph as base= (a TwinGraph)")
            path = s._resolve(s.base, "/base", "base", allow_outside_paths, False)
            models = tuple(s._base_models(allow_outside_paths))
        key = (os.path.abspath(path), models)
        if key not in loaded:
            graph = TwinGraph.from_ndjson(path, models=list(models) or None)
            loaded[key] = graph.snapshot()
            sources.append(path)
        snapshots.append(loaded[key])
    return snapshots, ", ".join(sources)


def _replay_inputs(items: list[Scenario], specs: list[Any], snapshots: list[Snapshot], store: Any,
                   allow_outside_paths: bool) -> None:
    """In place: each replay scenario's ``replay.source`` resolved against its folder (as
    ``twinsim run``); where the history is a live store (``store``, which replaces
    ``source``, or a source that is a folder) its rows up to the window's end are loaded
    into the spec and its graph at the window's start becomes the base snapshot
    (live::replay_window). Stores opened here by path are closed before returning."""
    core = _core
    opened: dict[str, Any] = {}
    try:
        for i, s in enumerate(items):
            if s.replay is None:
                continue
            target = store
            if target is None:
                spec, is_store, source = core._resolve_replay_source(
                    specs[i], s._directory or os.getcwd(), allow_outside_paths or s._directory is None)
                specs[i] = spec
                if not is_store:
                    continue
                target = source
            if isinstance(target, (str, os.PathLike)):
                path = os.path.abspath(os.fspath(target))
                if not os.path.isdir(path):
                    raise FileNotFoundError(f"replay store {path!r}: no such folder")
                if path not in opened:
                    opened[path] = core.open_store(path, create=False)
                target = opened[path]
            specs[i], snapshots[i] = core._replay_from_store(specs[i], target)
    finally:
        for st in opened.values():
            st.close()


def _scenario_list(scenarios: Any) -> list[Scenario]:
    items = [scenarios] if isinstance(scenarios, Scenario) else list(scenarios)
    if not items:
        raise ValueError("run() needs at least one scenario")
    for item in items:
        if not isinstance(item, Scenario):
            raise TypeError(f"expected twinsim.Scenario objects, not {type(item).__name__}")
    return items


# --- progress ----------------------------------------------------------------------------------

class _ProgressBar:
    """tqdm (tqdm.auto: a widget in notebooks) when installed, else one stderr line."""

    def __init__(self):
        self._bar = None
        self._tqdm = None
        self._last_width = 0
        try:
            from tqdm.auto import tqdm
            self._tqdm = tqdm
        except ImportError:
            pass

    @staticmethod
    def _postfix(p: dict) -> str:
        rate = p["events_per_second"]
        text = f"{p['runs_done']}/{p['runs_total']} runs"
        if p["runs_failed"]:
            text += f", {p['runs_failed']} failed"
        if rate >= 1e6:
            text += f", {rate / 1e6:.1f} M events/s"
        elif rate > 0:
            text += f", {rate / 1e3:.1f} k events/s"
        return text

    def __call__(self, p: dict) -> None:
        fraction = min(max(p["fraction"], 0.0), 1.0)
        if self._tqdm is not None:
            if self._bar is None:
                self._bar = self._tqdm(total=100, unit="%", desc="twinsim", leave=True,
                                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}")
            self._bar.n = round(100 * fraction, 1)
            self._bar.set_postfix_str(self._postfix(p), refresh=False)
            self._bar.refresh()
            return
        line = f"twinsim: {100 * fraction:5.1f}% {self._postfix(p)}, {p['elapsed_seconds']:.1f} s"
        sys.stderr.write("\r" + line.ljust(self._last_width))
        sys.stderr.flush()
        self._last_width = len(line)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._last_width:
            sys.stderr.write("\n")
            sys.stderr.flush()


# --- run ---------------------------------------------------------------------------------------

class RunFailure(collections.namedtuple("RunFailure", ["scenario", "replication", "message"])):
    """A replication whose behaviour raised: its cells stay NaN and the summaries leave it out."""

    __slots__ = ()


class JobResult:
    """What :func:`run` returns.

    - ``path``: the results file (None when run without ``out``);
    - ``failures``: list of RunFailure(scenario, replication, message) tuples;
    - ``kpis``: pandas DataFrame of the KPI summaries across replications, one row
      per (scenario, KPI, selection): scenario, name, selection, statistic, unit,
      n (runs that produced a value), mean, std, ci95_low, ci95_high (the 95 %
      interval of the mean, kept inside the statistic's range: a duration's or
      count's never goes below 0), p50, p90, p95 (percentiles across the runs);
    - ``scenarios``: the names of the scenarios run (sweeps expanded), in file order;
    - ``progress``: the final counters (runs, events, simulated and elapsed seconds);
    - ``open()``: the results file through twinsim.open_results.
    """

    __slots__ = ("path", "failures", "kpis", "scenarios", "progress", "precision")

    def __init__(self, raw: dict, scenarios: list[str]):
        import pandas as pd

        self.path: str | None = raw["path"]
        self.failures: list[RunFailure] = [RunFailure(*f) for f in raw["failures"]]
        columns = ["scenario", "name", "selection", "statistic", "unit", "n", "mean", "std", "ci95_low", "ci95_high",
                   "p50", "p90", "p95"]
        self.kpis = pd.DataFrame(raw["kpis"], columns=columns).astype(
            {"n": "int64", **{c: "float64" for c in columns[6:]}})
        self.scenarios: list[str] = scenarios
        self.progress: dict = raw["progress"]
        self.precision: dict | None = raw.get("precision")  # run(precision=...): replications, rounds, unmet

    def open(self):
        """twinsim.open_results(self.path) (use it as a context manager)."""
        from .results import open_results

        if self.path is None:
            raise ValueError("this run wrote no results file: pass out='results.h5' to twinsim.run()")
        return open_results(self.path)

    def __repr__(self) -> str:
        return (f"<twinsim.JobResult {len(self.scenarios)} scenario(s), {self.progress['runs_total']} runs, "
                f"{len(self.failures)} failed, path={self.path!r}>")


def run(scenarios: Scenario | Iterable[Scenario], base: Any = None, out: str | os.PathLike | None = None,
        threads: int = 0, progress: bool | Callable[[dict], Any] = True, replications: int | None = None,
        seed: int | None = None, allow_outside_paths: bool = False, *, resume: bool = False,
        batch_size: int | None = None, client: Any = None, precision: Mapping[str, Any] | None = None,
        max_replications: int = 1000, store: Any = None) -> JobResult:
    """Runs every replication of every scenario (sweeps expanded into their points).

    base: a TwinGraph (its snapshot now: later writes do not matter), a Snapshot,
    the path of an NDJSON file (loaded with the models every scenario's
    ``base_models`` names), or None: each scenario's own ``base`` file (relative
    to its file), with its ``base_models``.
    out: the HDF5 results file (docs/results-format.md), written atomically
    (replaced if it exists); None writes no file (the KPI summaries are still
    returned).
    threads: worker threads, 0 = every core. The results are the same bits at
    any thread count.
    progress: True shows a progress bar (tqdm when installed, else a line on
    stderr), False nothing; a callable receives a dict of counters (runs_done,
    runs_total, runs_failed, fraction, events, elapsed_seconds, ...) about five
    times a second.
    replications, seed: override every scenario's.
    allow_outside_paths: let the ``base`` and ``base_models`` of a scenario read
    from a file (or given a ``directory``) be absolute or lead out of that folder
    (by default they must stay inside its tree, or in twinsim's own models/
    folder, so a scenario from someone else reads nothing else; ScenarioError
    otherwise). They must be regular files (or folders of models) either way.
    The same holds for a replay section's ``source`` (docs/replay.md).
    store: the live store (a twinsim.Store or its folder) a scenario's ``replay:``
    section reads its recorded history from, replacing ``source`` (``twinsim run
    --store``); the store's graph at the window's start is then the base graph. A
    ``source`` that is a folder is opened as a store the same way. A store whose
    graph at the window's start is empty (filled after the fact) raises HistoryError
    naming the window and what the store holds.

    resume: run resumably (scenario::run_job_resumable, docs/runner.md "Resumable
    jobs"): batches of runs are written under ``<out>.parts`` as they finish and
    merged at the end; the same call after a crash, a kill or Ctrl-C reuses the
    finished batches. Needs ``out``. batch_size: runs per batch (default: auto).
    client: a ``dask.distributed.Client``: the job runs on its cluster
    (twinsim.distributed, docs/distributed.md), in batches (batch_size, default
    sized from a short pilot run: rounds of one batch per worker thread, each at least
    about a second of work), and ``out`` (required) is the file this
    function writes without a client, identical in every dataset and attribute
    but ``created``. Needs ``pip install twinsim[dask]``.

    precision: sequential replications (docs/runner.md, "Sequential
    replications"): ``{"KPI": half_width}`` (in the KPI's unit), ``{"KPI": "5%"}``
    (relative to the mean) or ``{"KPI@SELECTION": ...}``: rounds of the job with
    more replications until every such KPI's 95 % CI half-width is met in every
    scenario, or a scenario reaches ``max_replications``. ``result.precision`` then
    holds ``replications`` ({scenario: n}), ``rounds`` and ``unmet`` (what the
    maximum stopped short of). The counts and the results do not depend on
    ``threads``.

    The GIL is released while the runs work. Ctrl-C (or an exception raised by a
    progress callable) stops every run, leaves no results file and is raised
    here (KeyboardInterrupt). A scenario the base graph refuses raises
    ScenarioError before anything runs; a run whose behaviour fails is reported
    in ``failures`` and the others complete.
    """
    items = _scenario_list(scenarios)
    if threads is None or int(threads) < 0:
        raise ValueError(f"threads must be >= 0 (0 = every core), not {threads!r}")
    specs = [s._with_files(s._spec.with_changes(replications, seed), allow_outside_paths) for s in items]
    snapshots, source = _bases(items, base, allow_outside_paths)
    _replay_inputs(items, specs, snapshots, store, allow_outside_paths)
    prepared = _core._prepare_job(specs, snapshots)
    if client is not None:
        if resume:
            raise ValueError("resume=True is for a job on this machine; a distributed job reruns lost batches itself")
        if precision:
            raise ValueError("precision runs rounds of the whole job on this machine: not with resume or a client")
        from .distributed import run_on_cluster

        bases = [snapshot for spec, snapshot in zip(specs, snapshots) for _ in spec.expand()]
        raw = run_on_cluster(client, prepared, bases, out, source, batch_size=batch_size,
                             progress=progress if callable(progress) else None)
        return JobResult(raw, [p.name for p in prepared])
    targets = []
    for key, value in (precision or {}).items():
        kpi, _, selection = str(key).partition("@")
        relative = isinstance(value, str) and value.strip().endswith("%")
        number = float(value.strip()[:-1]) / 100 if relative else float(value)
        if not number > 0 or number == float("inf"):
            raise ValueError(f"precision[{key!r}] must be > 0, not {value!r}")
        targets.append((kpi, selection, number, relative))
    if targets and (resume or client is not None):
        raise ValueError("precision runs rounds of the whole job on this machine: not with resume or a client")
    if batch_size is not None and not resume:
        raise ValueError("batch_size is for resume=True or a client")
    if callable(progress):
        reporter, close = progress, None
    elif progress:
        bar = _ProgressBar()
        reporter, close = bar, bar.close
    else:
        reporter, close = None, None
    try:
        raw = _core._run_job(prepared, None if out is None else os.fspath(out), int(threads), reporter, source,
                             resume=bool(resume), batch_size=int(batch_size or 0), precision=targets,
                             max_replications=int(max_replications))
    finally:
        if close is not None:
            close()
    return JobResult(raw, [p.name for p in prepared])


# --- choosing: ranking and selection, the cheapest feasible ------------------------------------

def _prepared_for_choice(scenarios, base, allow_outside_paths):
    items = _scenario_list(scenarios)
    specs = [s._with_files(s._spec, allow_outside_paths) for s in items]
    snapshots, _ = _bases(items, base, allow_outside_paths)
    return _core._prepare_job(specs, snapshots)


def select_best(scenarios: Scenario | Iterable[Scenario], kpi: str, delta: float, *, maximize: bool = True,
                alpha: float = 0.05, first_stage: int = 10, max_replications: int = 1000, threads: int = 0,
                base: Any = None, allow_outside_paths: bool = False) -> dict:
    """The best scenario by ``kpi`` (``"KPI@SELECTION"`` for one selection) with Kim and
    Nelson's fully sequential procedure (docs/selection.md): P(correct selection) >= 1 - alpha
    when the best mean is better than every other by at least ``delta`` (the KPI's unit).
    Sweeps are expanded; replications draw common random numbers. Returns {best, decided,
    eta, h2, systems: [{scenario, mean, replications, eliminated_at}]}. The same answer
    at any thread count. Raises ScenarioError for a bad option or a KPI a scenario lacks."""
    name, _, selection = kpi.partition("@")
    prepared = _prepared_for_choice(scenarios, base, allow_outside_paths)
    return _core._select_best(prepared, name, selection, bool(maximize), float(delta), float(alpha), int(first_stage),
                              int(max_replications), int(threads))


def cheapest_feasible(scenarios: Scenario | Iterable[Scenario], kpi: str, threshold: float, *, at_least: bool = True,
                      alpha: float = 0.05, first_stage: int = 10, max_replications: int = 1000, threads: int = 0,
                      base: Any = None, allow_outside_paths: bool = False) -> dict:
    """The first scenario, in the order given (cheapest first: e.g. a sweep over agents),
    whose mean of ``kpi`` is >= ``threshold`` (``at_least=False``: <=) with confidence
    1 - alpha for every decision made (docs/selection.md). Returns {chosen (a scenario
    name or None), alpha_per_test, systems: [{scenario, decision, mean, low, high,
    replications}]}, decision one of feasible, infeasible, undecided, not tested."""
    name, _, selection = kpi.partition("@")
    prepared = _prepared_for_choice(scenarios, base, allow_outside_paths)
    return _core._cheapest_feasible(prepared, name, selection, float(threshold), bool(at_least), float(alpha),
                                    int(first_stage), int(max_replications), int(threads))


# --- Run ---------------------------------------------------------------------------------------

class Run:
    """One replication of one scenario, stepped from Python.

    ``Run(scenario, base=None, replication=0, *, allow_outside_paths=False, store=None)``:
    base, allow_outside_paths and store as for :func:`run`. The
    scenario must be one point (expand() a sweep and pick one). Its
    behaviours, overrides, injected events, recorder and KPIs are those of the
    same replication in :func:`run`, so a Run driven to the end without
    changes records the same values.

    Time: ``now`` (seconds since the start), ``time`` (UTC datetime),
    ``horizon`` (seconds). ``advance_to(t)`` runs the events up to t (seconds,
    a timedelta from the start, an ISO 8601 duration or a datetime), never
    past the horizon, with the GIL released; ``run_to_end()``.

    The run's graph: ``query_twins`` (a twinsim.QueryResult, as
    TwinGraph.query_twins), ``get_digital_twin``, ``snapshot()``, and
    ``update_digital_twin(id, patch)``, which goes through the recorder (an
    on-change series and the KPIs see it). ``parameters``: this replication's
    parameter values. ``finish()`` closes the recorder at ``now``.

    A behaviour that raises fails the run: the call raises a twinsim exception
    (TwinsimError or a subclass) and later calls refuse to continue.
    """

    __slots__ = ("_run", "_start", "scenario")

    def __init__(self, scenario: Scenario, base: Any = None, replication: int = 0, *,
                 allow_outside_paths: bool = False, store: Any = None):
        if not isinstance(scenario, Scenario):
            raise TypeError(f"expected a twinsim.Scenario, not {type(scenario).__name__}")
        points = scenario.expand()
        if len(points) != 1:
            raise ValueError(f"scenario {scenario.name!r} sweeps {len(points)} points: pick one of "
                             f"scenario.expand() ({points[0].name!r}, ...)")
        snapshots, _ = _bases([scenario], base, allow_outside_paths)
        specs = [scenario._with_files(scenario._spec, allow_outside_paths)]
        _replay_inputs([scenario], specs, snapshots, store, allow_outside_paths)
        prepared = _core._prepare_job(specs, snapshots)[0]
        self._run = _core._Run(prepared, replication)
        self._start = _from_ns(self._run.start_ns)
        #: The Scenario (its one point when it had a one-point sweep).
        self.scenario = points[0]

    # -- time ------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._run.name

    @property
    def replication(self) -> int:
        return self._run.replication

    @property
    def now(self) -> float:
        """Simulated seconds since the start."""
        return self._run.now

    @property
    def time(self) -> datetime.datetime:
        """The simulated instant now, as a UTC datetime (microseconds)."""
        return self._start + datetime.timedelta(seconds=self._run.now)

    @property
    def start(self) -> datetime.datetime:
        return self._start

    @property
    def horizon(self) -> float:
        return self._run.horizon

    def _target(self, t: Any) -> float:
        if isinstance(t, datetime.datetime):
            if t.tzinfo is None:
                t = t.replace(tzinfo=_UTC)
            return (t - self._start).total_seconds()
        return _seconds(t, "advance_to")

    def advance_to(self, t: Any) -> float:
        """Runs events up to t (clamped to the horizon) and returns ``now``.
        Raises ValueError for a time before ``now``."""
        return self._run.advance_to(self._target(t))

    def run_to_end(self) -> float:
        """Runs to the horizon; returns ``now``."""
        return self._run.advance_to(self._run.horizon)

    # -- the graph -------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The run's graph now, as an immutable twinsim.Snapshot."""
        return self._run.snapshot()

    def query_twins(self, query: str, *, page_size: int | None = None, max_rows: int | None = None):
        """An ADT query on the run's graph now (twinsim.QueryResult, as TwinGraph.query_twins)."""
        return self._run.snapshot().query_twins(query, page_size=page_size, max_rows=max_rows)

    def get_digital_twin(self, digital_twin_id: str) -> dict:
        """A twin of the run's graph as ADT JSON. Raises NotFoundError."""
        return self._run.snapshot().get_digital_twin(digital_twin_id)

    def update_digital_twin(self, digital_twin_id: str, json_patch: list) -> None:
        """Applies a JSON Patch (list of {op, path, value}) to a twin of the run
        at ``now``, through the recorder. Raises NotFoundError, ValidationError."""
        self._run.update_twin(digital_twin_id, json_patch)

    @property
    def parameters(self) -> dict:
        """This replication's parameters (fixed, sweep point and drawn values)."""
        return self._run.parameters

    # -- results ---------------------------------------------------------------------------------
    def finish(self) -> dict:
        """Closes the recorder at ``now`` (last samples, KPIs over [0, now]); call once.

        Returns a dict: ``events`` (DataFrame: replication, time, seconds, twin,
        type, detail as a dict — the columns of Results.events), ``kpis``
        (DataFrame: name, selection, statistic, replication, aggregate, value,
        unit — per-run rows as in Results.kpis), ``series`` (interval series by
        name: xarray DataArrays (time, twin) with a ``seconds`` coordinate),
        ``changes`` (on-change series by name: DataFrames time, seconds, twin,
        value), ``parameters`` and ``end`` (seconds reached).
        """
        import json

        import numpy as np
        import pandas as pd
        import xarray as xr

        raw = self._run.finish()
        origin = np.datetime64(self._run.start_ns, "ns")

        def times(seconds) -> np.ndarray:
            s = np.asarray(seconds, dtype=np.float64)
            return origin + np.round(s * 1e9).astype("timedelta64[ns]")

        e = raw["events"]
        events = pd.DataFrame({
            "replication": np.asarray(e["replication"], dtype=np.uint32),
            "time": times(e["seconds"]),
            "seconds": np.asarray(e["seconds"], dtype=np.float64),
            "twin": e["twin"],
            "type": e["type"],
            "detail": [json.loads(d) for d in e["detail"]],
        }, columns=["replication", "time", "seconds", "twin", "type", "detail"])
        kpis = pd.DataFrame(raw["kpis"], columns=["name", "selection", "statistic", "replication", "aggregate",
                                                  "value", "unit"]).astype({"replication": np.int32,
                                                                            "value": np.float64})
        series: dict[str, Any] = {}
        changes: dict[str, Any] = {}
        for s in raw["series"]:
            attrs = {"units": s["unit"], "model": s["model"], "property": s["property"], "scenario": self.name,
                     "replication": self.replication}
            if s["on_change"]:
                c = s["changes"]
                changes[s["name"]] = pd.DataFrame({"time": times(c["seconds"]), "seconds": c["seconds"],
                                                   "twin": c["twin"], "value": c["value"]},
                                                  columns=["time", "seconds", "twin", "value"])
                continue
            twins = list(s["twins"])
            steps = len(s["times"])
            values = np.asarray(s["values"], dtype=np.float64)[: steps * len(twins)].reshape(steps, len(twins))
            series[s["name"]] = xr.DataArray(
                values, dims=("time", "twin"), name=s["name"], attrs=attrs,
                coords={"time": times(s["times"]), "twin": np.array(twins, dtype=object),
                        "seconds": ("time", np.asarray(s["times"], dtype=np.float64))})
        return {"events": events, "kpis": kpis, "series": series, "changes": changes,
                "parameters": raw["parameters"], "end": raw["end"]}

    def __repr__(self) -> str:
        return (f"<twinsim.Run {self.name!r} replication {self.replication} at {self.now:g} s "
                f"of {self.horizon:g} s>")
