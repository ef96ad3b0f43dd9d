// The building-like graph of the graph and query benchmarks (see
// building_generator.hpp): its DTDL models and the NDJSON writer.

#include "building_generator.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <string>
#include <string_view>

#include "bench_support.hpp"
#include "twinsim/common/error.hpp"

namespace twinsim::bench {

std::size_t building_count(std::size_t twins) { return std::max<std::size_t>(1, twins / twins_per_building); }

std::vector<BuildingBlock> building_layout(std::size_t n) {
    const std::size_t buildings = building_count(n);
    std::vector<BuildingBlock> blocks(buildings);
    for (std::size_t b = 0; b < buildings; ++b) {
        BuildingBlock& k = blocks[b];
        k.first = b * (n / buildings);
        k.size = b + 1 < buildings ? n / buildings : n - k.first;
        k.floors = std::clamp<std::size_t>(k.size / 500, 1, 20);
        const std::size_t rest = k.size - 1 - k.floors;
        k.rooms = std::max<std::size_t>(1, rest * 25 / 100);
        k.equipment = std::max<std::size_t>(1, rest * 15 / 100);
    }
    return blocks;
}

namespace {

// --- the generated building -----------------------------------------------------

// Building, Floor and Room extend Space; every concrete model has 8 numeric
// properties (doubles and integers). hasPart links building -> floor -> room,
// equipment isLocatedIn a room and feeds rooms (with a "share"), sensors are
// points of rooms or equipment.
constexpr std::string_view building_models[] = {
    R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:twinsim:bench:Space;1","@type":"Interface","contents":[)"
    R"({"@type":"Property","name":"area","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"height","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"occupancy","schema":"integer","writable":true},)"
    R"({"@type":"Relationship","name":"hasPart","target":"dtmi:twinsim:bench:Space;1"}]})",
    R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:twinsim:bench:Building;1","@type":"Interface","extends":"dtmi:twinsim:bench:Space;1","contents":[)"
    R"({"@type":"Property","name":"floorCount","schema":"integer"},)"
    R"({"@type":"Property","name":"yearBuilt","schema":"integer"},)"
    R"({"@type":"Property","name":"energy","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"latitude","schema":"double"},)"
    R"({"@type":"Property","name":"longitude","schema":"double"}]})",
    R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:twinsim:bench:Floor;1","@type":"Interface","extends":"dtmi:twinsim:bench:Space;1","contents":[)"
    R"({"@type":"Property","name":"level","schema":"integer"},)"
    R"({"@type":"Property","name":"temperature","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"humidity","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"lighting","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"energy","schema":"double","writable":true}]})",
    R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:twinsim:bench:Room;1","@type":"Interface","extends":"dtmi:twinsim:bench:Space;1","contents":[)"
    R"({"@type":"Property","name":"volume","schema":"double"},)"
    R"({"@type":"Property","name":"temperature","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"humidity","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"co2","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"setpoint","schema":"double","writable":true}]})",
    R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:twinsim:bench:Equipment;1","@type":"Interface","contents":[)"
    R"({"@type":"Property","name":"power","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"flow","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"supplyTemperature","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"returnTemperature","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"pressure","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"speed","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"efficiency","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"runHours","schema":"integer","writable":true},)"
    R"({"@type":"Relationship","name":"isLocatedIn","target":"dtmi:twinsim:bench:Room;1"},)"
    R"({"@type":"Relationship","name":"feeds","target":"dtmi:twinsim:bench:Room;1",)"
    R"("properties":[{"@type":"Property","name":"share","schema":"double"}]}]})",
    R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:twinsim:bench:Sensor;1","@type":"Interface","contents":[)"
    R"({"@type":"Property","name":"value","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"minValue","schema":"double"},)"
    R"({"@type":"Property","name":"maxValue","schema":"double"},)"
    R"({"@type":"Property","name":"accuracy","schema":"double"},)"
    R"({"@type":"Property","name":"sampleRate","schema":"double"},)"
    R"({"@type":"Property","name":"battery","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"offset","schema":"double","writable":true},)"
    R"({"@type":"Property","name":"readings","schema":"integer","writable":true},)"
    R"({"@type":"Relationship","name":"isPointOf"}]})",
};

