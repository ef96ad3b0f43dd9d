"""The Python surface of twinsim: ModelSet construction, errors, views of a compiled model."""

import json
import pathlib

import pytest

import twinsim
from dtdl_samples import DEVICE, IDS, INCOMPLETE, INVALID, THERMOSTAT, write_json

THERMOSTAT_ID = "dtmi:example:Thermostat;1"
DEVICE_ID = "dtmi:example:Device;1"


@pytest.fixture
def models(documents):
    return twinsim.ModelSet.from_json(documents)


# --- construction ----------------------------------------------------------------------


def test_from_files_reads_a_folder_recursively(model_dir):
    models = twinsim.ModelSet.from_files(model_dir)
    assert models.interfaces == IDS
    assert len(models) == 4


def test_from_files_accepts_str_pathlike_and_lists(model_dir):
    files = [model_dir / "device.json", str(model_dir / "hvac"), model_dir / "space" / "room_and_info.json"]
    assert twinsim.ModelSet.from_files(files).interfaces == IDS
    assert twinsim.ModelSet.from_files([str(model_dir)]).interfaces == IDS


def test_from_json_accepts_dicts_strings_and_a_single_document(documents):
    mixed = [json.dumps(documents[0])] + documents[1:]
    assert twinsim.ModelSet.from_json(mixed).interfaces == IDS
    single = twinsim.ModelSet.from_json(json.dumps(DEVICE))
    assert single.interfaces == [DEVICE_ID]
    assert twinsim.ModelSet.from_json(DEVICE).interfaces == [DEVICE_ID]


def test_from_json_rejects_other_types():
    with pytest.raises(TypeError):
        twinsim.ModelSet.from_json(42)
    with pytest.raises(TypeError):
        twinsim.ModelSet.from_json([DEVICE, 3.5])


def test_container_protocol_and_repr(models):
    assert THERMOSTAT_ID in models
    assert "dtmi:example:Nothing;1" not in models
    assert 7 not in models
    assert list(models) == IDS
    assert "4 interfaces" in repr(models)


# --- errors ------------------------------------------------------------------------------


def test_exception_hierarchy():
    assert issubclass(twinsim.ModelError, twinsim.TwinsimError)
    assert issubclass(twinsim.TwinsimIoError, twinsim.TwinsimError)
    assert issubclass(twinsim.TwinsimIoError, OSError)
    assert issubclass(twinsim.TwinsimError, Exception)


def test_invalid_model_raises_model_error_with_every_error():
    with pytest.raises(twinsim.ModelError) as caught:
        twinsim.ModelSet.from_json([INVALID])
    error = caught.value
    assert isinstance(error, twinsim.TwinsimError)
    assert len(error.errors) >= 2, error.errors
    for diagnostic in error.errors:
        assert diagnostic.file == "<document 0>"
        assert diagnostic.message
        assert diagnostic.path.startswith("/")
        assert diagnostic.severity == twinsim.Severity.error
        assert set(diagnostic.to_dict()) == {"severity", "file", "id", "path", "message", "rule"}
    assert any(d.id == "dtmi:example:Broken;1" for d in error.errors)
    assert any(d.path.startswith("/contents/0") for d in error.errors)
    assert any(d.path.startswith("/contents/1") for d in error.errors)
    assert error.unresolved == []
    text = str(error)
    assert "error" in text and "<document 0>" in text
    assert str(error.errors[0]) in text


def test_invalid_file_errors_name_the_file(invalid_file):
    with pytest.raises(twinsim.ModelError) as caught:
        twinsim.ModelSet.from_files(invalid_file)
    assert all(d.file.endswith("broken.json") for d in caught.value.errors)


def test_incomplete_model_lists_unresolved_ids(incomplete_file):
    with pytest.raises(twinsim.ModelError) as caught:
        twinsim.ModelSet.from_files(incomplete_file)
    assert caught.value.unresolved == ["dtmi:example:Missing;1"]
    assert "dtmi:example:Missing;1" in str(caught.value)


def test_malformed_json_is_a_model_error():
    with pytest.raises(twinsim.ModelError) as caught:
        twinsim.ModelSet.from_json(['{"@id": "dtmi:example:X;1", '])
    assert caught.value.errors
    assert caught.value.errors[0].file == "<document 0>"


def test_missing_file_raises_io_error_naming_it(tmp_path):
    missing = tmp_path / "no-such-models"
    with pytest.raises(twinsim.TwinsimIoError) as caught:
        twinsim.ModelSet.from_files(missing)
    assert isinstance(caught.value, OSError)
    assert "no-such-models" in str(caught.value)


# --- resolver ----------------------------------------------------------------------------


def test_resolver_supplies_missing_definitions():
    calls = []

    def resolver(ids):
        calls.append(list(ids))
        return [DEVICE] if DEVICE_ID in ids else []

    orphan = dict(THERMOSTAT, contents=[], extends=DEVICE_ID)
    models = twinsim.ModelSet.from_json(orphan, resolver=resolver)
    assert models.interfaces == [DEVICE_ID, THERMOSTAT_ID]
    assert calls and DEVICE_ID in calls[0]
    assert models.is_a(THERMOSTAT_ID, DEVICE_ID)


def test_resolver_may_return_json_text_or_nothing():
    orphan = dict(THERMOSTAT, contents=[], extends=DEVICE_ID)
    models = twinsim.ModelSet.from_json(orphan, resolver=lambda ids: json.dumps(DEVICE))
    assert DEVICE_ID in models
    with pytest.raises(twinsim.ModelError) as caught:
        twinsim.ModelSet.from_json(orphan, resolver=lambda ids: None)
    assert caught.value.unresolved == [DEVICE_ID]


