"""The `twinsim` program, run as a user runs it (path in $TWINSIM_CLI)."""

import json
import os
import re
import subprocess

import pytest

from dtdl_samples import IDS, write_json

CLI = os.environ.get("TWINSIM_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")


def twinsim(*args, cwd=None):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd)


# --- validate ----------------------------------------------------------------------------


def test_validate_valid_folder(model_dir):
    run = twinsim("validate", model_dir)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1] == "valid: 4 interfaces"


def test_validate_several_paths_form_one_model_set(model_dir):
    # Thermostat alone is incomplete; with Device, Room and Info beside it, valid.
    alone = twinsim("validate", model_dir / "hvac")
    assert alone.returncode == 1
    together = twinsim("validate", model_dir / "hvac", model_dir / "device.json", model_dir / "space")
    assert together.returncode == 0, together.stdout


def test_validate_invalid_prints_one_line_per_error(invalid_file):
    run = twinsim("validate", invalid_file)
    assert run.returncode == 1
    lines = run.stdout.strip().splitlines()
    errors = [line for line in lines if line.startswith(str(invalid_file) + ": ")]
    assert len(errors) >= 2, run.stdout
    assert all("dtmi:example:Broken;1" in line for line in errors)
    assert re.fullmatch(r"invalid: \d+ errors", lines[-1]), lines[-1]
    assert lines[-1] == f"invalid: {len(errors)} errors"


def test_validate_incomplete_lists_unresolved(incomplete_file):
    run = twinsim("validate", incomplete_file)
    assert run.returncode == 1
    lines = run.stdout.strip().splitlines()
    assert "unresolved: dtmi:example:Missing;1" in lines
    assert lines[-1] == "invalid: 1 unresolved identifier"


def test_validate_json_valid(model_dir):
    run = twinsim("validate", "--json", model_dir)
    assert run.returncode == 0
    report = json.loads(run.stdout)
    assert report["valid"] is True
    assert report["errors"] == [] and report["unresolved"] == []
    assert report["interfaces"] == 4


def test_validate_json_invalid_and_incomplete(invalid_file, incomplete_file):
    run = twinsim("validate", "--json", invalid_file, incomplete_file)
    assert run.returncode == 1
    report = json.loads(run.stdout)
    assert report["valid"] is False
    assert report["unresolved"] == ["dtmi:example:Missing;1"]
    assert len(report["errors"]) >= 2
    for error in report["errors"]:
        assert {"file", "id", "path", "message"} <= set(error)
        assert error["file"] == str(invalid_file)
        assert error["message"]


def test_missing_path_is_exit_2_naming_it(tmp_path):
    missing = tmp_path / "does-not-exist.json"
    for command in ("validate", "describe"):
        run = twinsim(command, missing)
        assert run.returncode == 2, run.stderr
        assert str(missing) in run.stderr
        assert "Traceback" not in run.stderr and "terminate" not in run.stderr


def test_malformed_json_is_exit_1_with_a_clear_message(tmp_path):
    bad = tmp_path / "truncated.json"
    bad.write_text('{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:example:X;1", ', encoding="utf-8")
    run = twinsim("validate", bad)
    assert run.returncode == 1
    first = run.stdout.splitlines()[0]
    assert first.startswith(str(bad) + ":")
    assert "json" in first.lower() or "unexpected" in first.lower() or "parse" in first.lower(), first


def test_binary_garbage_does_not_crash(tmp_path):
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(bytes(range(256)) * 4)
    run = twinsim("validate", "--json", garbage)
    assert run.returncode == 1
    assert json.loads(run.stdout)["valid"] is False


# --- usage -------------------------------------------------------------------------------


def test_no_subcommand_prints_help_and_exits_2():
    run = twinsim()
    assert run.returncode == 2
    assert "validate" in run.stderr and "describe" in run.stderr


def test_usage_errors_exit_2(model_dir):
    assert twinsim("validate").returncode == 2  # PATH is required
    assert twinsim("validate", "--no-such-option", model_dir).returncode == 2
    assert twinsim("frobnicate").returncode == 2


