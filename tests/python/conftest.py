"""Fixtures shared by the Python tests (documents in dtdl_samples.py)."""

import copy
import os
import pathlib

import pytest

from dtdl_samples import ALL, DEVICE, INCOMPLETE, INFO, INVALID, ROOM, THERMOSTAT, write_json


@pytest.fixture
def documents():
    """Fresh copies of the valid documents (tests may edit them)."""
    return copy.deepcopy(ALL)


@pytest.fixture
def model_dir(tmp_path):
    """The valid model set as a folder: nested files, one file holding an array,
    and a non-JSON file that must be ignored."""
    root = tmp_path / "models"
    write_json(root / "device.json", DEVICE)
    write_json(root / "hvac" / "thermostat.json", THERMOSTAT)
    write_json(root / "space" / "room_and_info.json", [ROOM, INFO])
    (root / "README.txt").write_text("not a model", encoding="utf-8")
    return root


@pytest.fixture
def invalid_file(tmp_path):
    return write_json(tmp_path / "broken.json", INVALID)


@pytest.fixture
def incomplete_file(tmp_path):
    return write_json(tmp_path / "orphan.json", INCOMPLETE)


@pytest.fixture
def source_dir():
    return pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
