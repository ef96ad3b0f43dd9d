#pragma once
// The bundled sample building (scenarios/building/building.ndjson: 61 rooms,
// its AHUs, chillers, pumps and sensors) copied until it has N rooms, shared
// by `twinsim-bench building` and `twinsim-bench replay`.

#include <cstddef>
#include <filesystem>

namespace twinsim::bench {

/// Writes `out` (ADT import NDJSON): copies of the building in `bundled`, ids
/// prefixed "b0000-", "b0001-", ..., until there are `zones` rooms (rooms
/// beyond it are left out, with their relationships). Returns the rooms
/// written. Throws std::runtime_error when `bundled` has no room,
/// nlohmann::json::exception when it is not NDJSON.
std::size_t write_scaled_building(const std::filesystem::path& bundled, const std::filesystem::path& out,
                                  std::size_t zones);

}  // namespace twinsim::bench
