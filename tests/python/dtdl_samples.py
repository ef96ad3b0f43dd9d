"""Small DTDL documents used by the Python tests, written inline.

Device <- Thermostat (extends); Thermostat has a component Info and a
relationship to Room. All DTDL v3 with the QuantitativeTypes extension (for the
semantic type and unit on Device's telemetry).
"""

import json
import pathlib

CONTEXT = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]

DEVICE = {
    "@context": CONTEXT,
    "@id": "dtmi:example:Device;1",
    "@type": "Interface",
    "displayName": "Device",
    "contents": [
        {"@type": "Property", "name": "serialNumber", "schema": "string"},
        {
            "@type": ["Telemetry", "Temperature"],
            "name": "temperature",
            "schema": "double",
            "unit": "degreeCelsius",
        },
    ],
}

THERMOSTAT = {
    "@context": CONTEXT,
    "@id": "dtmi:example:Thermostat;1",
    "@type": "Interface",
    "displayName": "Thermostat",
    "extends": "dtmi:example:Device;1",
    "contents": [
        {"@type": "Property", "name": "targetTemperature", "schema": "double", "writable": True},
        {
            "@type": "Property",
            "name": "mode",
            "schema": {
                "@type": "Enum",
                "valueSchema": "string",
                "enumValues": [
                    {"name": "heat", "enumValue": "heat"},
                    {"name": "cool", "enumValue": "cool"},
                ],
            },
        },
        {"@type": "Command", "name": "reboot", "request": {"name": "delay", "schema": "integer"}},
        {"@type": "Relationship", "name": "locatedIn", "target": "dtmi:example:Room;1", "maxMultiplicity": 1},
        {"@type": "Component", "name": "info", "schema": "dtmi:example:Info;1"},
    ],
}

ROOM = {
    "@context": CONTEXT,
    "@id": "dtmi:example:Room;1",
    "@type": "Interface",
    "displayName": "Room",
    "contents": [{"@type": "Property", "name": "area", "schema": "double"}],
}

INFO = {
    "@context": CONTEXT,
    "@id": "dtmi:example:Info;1",
    "@type": "Interface",
    "contents": [{"@type": "Property", "name": "manufacturer", "schema": "string"}],
}

ALL = [DEVICE, THERMOSTAT, ROOM, INFO]
IDS = sorted(d["@id"] for d in ALL)

# Two broken rules: a name that breaks the name pattern, and an unknown schema.
INVALID = {
    "@context": "dtmi:dtdl:context;3",
    "@id": "dtmi:example:Broken;1",
    "@type": "Interface",
    "contents": [
        {"@type": "Property", "name": "bad name!", "schema": "string"},
        {"@type": "Property", "name": "ok", "schema": "notASchema"},
    ],
}

# Valid on its own terms, but extends an interface nobody defines.
INCOMPLETE = {
    "@context": "dtmi:dtdl:context;3",
    "@id": "dtmi:example:Orphan;1",
    "@type": "Interface",
    "extends": "dtmi:example:Missing;1",
}


def write_json(path: pathlib.Path, document) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path