enum class Kind : std::uint8_t { building, floor, room, equipment, sensor };

struct KindInfo {
    std::string_view prefix;  ///< of the $dtId
    std::string_view model;
};
constexpr KindInfo kinds[] = {
    {"bldg-", "dtmi:twinsim:bench:Building;1"},   {"floor-", "dtmi:twinsim:bench:Floor;1"},
    {"room-", "dtmi:twinsim:bench:Room;1"},       {"equip-", "dtmi:twinsim:bench:Equipment;1"},
    {"sensor-", "dtmi:twinsim:bench:Sensor;1"},
};

const KindInfo& info(Kind k) { return kinds[static_cast<std::size_t>(k)]; }

/// Buffered writer of NDJSON text with fast number formatting.
class LineWriter {
public:
    explicit LineWriter(const std::filesystem::path& path) : out_(path, std::ios::binary) {
        if (!out_) throw IoError("cannot write " + path.string());
        buffer_.reserve(capacity + 4096);
    }
    LineWriter& operator<<(std::string_view s) {
        buffer_ += s;
        return *this;
    }
    LineWriter& operator<<(char c) {
        buffer_ += c;
        return *this;
    }
    LineWriter& operator<<(std::uint64_t v) {
        char text[24];
        const auto result = std::to_chars(text, text + sizeof text, v);
        buffer_.append(text, result.ptr);
        return *this;
    }
    /// Two decimals, as a sensor would report.
    LineWriter& fixed2(double v) {
        char text[40];
        const auto result = std::to_chars(text, text + sizeof text, v, std::chars_format::fixed, 2);
        buffer_.append(text, result.ptr);
        return *this;
    }
    void end_line() {
        buffer_ += '\n';
        ++lines_;
        if (buffer_.size() >= capacity) flush();
    }
    void close() {
        flush();
        out_.close();
        if (!out_) throw IoError("cannot finish writing the generated file");
    }
    [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_ + buffer_.size(); }
    [[nodiscard]] std::uint64_t lines() const noexcept { return lines_; }

private:
    static constexpr std::size_t capacity = std::size_t{1} << 22U;
    void flush() {
        out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
        bytes_ += buffer_.size();
        buffer_.clear();
    }
    std::ofstream out_;
    std::string buffer_;
    std::uint64_t bytes_ = 0;
    std::uint64_t lines_ = 0;
};

}  // namespace

