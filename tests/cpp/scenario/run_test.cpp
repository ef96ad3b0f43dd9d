// scenario::Run: a copy-on-write clone of a snapshot driven by its own kernel and random stream.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../graph/graph_fixtures.hpp"
#include "twinsim/scenario/run.hpp"

using namespace twinsim;
using nlohmann::json;

namespace {

constexpr int sensors = 300;

graph::Snapshot base_snapshot() {
    graph::TwinGraph g(test::test_options());
    auto docs = test::building_models();
    g.add_models(docs);
    for (int i = 0; i < sensors; ++i) g.upsert_twin(test::numbered("s", i), test::sensor(i));
    return g.snapshot();
}

struct Write {
    std::uint32_t writer;
};

/// Ten writers, each waking after exponential delays (mean 60 s) until the
/// one-hour horizon and setting a random sensor's value to a random number.
/// Returns every sensor as JSON (values, etags, lastUpdateTimes).
std::vector<json> drive(scenario::Run& run) {
    const graph::Snapshot& base = run.base();
    const std::uint32_t column = base.models()->get("dtmi:test:Sensor;1").layout.find("value")->column;
    std::vector<graph::TwinIndex> twins;
    for (int i = 0; i < sensors; ++i) twins.push_back(*base.find(test::numbered("s", i)));
    kernel::Simulator& sim = run.simulator();
    kernel::RandomStream& r = run.random();
    kernel::EventType<Write> type{};
    type = sim.on<Write>([&](kernel::Simulator& s, const Write& w) {
        const graph::PropertyWrite write{twins[r.below(twins.size())], column, r.uniform01() * 100.0, std::nullopt};
        run.graph_unrecorded().write_properties(std::span<const graph::PropertyWrite>(&write, 1));
        s.schedule(type, -std::log(r.uniform_open()) * 60.0, w);
    });
    for (std::uint32_t k = 0; k < 10; ++k) sim.schedule(type, r.uniform01() * 60.0, Write{k});
    (void)sim.run_until(3600.0);
    const graph::Snapshot now = run.snapshot();
    std::vector<json> out;
    for (graph::TwinIndex t : twins) out.push_back(now.get_twin(t));
    return out;
}

scenario::RunOptions options(std::uint64_t replication) {
    scenario::RunOptions o;
    o.stream = {.seed = 42, .scenario = 3, .replication = replication};
    o.start = kernel::Instant{std::chrono::seconds{1'782'864'000}};
    return o;
}

}  // namespace

TEST_CASE("two runs with the same stream give identical results; replications differ; the base is untouched", "[run]") {
    const graph::Snapshot base = base_snapshot();
    std::vector<json> before;
    for (int i = 0; i < sensors; ++i) before.push_back(base.get_twin(test::numbered("s", i)));

    scenario::Run a(base, options(0));
    scenario::Run b(base, options(0));
    scenario::Run c(base, options(1));
    CHECK(a.simulator().start_instant() == options(0).start);
    CHECK(a.graph().stats().bytes_copied == 0);

    const std::vector<json> ra = drive(a);
    const std::vector<json> rb = drive(b);
    const std::vector<json> rc = drive(c);
    CHECK(ra == rb);
    CHECK(ra != rc);
    CHECK(a.snapshot().version() > base.version() + 100);  // many writes happened
    CHECK(a.snapshot().version() == b.snapshot().version());

    // Writes are stamped with simulated time, inside [start, start + 1 h].
    const std::string last = ra[0]["$metadata"]["$lastUpdateTime"].get<std::string>();
    CHECK(last.rfind("2026-07-01T", 0) == 0);

    for (int i = 0; i < sensors; ++i) REQUIRE(base.get_twin(test::numbered("s", i)) == before[static_cast<std::size_t>(i)]);
    CHECK(a.base().version() == base.version());
}

TEST_CASE("a run answers queries on its own state", "[run]") {
    const graph::Snapshot base = base_snapshot();
    scenario::Run run(base, options(0));
    const std::uint32_t column = base.models()->get("dtmi:test:Sensor;1").layout.find("value")->column;
    const graph::PropertyWrite write{*base.find("s1"), column, 1000.0, std::nullopt};
    run.graph_unrecorded().write_properties(std::span<const graph::PropertyWrite>(&write, 1));
    const std::string q = "SELECT T.$dtId FROM DIGITALTWINS T WHERE T.value >= 1000";
    CHECK(run.query(q).rows.size() == 1);
    CHECK(query::query_twins(base, q).rows.empty());

    // Runs are not movable (behaviours and kernel handlers hold references
    // to them): keep one in a std::unique_ptr to hand it around.
    static_assert(!std::is_move_constructible_v<scenario::Run>);
    // Writing a run's graph directly bypasses the recorder, so only the name
    // that says so hands out a writable graph; graph() is read-only.
    static_assert(std::is_same_v<decltype(std::declval<scenario::Run&>().graph()), const graph::TwinGraph&>);
    static_assert(std::is_same_v<decltype(std::declval<scenario::Run&>().graph_unrecorded()), graph::TwinGraph&>);
    auto owned = std::make_unique<scenario::Run>(base, options(0));
    owned->graph_unrecorded().upsert_twin("late", test::sensor(1.0));
    CHECK(owned->snapshot().contains("late"));
    CHECK(owned->stream(7).next_u64() == scenario::Run(base, options(0)).stream(7).next_u64());
}