@pytest.mark.parametrize("command", [[], ["validate"], ["describe"]])
def test_help_on_every_command(command):
    run = twinsim(*command, "--help")
    assert run.returncode == 0
    assert "Usage" in run.stdout or "usage" in run.stdout.lower()
    if command:
        assert "--json" in run.stdout and "--allow-undefined-extensions" in run.stdout


def test_version_is_the_project_version(source_dir):
    run = twinsim("--version")
    assert run.returncode == 0
    cmake = (source_dir / "CMakeLists.txt").read_text()
    version = re.search(r"project\(twinsim VERSION (\d+\.\d+\.\d+)", cmake).group(1)
    assert run.stdout.strip() == f"twinsim {version}"


# --- behaviours --------------------------------------------------------------------------


def test_behaviours_lists_the_registry_with_interfaces_units_and_defaults():
    run = twinsim("behaviours")
    assert run.returncode == 0, run.stderr
    text = run.stdout
    for name in ("availability", "queue", "relaxation", "rules", "schedule", "thermal_zones"):
        assert re.search(rf"^{name}  \(", text, re.MULTILINE), name
    assert "thermal_zones  (binds to dtmi:twinsim:building:Room;1)" in text
    assert "rules  (any twin)" in text
    # A parameter row: name, unit, default, description.
    assert re.search(r"^  outdoor_mean +degC +24(\.0)? ", text, re.MULTILINE)
    assert re.search(r"^  target +\S+ +required ", text, re.MULTILINE)


def test_behaviours_json_is_the_library_description():
    run = twinsim("behaviours", "--json")
    assert run.returncode == 0, run.stderr
    listed = {b["name"]: b for b in json.loads(run.stdout)}
    thermal = listed["thermal_zones"]
    assert thermal["interface"] == "dtmi:twinsim:building:Room;1"
    assert listed["rules"]["interface"] is None
    parameters = {p["name"]: p for p in thermal["parameters"]}
    assert parameters["outdoor_mean"]["unit"] == "degC" and parameters["outdoor_mean"]["default"] == 24.0
    assert parameters["default_cop"]["greater_than"] == 0.0
    assert "fail" in listed["availability"]["events"]


def test_behaviours_one_by_name_and_an_unknown_name():
    one = twinsim("behaviours", "--json", "queue")
    assert one.returncode == 0, one.stderr
    assert [b["name"] for b in json.loads(one.stdout)] == ["queue"]
    unknown = twinsim("behaviours", "no-such")
    assert unknown.returncode == 2
    assert 'no behaviour named "no-such"' in unknown.stderr and "relaxation" in unknown.stderr


# --- describe ----------------------------------------------------------------------------


def test_describe_text(model_dir):
    run = twinsim("describe", model_dir)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    for dtmi in IDS:
        assert dtmi in out
    block = out.split("dtmi:example:Thermostat;1", 1)[1].split("\n\n", 1)[0]
    assert '"Thermostat"' in block.splitlines()[0]
    assert "extends:   dtmi:example:Device;1" in block
    assert "ancestors: dtmi:example:Device;1" in block
    lines = {line.split()[0]: line for line in block.splitlines() if line.startswith("    ")}
    assert "(from Device;1)" in lines["serialNumber"]
    assert "writable" in lines["targetTemperature"] and "(from" not in lines["targetTemperature"]
    assert "Enum<string>{heat, cool}" in lines["mode"]
    assert "[Temperature, degreeCelsius]" in lines["temperature"] or "degreeCelsius" in lines["temperature"]
    assert "-> dtmi:example:Room;1" in lines["locatedIn"] and "[0..1]" in lines["locatedIn"]
    assert any(line.strip().startswith("reboot(delay: integer)") for line in block.splitlines())
    assert "dtmi:example:Info;1" in lines["info"]
    assert out.strip().splitlines()[-1] == "valid: 4 interfaces"


