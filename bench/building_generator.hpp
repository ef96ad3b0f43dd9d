#pragma once
// The building-like graph shared by `twinsim-bench graph` and `twinsim-bench
// query`: a deterministic ADT import file of N twins in buildings of 10,000.
//
// Models (dtmi:twinsim:bench:*): Building, Floor and Room extend Space;
// Equipment and Sensor stand alone; every concrete model has 8 numeric
// properties (doubles and integers). Ids are "<prefix><index>": bldg-, floor-,
// room-, equip-, sensor-, the index counting over the whole file.
//
// Relationships: hasPart building -> floor -> room; equipment isLocatedIn a
// room and feeds rooms of its building (with a "share" property); sensors are
// isPointOf a room or (one in three) a piece of equipment.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "bench_support.hpp"  // Random

namespace twinsim::bench {

inline constexpr std::size_t twins_per_building = 10000;

/// Number of buildings for N twins (at least 1).
[[nodiscard]] std::size_t building_count(std::size_t twins);

/// One building's twins, [first, first + size): the building, its floors,
/// rooms (25 % of the rest), equipment (15 %), then sensors.
struct BuildingBlock {
    std::size_t first = 0, size = 0, floors = 0, rooms = 0, equipment = 0;
    [[nodiscard]] std::size_t first_floor() const { return first + 1; }
    [[nodiscard]] std::size_t first_room() const { return first + 1 + floors; }
    [[nodiscard]] std::size_t first_equipment() const { return first_room() + rooms; }
    [[nodiscard]] std::size_t first_sensor() const { return first_equipment() + equipment; }
};

/// The blocks of an N-twin file, in file order.
[[nodiscard]] std::vector<BuildingBlock> building_layout(std::size_t n);

struct GeneratedFile {
    std::uint64_t bytes = 0;
    std::uint64_t lines = 0;
    std::size_t twins = 0;
    std::size_t relationships = 0;
    double seconds = 0.0;
};

/// Writes the file (Header, Models, Twins, Relationships): twins come building
/// by building; each twin but a building has one parent relationship (hasPart,
/// isLocatedIn or isPointOf), N - B in all; equipment then feeds rooms of its
/// building, N + B relationships, so there are exactly 2N. The same n and seed
/// give the same bytes. Throws IoError when the file cannot be written.
GeneratedFile write_building_file(const std::filesystem::path& path, std::size_t n, std::uint64_t seed);

}  // namespace twinsim::bench
