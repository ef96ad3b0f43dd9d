#!/usr/bin/env bash
# `pip install .` as a user would: into a new virtual environment, building the
# core with scikit-build-core, then the installed `twinsim` program and the
# installed package are used on the bundled sample.
# Usage: pip_install_test.sh SOURCE_DIR SCRATCH_DIR PYTHON [CXX_COMPILER]
set -euo pipefail
src="$1" scratch="$2" python="$3" cxx="${4:-}"
rm -rf "$scratch" && mkdir -p "$scratch"
"$python" -m venv "$scratch/venv"
# The development build's compiler and warnings-as-errors: the wheel's compile lines are
# then the development build's, so ccache hands back its objects instead of compiling the
# core a second time (a user's `pip install .` keeps the defaults: any compiler, warnings
# only). ccache hashes the compiler's name too, and pip's build environment picks g++
# where CMake alone picks c++.
settings=(--config-settings=cmake.define.TWINSIM_WARNINGS_AS_ERRORS=ON)
[ -n "$cxx" ] && settings+=("--config-settings=cmake.define.CMAKE_CXX_COMPILER=$cxx")
"$scratch/venv/bin/python" -m pip install -q --disable-pip-version-check "${settings[@]}" "$src"

cd "$scratch"   # away from the source tree, so only the installed package can be imported
sample="$src/models/building"
"$scratch/venv/bin/twinsim" --version | grep -qx "twinsim [0-9.]*"
"$scratch/venv/bin/twinsim" validate "$sample" | tail -n 1 | grep -qx "valid: 15 interfaces"
"$scratch/venv/bin/twinsim" import --models "$sample" "$src/scenarios/building/building.ndjson" \
    | tail -n 1 | grep -qx "total: [0-9]* twins, [0-9]* relationships, 15 models"
"$scratch/venv/bin/python" - "$sample" <<'PY'
import sys, twinsim
assert twinsim.__file__.startswith(sys.prefix), twinsim.__file__
models = twinsim.ModelSet.from_files(sys.argv[1])
assert len(models) == 15
assert models.is_a("dtmi:twinsim:building:Chiller;1", "dtmi:twinsim:building:Equipment;1")
try:
    twinsim.ModelSet.from_json({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:x:Bad;1", "@type": "Interface",
                                "contents": [{"@type": "Property", "name": "1bad", "schema": "double"}]})
except twinsim.ModelError as e:
    assert e.errors[0].path == "/contents/0/name", e.errors[0]
else:
    raise AssertionError("invalid model accepted")
print("pip install . works:", twinsim.__version__, models)
PY