def test_resolver_exception_propagates():
    class Boom(RuntimeError):
        pass

    def resolver(ids):
        raise Boom("repository offline")

    with pytest.raises(Boom, match="repository offline"):
        twinsim.ModelSet.from_json(INCOMPLETE, resolver=resolver)


def test_resolver_must_be_callable():
    with pytest.raises(TypeError):
        twinsim.ModelSet.from_json(INCOMPLETE, resolver="not callable")


# --- views -------------------------------------------------------------------------------


def test_interface_bases_ancestors_and_names(models):
    thermostat = models.interface(THERMOSTAT_ID)
    assert thermostat.id == THERMOSTAT_ID
    assert thermostat.display_name == "Thermostat"
    assert thermostat.bases == [DEVICE_ID]
    assert thermostat.ancestors == [DEVICE_ID]
    assert models.interface(DEVICE_ID).bases == []
    assert THERMOSTAT_ID in repr(thermostat)


def test_flattened_contents_say_where_they_are_declared(models):
    thermostat = models.interface(THERMOSTAT_ID)
    by_name = {c.name: c for c in thermostat.contents}
    assert set(by_name) == {"serialNumber", "temperature", "targetTemperature", "mode", "reboot", "locatedIn", "info"}
    assert by_name["serialNumber"].declared_in == DEVICE_ID
    assert by_name["targetTemperature"].declared_in == THERMOSTAT_ID
    assert by_name["targetTemperature"].writable is True
    assert by_name["serialNumber"].writable is False
    assert str(by_name["targetTemperature"].schema) == "double"
    assert str(by_name["mode"].schema) == "Enum<string>{heat, cool}"
    assert by_name["mode"].schema.enum_values == [("heat", "heat"), ("cool", "cool")]
    assert [c.name for c in thermostat.properties] == [c.name for c in thermostat.contents if c.kind == by_name["mode"].kind]
    assert {c.name for c in thermostat.properties} == {"serialNumber", "targetTemperature", "mode"}


def test_content_details(models):
    thermostat = models.interface(THERMOSTAT_ID)
    temperature = thermostat.content("temperature")
    assert temperature.unit == "degreeCelsius"
    assert any("Temperature" in t for t in temperature.semantic_types)
    located_in = thermostat.content("locatedIn")
    assert located_in.target == "dtmi:example:Room;1"
    assert located_in.max_multiplicity == 1
    assert thermostat.content("info").component_interface == "dtmi:example:Info;1"
    reboot = thermostat.content("reboot")
    assert reboot.request.name == "delay" and str(reboot.request.schema) == "integer"
    assert reboot.response is None
    assert "reboot" in repr(reboot)
    with pytest.raises(KeyError, match="nothingHere"):
        thermostat.content("nothingHere")


def test_property_layout_columns(models):
    layout = models.interface(THERMOSTAT_ID).layout
    assert [slot.column for slot in layout] == list(range(len(layout)))
    types = {slot.name: slot.type for slot in layout}
    assert types == {"serialNumber": "string", "targetTemperature": "float64", "mode": "string"}
    assert {slot.name: slot.declared_in for slot in layout}["serialNumber"] == DEVICE_ID


def test_to_dict_matches_the_views(models):
    described = models.interface(THERMOSTAT_ID).to_dict()
    json.dumps(described)  # plain JSON types only
    assert described["id"] == THERMOSTAT_ID
    assert described["extends"] == [DEVICE_ID]
    properties = {p["name"]: p for p in described["properties"]}
    assert properties["serialNumber"]["declared_in"] == DEVICE_ID
    assert properties["targetTemperature"]["column_type"] == "float64"
    assert [r["target"] for r in described["relationships"]] == ["dtmi:example:Room;1"]


def test_views_keep_the_model_alive(documents):
    content = twinsim.ModelSet.from_json(documents).interface(THERMOSTAT_ID).content("mode")
    import gc

    gc.collect()
    assert str(content.schema) == "Enum<string>{heat, cool}"


def test_unknown_interface_is_a_key_error_naming_it(models):
    with pytest.raises(KeyError, match="dtmi:example:Nope;1"):
        models.interface("dtmi:example:Nope;1")


def test_is_a(models):
    assert models.is_a(THERMOSTAT_ID, DEVICE_ID)
    assert models.is_a(THERMOSTAT_ID, THERMOSTAT_ID)
    assert not models.is_a(DEVICE_ID, THERMOSTAT_ID)
    assert not models.is_a("dtmi:example:Nope;1", DEVICE_ID)
    assert models.is_a(derived=THERMOSTAT_ID, base=DEVICE_ID)


def test_validate_value(models):
    assert models.validate_value(THERMOSTAT_ID, "targetTemperature", 21.5) == []
    assert models.validate_value(THERMOSTAT_ID, "targetTemperature", 21) == []
    problems = models.validate_value(THERMOSTAT_ID, "targetTemperature", "hot")
    assert problems and all(isinstance(p, tuple) and len(p) == 2 for p in problems)
    assert models.validate_value(THERMOSTAT_ID, "mode", "heat") == []
    assert models.validate_value(THERMOSTAT_ID, "mode", "warm")
    # inherited property
    assert models.validate_value(THERMOSTAT_ID, "serialNumber", "SN-1") == []
    assert models.validate_value(THERMOSTAT_ID, "serialNumber", {"not": "a string"})
    with pytest.raises(KeyError, match="noSuchProperty"):
        models.validate_value(THERMOSTAT_ID, "noSuchProperty", 1)
    with pytest.raises(KeyError):
        models.validate_value("dtmi:example:Nope;1", "mode", "heat")
    with pytest.raises(TypeError):
        models.validate_value(THERMOSTAT_ID, "serialNumber", object())


def test_version():
    assert isinstance(twinsim.__version__, str)
    assert twinsim.__version__.count(".") == 2
