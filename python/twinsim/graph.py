"""Pure-Python companions of twinsim.TwinGraph (the graph itself is compiled).

``MatchConditions`` mirrors ``azure.core.MatchConditions`` (same member names and
values), so code written for the Azure Digital Twins SDK passes
``match_condition=MatchConditions.IfNotModified`` unchanged; TwinGraph accepts
this enum, azure.core's own, or the member name as a str.

``DigitalTwinsModelData`` and ``IncomingRelationship`` are the dicts the REST API
returns (its key names), with the SDK's attribute names as read-only properties,
so both ``model["id"]`` and ``model.id`` work.

``Column`` is what ``column()`` returns: ``ids, values = graph.column(...)``,
plus ``.unit``.
"""

from __future__ import annotations

import collections
import datetime
import enum
import re

__all__ = ["Column", "DigitalTwinsModelData", "IncomingRelationship", "MatchConditions"]


class MatchConditions(enum.Enum):
    """Conditions of a write on an etag, as azure.core.MatchConditions.

    - ``Unconditionally``: apply whatever the current etag (an ``etag=`` passed
      with it is ignored, as in the SDK);
    - ``IfNotModified``: apply only if the current etag equals ``etag=``
      (If-Match: etag), else ConflictError with code "PreconditionFailed";
    - ``IfPresent``: apply only if the twin or relationship exists (If-Match: *);
    - ``IfMissing``: create only (If-None-Match: *), else ConflictError with code
      "DigitalTwinAlreadyExists" / "RelationshipAlreadyExists";
    - ``IfModified``: defined for compatibility; no twinsim operation accepts it
      (ValueError).
    """

    Unconditionally = 1
    IfNotModified = 2
    IfModified = 3
    IfPresent = 4
    IfMissing = 5


_FRACTION = re.compile(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def _parse_time(text):
    """An ADT timestamp ("2026-07-01T12:00:00.1234567Z") as an aware datetime
    (microsecond precision; datetime.fromisoformat of Python < 3.11 reads
    neither 7 fractional digits nor "Z")."""
    if not isinstance(text, str):
        return text
    match = _FRACTION.match(text)
    if match is None:
        return datetime.datetime.fromisoformat(text)
    head, fraction, zone = match.groups()
    micro = (fraction or "").ljust(6, "0")[:6]
    zone = "+00:00" if zone == "Z" else zone
    return datetime.datetime.fromisoformat(f"{head}.{micro}{zone}")


class DigitalTwinsModelData(dict):
    """One model as the ADT REST API describes it: a dict with keys ``id``,
    ``displayName`` and ``description`` (language -> text), ``uploadTime``
    (ADT timestamp text), ``decommissioned`` and, when the definition was asked
    for, ``model`` (the DTDL interface as uploaded). The attributes are the
    SDK's names: id, display_name, description, upload_time (a datetime),
    decommissioned, model (None when not included)."""

    __slots__ = ()

    @property
    def id(self):
        return self["id"]

    @property
    def display_name(self):
        return self.get("displayName", {})

    @property
    def description(self):
        return self.get("description", {})

    @property
    def upload_time(self):
        return _parse_time(self.get("uploadTime"))

    @property
    def decommissioned(self):
        return self.get("decommissioned", False)

    @property
    def model(self):
        return self.get("model")

    def as_dict(self):
        """A plain dict copy (the SDK's models have as_dict())."""
        return dict(self)

    def __repr__(self):
        return f"DigitalTwinsModelData({dict.__repr__(self)})"


class IncomingRelationship(dict):
    """One incoming relationship as ADT lists it: a dict with keys
    ``$relationshipId``, ``$sourceId``, ``$relationshipName`` and
    ``$relationshipLink``; attributes relationship_id, source_id,
    relationship_name, relationship_link as in the SDK."""

    __slots__ = ()

    @property
    def relationship_id(self):
        return self.get("$relationshipId")

    @property
    def source_id(self):
        return self.get("$sourceId")

    @property
    def relationship_name(self):
        return self.get("$relationshipName")

    @property
    def relationship_link(self):
        return self.get("$relationshipLink")

    def as_dict(self):
        return dict(self)

    def __repr__(self):
        return f"IncomingRelationship({dict.__repr__(self)})"


class Column(collections.namedtuple("Column", ["ids", "values"])):
    """A numeric property over a model's twins: ``ids`` (list of twin ids, in
    twin-index order) and ``values`` (read-only numpy float64 array of the same
    length; twins without the property set are left out). ``unit`` is the
    property's DTDL unit, or None."""

    unit = None  # also for copies made by _replace()/_make(), which bypass __new__

    def __new__(cls, ids, values, unit=None):
        self = super().__new__(cls, ids, values)
        self.unit = unit
        return self

    def __repr__(self):
        return f"Column({len(self.ids)} twins, unit={self.unit!r})"
