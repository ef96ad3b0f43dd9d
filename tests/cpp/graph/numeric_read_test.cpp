// graph::read_numeric: many twins' numeric properties in one pass, equal cell
// for cell to Snapshot::numeric_value (what scenario::Run::read serves).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "graph_fixtures.hpp"
#include "twinsim/graph/numeric_read.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/scenario/run.hpp"

using namespace twinsim;
using namespace twinsim::graph;
using nlohmann::json;
using test::numbered;

namespace {

/// Rooms and sensors interleaved (two tables whose slots differ), some
/// properties unset, doubles, integers and booleans; one twin deleted.
Snapshot mixed_graph() {
    TwinGraph g(test::test_options());
    auto docs = test::building_models();
    g.add_models(docs);
    for (int i = 0; i < 300; ++i) {
        if (i % 3 == 0) {
            json r = test::room(20.0 + i);
            if (i % 2 == 0) r["humidity"] = i;
            if (i % 5 != 0) r["occupied"] = i % 7 == 0;
            g.upsert_twin(numbered("r", i), r);
        } else {
            json s = i % 4 == 0 ? json{{"$metadata", {{"$model", "dtmi:test:Sensor;1"}}}} : test::sensor(0.5 * i);
            if (i % 2 == 1) s["count"] = -i;
            s["on"] = i % 3 == 1;
            g.upsert_twin(numbered("s", i), s);
        }
    }
    g.delete_twin("s5");
    return g.snapshot();
}

std::uint32_t slot(const Snapshot& s, TwinIndex t, const char* property) {
    return s.models()->at(s.twin_model(t)).layout.find(property)->column;
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

}  // namespace

TEST_CASE("read_numeric equals numeric_value for every twin and property, in one pass", "[numeric_read]") {
    const Snapshot s = mixed_graph();
    std::vector<TwinIndex> twins = s.twins();
    REQUIRE(twins.size() == 299);
    // Three properties per model, by position: room temperature/humidity/occupied,
    // sensor value/count/on (double, integer, boolean in both).
    const char* room_props[] = {"temperature", "humidity", "occupied"};
    const char* sensor_props[] = {"value", "count", "on"};
    const auto room_model = *s.models()->find("dtmi:test:Room;1");
    // Nine reads (more than one internal batch of eight): each property three times
    // with different `missing` values.
    constexpr std::size_t reads_n = 9;
    std::vector<std::vector<std::uint32_t>> columns(reads_n);
    std::vector<std::vector<double>> out(reads_n, std::vector<double>(twins.size(), -1.0));
    std::vector<double> missing(reads_n);
    std::vector<NumericRead> reads;
    for (std::size_t r = 0; r < reads_n; ++r) {
        missing[r] = r < 3 ? std::nan("") : -1000.0 - static_cast<double>(r);
        for (const TwinIndex t : twins)
            columns[r].push_back(slot(s, t, s.twin_model(t) == room_model ? room_props[r % 3] : sensor_props[r % 3]));
        reads.push_back({columns[r], out[r], missing[r]});
    }
    read_numeric(s, twins, reads);
    std::size_t unset = 0;
    for (std::size_t r = 0; r < reads_n; ++r)
        for (std::size_t i = 0; i < twins.size(); ++i) {
            const std::optional<double> v = s.numeric_value(twins[i], columns[r][i]);
            if (!v) ++unset;
            INFO("read " << r << ", twin " << s.twin_id(twins[i]));
            CHECK(same(out[r][i], v.value_or(missing[r])));
        }
    CHECK(unset > 0);  // the graph has unset cells, so `missing` was exercised

    // One column, twins in any order and repeated.
    std::vector<TwinIndex> some{twins[10], twins[0], twins[10], twins.back()};
    std::vector<std::uint32_t> cols;
    for (const TwinIndex t : some) cols.push_back(slot(s, t, s.twin_model(t) == room_model ? "temperature" : "value"));
    std::vector<double> one(some.size());
    read_numeric(s, some, cols, one, 7.0);
    for (std::size_t i = 0; i < some.size(); ++i) CHECK(same(one[i], s.numeric_value(some[i], cols[i]).value_or(7.0)));

    // Nothing to read: nothing happens.
    read_numeric(s, {}, std::span<const NumericRead>{});
}

TEST_CASE("Run::read of several properties matches one read per property, and checks the sizes", "[numeric_read]") {
    const Snapshot s = mixed_graph();
    scenario::Run run(s, scenario::RunOptions{});
    const auto room_model = *s.models()->find("dtmi:test:Room;1");
    std::vector<TwinIndex> rooms;
    for (const TwinIndex t : s.twins())
        if (s.twin_model(t) == room_model) rooms.push_back(t);
    REQUIRE(rooms.size() >= 64);  // the batched path of Run::read
    std::vector<std::uint32_t> temperature(rooms.size(), slot(s, rooms[0], "temperature"));
    std::vector<std::uint32_t> humidity(rooms.size(), slot(s, rooms[0], "humidity"));
    run.write(rooms[3], temperature[3], 99.5);  // the run's graph, not the base
    std::vector<double> t1(rooms.size()), h1(rooms.size()), t2(rooms.size()), h2(rooms.size());
    run.read(rooms, temperature, t1);
    run.read(rooms, humidity, h1, 0.0);
    const NumericRead both[] = {{temperature, t2}, {humidity, h2, 0.0}};
    run.read(rooms, both);
    for (std::size_t i = 0; i < rooms.size(); ++i) {
        CHECK(same(t1[i], t2[i]));
        CHECK(same(h1[i], h2[i]));
    }
    CHECK(t2[3] == 99.5);
    std::vector<double> short_out(rooms.size() - 1);
    const NumericRead bad[] = {{temperature, short_out}};
    CHECK_THROWS_AS(run.read(rooms, bad), std::invalid_argument);
}
