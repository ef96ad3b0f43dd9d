# Shared by the README's two commands (sourced, not run). Installs what a fresh
# Debian 12 machine lacks, creates the Python virtual environment and builds.
# Every step checks first, so running it again only redoes what changed.
set -euo pipefail

TWINSIM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TWINSIM_VENV="${TWINSIM_VENV:-$TWINSIM_ROOT/.venv}"

# C++ toolchain and libraries, from Debian's packages (DESIGN.md, "Dependencies").
TWINSIM_APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  python3 python3-venv python3-dev
  nlohmann-json3-dev libsimdjson-dev catch2 libcli11-dev pybind11-dev libboost-graph-dev
  libhdf5-dev libyaml-cpp-dev libtbb-dev libeigen3-dev libsqlite3-dev
  libcpp-httplib-dev libssl-dev openssl nodejs libmosquitto-dev mosquitto
  chromium
)
# Only for the fuzz step (scripts/run-tests --fuzz): clang and its libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer runtimes.
TWINSIM_FUZZ_APT_PACKAGES=(clang libclang-rt-14-dev)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

twinsim_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  say "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# npm installs the JavaScript SDK the service tests drive (tests/js, locally).
# Debian ships it apart from nodejs; a Node from elsewhere (NodeSource) brings
# its own npm, and Debian's npm package would conflict with it, so it is only
# installed when no npm is on the PATH.
twinsim_npm() {
  command -v npm >/dev/null && return 0
  twinsim_apt npm
}

# Python packages go into a virtual environment, from pyproject.toml's lists
# (runtime dependencies plus the given extras), so the lists live in one place.
twinsim_venv() {
  local extras="${1:-}"
  if [ ! -x "$TWINSIM_VENV/bin/python" ]; then
    say "creating the Python virtual environment $TWINSIM_VENV"
    python3 -m venv "$TWINSIM_VENV"
  fi
  local py="$TWINSIM_VENV/bin/python"
  local reqs
  reqs=$("$py" - "$TWINSIM_ROOT/pyproject.toml" "$extras" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
reqs = list(project.get("dependencies", []))
for extra in filter(None, sys.argv[2].split(",")):
    reqs += project.get("optional-dependencies", {}).get(extra, [])
print("\n".join(reqs))
PY
)
  local stamp="$TWINSIM_VENV/.twinsim-requirements"
  if [ -n "$reqs" ] && [ "$reqs" != "$(cat "$stamp" 2>/dev/null)" ]; then
    say "installing Python packages into $TWINSIM_VENV"
    # shellcheck disable=SC2086
    "$py" -m pip install -q --disable-pip-version-check $reqs
    printf '%s' "$reqs" >"$stamp"
  fi
}

# Configure (once) and build a CMake tree.
# Usage: twinsim_build DIR [cmake -D options...] [--target TARGET...]
# Without --target it builds everything (tests, benchmarks, the Python module);
# with it, only those targets and what they need.
twinsim_build() {
  local dir="$1"; shift
  local options=() targets=()
  while [ $# -gt 0 ]; do
    if [ "$1" = "--target" ]; then shift; targets=("$@"); break; fi
    options+=("$1"); shift
  done
  export CCACHE_BASEDIR="$TWINSIM_ROOT" CCACHE_NOHASHDIR=1
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    say "configuring $dir"
    cmake -S "$TWINSIM_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${options[@]}"
  else
    cmake "$dir" "${options[@]}" >/dev/null
  fi
  if [ ${#targets[@]} -gt 0 ]; then
    say "building $dir (${targets[*]})"
    cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"
  else
    say "building $dir"
    cmake --build "$dir" -j "$(nproc)"
  fi
}