def test_describe_json(model_dir):
    run = twinsim("describe", "--json", model_dir)
    assert run.returncode == 0
    report = json.loads(run.stdout)
    assert report["valid"] is True
    interfaces = {i["id"]: i for i in report["interfaces"]}
    assert sorted(interfaces) == IDS
    thermostat = interfaces["dtmi:example:Thermostat;1"]
    assert thermostat["display_name"] == "Thermostat"
    assert thermostat["extends"] == ["dtmi:example:Device;1"]
    assert thermostat["ancestors"] == ["dtmi:example:Device;1"]
    properties = {p["name"]: p for p in thermostat["properties"]}
    assert properties["serialNumber"]["declared_in"] == "dtmi:example:Device;1"
    assert properties["targetTemperature"]["writable"] is True
    assert [t["unit"] for t in thermostat["telemetry"]] == ["degreeCelsius"]
    assert [c["name"] for c in thermostat["commands"]] == ["reboot"]
    assert thermostat["relationships"][0]["max_multiplicity"] == 1
    assert thermostat["components"][0]["interface"] == "dtmi:example:Info;1"


def test_describe_one_interface(model_dir):
    run = twinsim("describe", "--interface", "dtmi:example:Room;1", model_dir)
    assert run.returncode == 0
    assert "dtmi:example:Room;1" in run.stdout and "dtmi:example:Thermostat;1" not in run.stdout
    unknown = twinsim("describe", "-i", "dtmi:example:Nope;1", model_dir)
    assert unknown.returncode == 2 and "dtmi:example:Nope;1" in unknown.stderr


def test_describe_invalid_reports_errors(invalid_file):
    run = twinsim("describe", invalid_file)
    assert run.returncode == 1
    assert run.stdout.strip().splitlines()[-1].startswith("invalid: ")
    as_json = json.loads(twinsim("describe", "--json", invalid_file).stdout)
    assert as_json["valid"] is False and as_json["errors"]


def test_bundled_sample_smoke(source_dir):
    sample = source_dir / "models" / "building"
    if not sample.is_dir():
        pytest.skip("no bundled sample")
    assert twinsim("validate", sample).returncode == 0
    run = twinsim("describe", sample)
    assert run.returncode == 0, run.stdout
    assert run.stdout.strip().splitlines()[-1].startswith("valid: ")


def test_json_report_survives_a_non_utf8_file_name(tmp_path):
    from dtdl_samples import INVALID

    odd = write_json(tmp_path / os.fsdecode(b"caf\xe9.json"), INVALID)
    run = subprocess.run([CLI, "validate", "--json", os.fsencode(odd)], capture_output=True, timeout=120)
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout.decode("utf-8"))
    assert report["valid"] is False
    assert all(error["file"].endswith("caf\ufffd.json") for error in report["errors"])


# --- model folders that are not what they seem ---------------------------------------------


def test_an_empty_or_mistyped_models_folder_is_an_error_not_zero_interfaces(tmp_path):
    empty = tmp_path / "models"
    empty.mkdir()
    (empty / "notes.txt").write_text("not DTDL", encoding="utf-8")
    for command in ("validate", "describe"):
        run = twinsim(command, empty)
        assert run.returncode == 2, run.stdout + run.stderr
        assert f"DTDL folder {empty} holds no *.json file" in run.stderr


def test_a_symlink_loop_in_a_models_folder_is_named_as_one_with_exit_2(tmp_path, model_dir):
    looped = tmp_path / "looped"
    looped.mkdir()
    for f in model_dir.iterdir():
        (looped / f.name).write_bytes(f.read_bytes()) if f.is_file() else None
    (looped / "sub").mkdir()
    (looped / "sub" / "up").symlink_to(looped, target_is_directory=True)
    run = twinsim("validate", looped)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "a loop of symbolic links" in run.stderr and "internal error" not in run.stderr
    # A path that is itself a loop says so, rather than "does not exist".
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    run = twinsim("validate", tmp_path / "a")
    assert run.returncode == 2 and "a loop of symbolic links" in run.stderr, run.stderr


def test_malformed_dtdl_json_is_told_in_our_words_with_a_short_excerpt(tmp_path):
    bad = tmp_path / "secretish.json"
    bad.write_text('{"@id": ' + "X" * 300 + "}", encoding="utf-8")
    run = twinsim("validate", bad)
    assert run.returncode == 1
    assert "malformed JSON at line 1, column 9: unexpected text" in run.stdout, run.stdout
    assert "parse_error" not in run.stdout and "last read" not in run.stdout
    assert "X" * 60 not in run.stdout