GeneratedFile write_building_file(const std::filesystem::path& path, std::size_t n, std::uint64_t seed) {
    const auto start = std::chrono::steady_clock::now();
    Random random(seed);
    LineWriter w(path);
    w << R"({"Section": "Header"})";
    w.end_line();
    w << R"({"fileVersion": "1.0.0", "author": "twinsim-bench", "organization": "twinsim"})";
    w.end_line();
    w << R"({"Section": "Models"})";
    w.end_line();
    for (std::string_view model : building_models) {
        w << model;
        w.end_line();
    }

    using Block = BuildingBlock;
    const std::vector<Block> blocks = building_layout(n);
    auto kind_of = [&](const Block& k, std::size_t t) {
        if (t == k.first) return Kind::building;
        if (t < k.first_room()) return Kind::floor;
        if (t < k.first_equipment()) return Kind::room;
        if (t < k.first_sensor()) return Kind::equipment;
        return Kind::sensor;
    };
    auto id = [&](LineWriter& out, Kind k, std::size_t t) -> LineWriter& { return out << info(k).prefix << t; };
    auto number = [&](std::string_view name, double lo, double hi) {
        w << ",\"" << name << "\":";
        w.fixed2(random.uniform(lo, hi));
    };
    auto integer = [&](std::string_view name, std::uint64_t lo, std::uint64_t hi) {
        w << ",\"" << name << "\":" << (lo + random.next() % (hi - lo + 1));
    };

    w << R"({"Section": "Twins"})";
    w.end_line();
    for (const Block& block : blocks) {
        for (std::size_t t = block.first; t < block.first + block.size; ++t) {
            const Kind k = kind_of(block, t);
            w << "{\"$dtId\":\"";
            id(w, k, t) << "\",\"$metadata\":{\"$model\":\"" << info(k).model << "\"}";
            switch (k) {
            case Kind::building:
                number("area", 5000, 50000); number("height", 20, 120); integer("occupancy", 100, 3000);
                integer("floorCount", block.floors, block.floors); integer("yearBuilt", 1950, 2024);
                number("energy", 1e5, 1e7); number("latitude", 40, 60); number("longitude", -10, 30);
                break;
            case Kind::floor:
                number("area", 500, 5000); number("height", 2.8, 4.5); integer("occupancy", 0, 300);
                integer("level", t - block.first - 1, t - block.first - 1); number("temperature", 18, 26);
                number("humidity", 30, 60); number("lighting", 100, 800); number("energy", 1e3, 1e5);
                break;
            case Kind::room:
                number("area", 8, 200); number("height", 2.5, 4); integer("occupancy", 0, 40);
                number("volume", 20, 800); number("temperature", 18, 26); number("humidity", 30, 60);
                number("co2", 400, 1500); number("setpoint", 19, 24);
                break;
            case Kind::equipment:
                number("power", 0.5, 500); number("flow", 0, 50); number("supplyTemperature", 6, 60);
                number("returnTemperature", 10, 70); number("pressure", 50, 500); number("speed", 0, 100);
                number("efficiency", 0.3, 0.98); integer("runHours", 0, 100000);
                break;
            case Kind::sensor:
                number("value", 0, 100); number("minValue", -50, 0); number("maxValue", 100, 1000);
                number("accuracy", 0.01, 1); number("sampleRate", 0.1, 10); number("battery", 0, 100);
                number("offset", -1, 1); integer("readings", 0, 1000000);
                break;
            }
            w << "}";
            w.end_line();
        }
    }

    w << R"({"Section": "Relationships"})";
    w.end_line();
    std::size_t relationships = 0;
    auto relationship = [&](Kind sk, std::size_t s, std::string_view name, std::string_view rel_id, std::size_t k_id,
                            Kind tk, std::size_t t) {
        w << "{\"$dtId\":\"";
        id(w, sk, s) << "\",\"$relationshipId\":\"" << rel_id << k_id << "\",\"$targetId\":\"";
        id(w, tk, t) << "\",\"$relationshipName\":\"" << name << '"';
        ++relationships;
    };
    for (const Block& block : blocks) {
        // The containment tree: every twin but the building has one parent.
        for (std::size_t t = block.first + 1; t < block.first + block.size; ++t) {
            const Kind k = kind_of(block, t);
            if (k == Kind::floor) {
                relationship(Kind::building, block.first, "hasPart", "hasPart-", t, k, t);
            } else if (k == Kind::room) {
                const std::size_t floor = block.first + 1 + (t - block.first_room()) % block.floors;
                relationship(Kind::floor, floor, "hasPart", "hasPart-", t, k, t);
            } else if (k == Kind::equipment) {
                const std::size_t room = block.first_room() + random.below(block.rooms);
                relationship(k, t, "isLocatedIn", "isLocatedIn-", room, Kind::room, room);
            } else {
                // Sensors observe a room or, one in three, a piece of equipment.
                const bool on_equipment = random.below(3) == 0;
                const std::size_t target = on_equipment ? block.first_equipment() + random.below(block.equipment)
                                                        : block.first_room() + random.below(block.rooms);
                relationship(k, t, "isPointOf", "isPointOf-", target, on_equipment ? Kind::equipment : Kind::room,
                             target);
            }
            w << "}";
            w.end_line();
        }
        // Equipment feeds rooms of its building, round robin over the equipment.
        for (std::size_t f = 0; f < block.size + 1; ++f) {
            const std::size_t equipment = block.first_equipment() + f % block.equipment;
            const std::size_t room = block.first_room() + random.below(block.rooms);
            relationship(Kind::equipment, equipment, "feeds", "feeds-", f, Kind::room, room);
            w << ",\"share\":";
            w.fixed2(random.uniform(0.05, 1.0));
            w << "}";
            w.end_line();
        }
    }
    w.close();
    GeneratedFile out;
    out.bytes = w.bytes();
    out.lines = w.lines();
    out.twins = n;
    out.relationships = relationships;
    out.seconds = seconds_since(start);
    return out;
}

}  // namespace twinsim::bench
