// The HDF5 results format: write, read back, atomic rename, errors, async writer.

#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <thread>

#include "twinsim/io/async_results_writer.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/io/results_writer.hpp"
#include "../test_support.hpp"

namespace fs = std::filesystem;
using namespace twinsim::io;

namespace {

/// A fresh, empty directory under the system temp dir, removed afterwards.
struct TempDir {
    fs::path path;
    TempDir() {
        static int counter = 0;
        path = fs::temp_directory_path() /
               ("twinsim-results-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
    [[nodiscard]] std::vector<std::string> files() const {
        std::vector<std::string> names;
        for (const auto& entry : fs::directory_iterator(path)) names.push_back(entry.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
};

const FileIdentity identity{"scenarios/building/building.ndjson", "sha256:0123abcd", "unit test"};

ScenarioDefinition scenario(const std::string& name, std::uint32_t replications, std::uint64_t seed) {
    return {name, "the " + name + " case", R"({"name":")" + name + R"(","horizon":3600})", R"({"capacity":0.5})", seed,
            replications, "2024-07-01T12:00:00Z"};
}

SeriesDefinition fixed_series(const std::string& name, std::size_t twins, std::size_t steps) {
    SeriesDefinition series;
    series.name = name;
    series.unit = "degC";
    for (std::size_t n = 0; n < twins; ++n) series.twin_ids.push_back("room-" + std::to_string(n));
    for (std::size_t t = 0; t < steps; ++t) series.times.push_back(60.0 * static_cast<double>(t));
    series.model = "dtmi:twinsim:building:Room;1";
    series.property = "temperature";
    series.description = "air temperature";
    return series;
}

double value_at(std::uint32_t r, std::uint64_t t, std::size_t n) {
    return 20.0 + static_cast<double>(r) + 0.01 * static_cast<double>(t) + 0.001 * static_cast<double>(n);
}

std::vector<double> block(std::uint32_t r, std::uint64_t first, std::uint64_t count, std::size_t twins) {
    std::vector<double> values;
    for (std::uint64_t t = first; t < first + count; ++t)
        for (std::size_t n = 0; n < twins; ++n) values.push_back(value_at(r, t, n));
    return values;
}

std::vector<EventRecord> events_of(std::uint32_t r) {
    return {{r, 10.0 * r, "chiller-1", "failure", R"({"cause":"overheat"})"},
            {r, 10.0 * r + 5.0, "chiller-1", "repair", ""},
            {r, 99.5, "", "alarm", R"({"level":2})"}};
}

std::vector<KpiRow> kpis_of(std::uint32_t r) {
    return {{"hot_hours", "room-0", "time_above", static_cast<std::int32_t>(r), "", 1.5 * r, "h"},
            {"peak", "IS_OF_MODEL('dtmi:twinsim:building:Room;1')", "max", static_cast<std::int32_t>(r), "", 27.0 + r, "degC"}};
}

/// Writes the reference content: scenarios "base" (3 replications) and
/// "heat wave" (2), a fixed and an extendable series each, events, KPIs.
template <class Writer>
void write_reference(Writer& writer, bool shuffled_async = false) {
    writer.define_scenario(scenario("base", 3, 42));
    writer.define_scenario(scenario("heat wave", 2, 43));
    for (const char* name : {"base", "heat wave"}) {
        writer.define_series(name, fixed_series("Room.temperature", 5, 20));
        SeriesDefinition power = fixed_series("Chiller.power", 2, 0);
        power.unit = "kW";
        power.twin_ids = {"chiller-1", "chiller-2"};
        writer.define_series(name, power);
    }
    struct Job {
        std::string scenario;
        std::uint32_t r;
        std::uint64_t first;
    };
    std::vector<Job> jobs;
    for (const auto& [name, reps] : {std::pair<std::string, std::uint32_t>{"base", 3}, {"heat wave", 2}})
        for (std::uint32_t r = 0; r < reps; ++r)
            for (std::uint64_t first = 0; first < 20; first += 4) jobs.push_back({name, r, first});
    auto write_job = [&](const Job& job) {
        writer.write_series_block(job.scenario, "Room.temperature", job.r, job.first, block(job.r, job.first, 4, 5));
        std::vector<double> times;
        for (std::uint64_t t = job.first; t < job.first + 4; ++t) times.push_back(30.0 * static_cast<double>(t));
        writer.write_series_block(job.scenario, "Chiller.power", job.r, job.first, block(job.r, job.first, 4, 2), times);
    };
    if (!shuffled_async) {
        for (const Job& job : jobs) write_job(job);
        for (const auto& [name, reps] : {std::pair<std::string, std::uint32_t>{"base", 3}, {"heat wave", 2}}) {
            for (std::uint32_t r = 0; r < reps; ++r) writer.append_events(name, events_of(r));
            for (std::uint32_t r = 0; r < reps; ++r) writer.write_kpis(name, kpis_of(r));
            writer.write_kpis(name, std::vector<KpiRow>{{"hot_hours", "room-0", "time_above", all_replications, "mean", 1.5, "h"}});
        }
        return;
    }
    std::mt19937 rng(7);
    std::shuffle(jobs.begin(), jobs.end(), rng);
    std::vector<std::thread> producers;
    constexpr std::size_t threads = 4;
    for (std::size_t p = 0; p < threads; ++p)
        producers.emplace_back([&, p] {
            for (std::size_t i = p; i < jobs.size(); i += threads) write_job(jobs[i]);
        });
    // Event and KPI rows from the replications' producers, in an order unlike the sequential one.
    for (const std::string name : {"heat wave", "base"}) {
        writer.write_kpis(name, std::vector<KpiRow>{{"hot_hours", "room-0", "time_above", all_replications, "mean", 1.5, "h"}});
        const std::uint32_t reps = name == "base" ? 3 : 2;
        for (std::uint32_t r = reps; r-- > 0;) {
            writer.append_events(name, events_of(r));
            writer.write_kpis(name, kpis_of(r));
        }
    }
    for (auto& producer : producers) producer.join();
}

}  // namespace

TEST_CASE("results: two scenarios, series, events and KPIs read back exactly", "[results]") {
    TempDir dir;
    const fs::path path = dir.path / "out.h5";
    {
        ResultsWriter writer(path, identity);
        write_reference(writer);
        writer.close();
    }
    REQUIRE(dir.files() == std::vector<std::string>{"out.h5"});
    ResultsReader reader(path);
    const FileAttributes attributes = reader.attributes();
    CHECK(attributes.format == "twinsim-results");
    CHECK(attributes.format_version == results_format_version);
    CHECK(attributes.identity.base_graph_source == identity.base_graph_source);
    CHECK(attributes.identity.base_graph_version == identity.base_graph_version);
    CHECK(attributes.created.size() >= 20);
    REQUIRE(reader.scenarios() == std::vector<std::string>{"base", "heat wave"});

    const ScenarioDefinition base = reader.scenario("base");
    CHECK(base.spec_json == R"({"name":"base","horizon":3600})");
    CHECK(base.parameters_json == R"({"capacity":0.5})");
    CHECK(base.seed == 42);
    CHECK(base.replications == 3);
    CHECK(base.start == "2024-07-01T12:00:00.0000000Z");
    CHECK(reader.scenario("heat wave").seed == 43);
    CHECK(reader.series_names("base") == std::vector<std::string>{"Room.temperature", "Chiller.power"});

    for (const auto& [name, reps] : {std::pair<std::string, std::uint32_t>{"base", 3}, {"heat wave", 2}}) {
        const SeriesData rooms = reader.read_series(name, "Room.temperature");
        CHECK(rooms.unit == "degC");
        CHECK(rooms.model == "dtmi:twinsim:building:Room;1");
        CHECK(rooms.property == "temperature");
        REQUIRE(rooms.shape() == std::array<std::size_t, 3>{reps, 20, 5});
        CHECK(rooms.twin_ids.front() == "room-0");
        CHECK(rooms.times[19] == 60.0 * 19);
        for (std::uint32_t r = 0; r < reps; ++r)
            for (std::size_t t = 0; t < 20; ++t)
                for (std::size_t n = 0; n < 5; ++n) REQUIRE(rooms.at(r, t, n) == value_at(r, t, n));
        const SeriesData power = reader.read_series(name, "Chiller.power");
        CHECK(power.unit == "kW");
        REQUIRE(power.shape() == std::array<std::size_t, 3>{reps, 20, 2});
        CHECK(power.times[7] == 30.0 * 7);
        CHECK(power.at(reps - 1, 19, 1) == value_at(reps - 1, 19, 1));

        const std::vector<EventRecord> events = reader.read_events(name);
        REQUIRE(events.size() == 3 * reps);
        CHECK(events[0] == EventRecord{0, 0.0, "chiller-1", "failure", R"({"cause":"overheat"})"});
        CHECK(events[1].detail_json == "{}");  // an empty detail is stored as {}
        CHECK(events[3 * reps - 1].type == "alarm");
        const std::vector<KpiRow> kpis = reader.read_kpis(name);
        REQUIRE(kpis.size() == 2 * reps + 1);
        CHECK(kpis[2] == kpis_of(1)[0]);
        CHECK(kpis.back().replication == all_replications);
        CHECK(kpis.back().aggregate == "mean");
    }
    CHECK_THROWS_AS(reader.read_series("base", "nope"), ResultsError);
    CHECK_THROWS_AS(reader.scenario("nope"), ResultsError);
}

TEST_CASE("results: unwritten cells of a series read as NaN", "[results]") {
    TempDir dir;
    ResultsWriter writer(dir.path / "gaps.h5", identity);
    writer.define_scenario(scenario("s", 2, 1));
    writer.define_series("s", fixed_series("x", 3, 4));
    writer.write_series_block("s", "x", 1, 2, block(1, 2, 1, 3));
    writer.close();
    const SeriesData x = ResultsReader(dir.path / "gaps.h5").read_series("s", "x");
    CHECK(std::isnan(x.at(0, 0, 0)));
    CHECK(std::isnan(x.at(1, 3, 2)));
    CHECK(x.at(1, 2, 2) == value_at(1, 2, 2));
}

TEST_CASE("results: the file appears only on close, under its final name", "[results]") {
    TempDir dir;
    const fs::path path = dir.path / "run.h5";
    SECTION("close renames the temporary file") {
        ResultsWriter writer(path, identity);
        writer.define_scenario(scenario("s", 1, 1));
        CHECK_FALSE(fs::exists(path));
        CHECK(fs::exists(writer.temporary_path()));
        CHECK(writer.temporary_path().parent_path() == dir.path);
        CHECK(writer.temporary_path().filename().string().starts_with("run.h5.partial-"));
        writer.close();
        CHECK(dir.files() == std::vector<std::string>{"run.h5"});
        CHECK_THROWS_AS(writer.define_scenario(scenario("t", 1, 1)), ResultsError);
    }
    SECTION("a writer destroyed without close leaves nothing") {
        {
            ResultsWriter writer(path, identity);
            writer.define_scenario(scenario("s", 1, 1));
            writer.define_series("s", fixed_series("x", 2, 2));
            writer.write_series_block("s", "x", 0, 0, block(0, 0, 2, 2));
        }
        CHECK(dir.files().empty());
    }
    SECTION("an exception during the run leaves nothing") {
        try {
            ResultsWriter writer(path, identity);
            writer.define_scenario(scenario("s", 1, 1));
            throw std::runtime_error("the simulation failed");
        } catch (const std::runtime_error&) {
        }
        CHECK(dir.files().empty());
    }
    SECTION("an existing file survives a failed run and is replaced by a complete one") {
        {
            ResultsWriter writer(path, identity);
            writer.define_scenario(scenario("first", 1, 1));
            writer.close();
        }
        {
            ResultsWriter writer(path, identity);
            writer.define_scenario(scenario("second", 1, 1));
        }
        CHECK(ResultsReader(path).scenarios() == std::vector<std::string>{"first"});
        ResultsWriter writer(path, identity);
        writer.define_scenario(scenario("second", 1, 1));
        writer.close();
        CHECK(ResultsReader(path).scenarios() == std::vector<std::string>{"second"});
        CHECK_THROWS_AS(ResultsWriter(path, identity, WriterOptions{.overwrite = false}), ResultsError);
    }
    SECTION("discard removes the temporary file") {
        ResultsWriter writer(path, identity);
        writer.discard();
        CHECK(dir.files().empty());
        CHECK_FALSE(writer.is_open());
    }
}

TEST_CASE("results: bad input is refused with a clear error and the file stays usable", "[results]") {
    TempDir dir;
    ResultsWriter writer(dir.path / "bad.h5", identity);
    CHECK_THROWS_WITH(writer.define_scenario(scenario("a/b", 1, 1)), Catch::Contains("bad scenario name"));
    ScenarioDefinition no_start = scenario("s", 1, 1);
    no_start.start = "yesterday";
    CHECK_THROWS_WITH(writer.define_scenario(no_start), Catch::Contains("RFC 3339"));
    ScenarioDefinition bad_spec = scenario("s", 1, 1);
    bad_spec.spec_json = "{nope";
    CHECK_THROWS_WITH(writer.define_scenario(bad_spec), Catch::Contains("not valid JSON"));
    writer.define_scenario(scenario("s", 2, 1));
    CHECK_THROWS_WITH(writer.define_scenario(scenario("s", 1, 1)), Catch::Contains("defined twice"));
    writer.define_series("s", fixed_series("x", 3, 4));
    CHECK_THROWS_WITH(writer.write_series_block("s", "x", 2, 0, block(0, 0, 1, 3)), Catch::Contains("out of range"));
    CHECK_THROWS_WITH(writer.write_series_block("s", "x", 0, 3, block(0, 0, 2, 3)), Catch::Contains("exceed"));
    CHECK_THROWS_WITH(writer.write_series_block("s", "x", 0, 0, std::vector<double>(4)), Catch::Contains("whole number"));
    CHECK_THROWS_WITH(writer.write_series_block("s", "y", 0, 0, block(0, 0, 1, 3)), Catch::Contains("no series"));
    CHECK_THROWS_WITH(writer.append_events("nope", events_of(0)), Catch::Contains("no scenario named 'nope'"));
    CHECK(writer.is_open());
    writer.write_series_block("s", "x", 0, 0, block(0, 0, 4, 3));
    writer.close();
    CHECK(ResultsReader(dir.path / "bad.h5").read_series("s", "x").at(0, 3, 2) == value_at(0, 3, 2));
}

TEST_CASE("results: an unwritable destination is a clear ResultsError", "[results]") {
    TempDir dir;
    const fs::path missing = dir.path / "no-such-dir" / "out.h5";
    try {
        ResultsWriter writer(missing, identity);
        FAIL("expected ResultsError");
    } catch (const ResultsError& e) {
        CHECK(e.path() == missing.string());
        CHECK_THAT(e.what(), Catch::Contains("cannot create the temporary file"));
        CHECK_THAT(e.what(), Catch::Contains("No such file or directory"));
        CHECK_FALSE(e.hdf5_stack().empty());
    }
    CHECK_THROWS_AS(ResultsWriter(dir.path, identity), ResultsError);  // a directory
    CHECK_THROWS_AS(ResultsReader(dir.path / "absent.h5"), ResultsError);
    if (::geteuid() != 0) {  // root writes anywhere
        fs::create_directories(dir.path / "locked");
        fs::permissions(dir.path / "locked", fs::perms::owner_read | fs::perms::owner_exec);
        CHECK_THROWS_WITH(ResultsWriter(dir.path / "locked" / "out.h5", identity), Catch::Contains("Permission denied"));
        fs::permissions(dir.path / "locked", fs::perms::owner_all);
    }
}

namespace {

/// Records 4 replications x 100 steps x 1,000 twins (3.2 MB of values) and
/// closes: more than the small filesystems below can hold.
template <class Writer>
void write_big(Writer& writer) {
    writer.define_scenario(scenario("s", 4, 1));
    writer.define_series("s", fixed_series("x", 1000, 100));
    // Noise, so that compression (on by default) cannot shrink it to fit.
    std::mt19937_64 random(7);
    for (std::uint32_t r = 0; r < 4; ++r) {
        std::vector<double> values(100 * 1000);
        for (double& v : values) v = std::uniform_real_distribution<double>(0.0, 1.0)(random);
        writer.write_series_block("s", "x", r, 0, values);
    }
    writer.close();
}

/// A small tmpfs mounted on a fresh directory: a disk that really fills up.
/// Mounting needs CAP_SYS_ADMIN (root outside a restricted container); when
/// it fails, `error` says why and the caller skips.
struct SmallFilesystem {
    TempDir dir;
    bool mounted = false;
    std::string error;
    explicit SmallFilesystem(const std::string& size) {
        const std::string options = "size=" + size + ",mode=0700";
        if (::mount("twinsim-test", dir.path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options.c_str()) == 0)
            mounted = true;
        else
            error = std::strerror(errno);
    }
    ~SmallFilesystem() {
        if (mounted) ::umount2(dir.path.c_str(), MNT_DETACH);  // before TempDir removes the directory
    }
    SmallFilesystem(const SmallFilesystem&) = delete;
    SmallFilesystem& operator=(const SmallFilesystem&) = delete;
};

/// Fills the filesystem holding `path` with one file of zeros, up to ENOSPC.
void fill_disk(const fs::path& path) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    REQUIRE(file != nullptr);
    std::setvbuf(file, nullptr, _IONBF, 0);
    const std::vector<char> zeros(64 * 1024);
    while (std::fwrite(zeros.data(), 1, zeros.size(), file) == zeros.size()) {
    }
    std::fclose(file);
}

std::string file_bytes(const fs::path& path) {
    std::string bytes(fs::file_size(path), '\0');
    std::ifstream in(path, std::ios::binary);
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return bytes;
}

}  // namespace

// Debian's HDF5 1.10.8 crashes (in H5Dclose or at exit) after one of its writes
// fails. The results writer's file driver never lets HDF5 see a failed write:
// it records it, and the writer throws and removes the temporary file.
TEST_CASE("results: running out of space removes the temporary file", "[results][results_enospc]") {
    SmallFilesystem disk("512k");
    if (!disk.mounted) {
        twinsim::test::mark_skipped("cannot mount a 512 KiB tmpfs to fill (" + disk.error +
                                    "; needs root with CAP_SYS_ADMIN)");
        return;
    }
    const fs::path path = disk.dir.path / "full.h5";
    auto check_failure = [&](const std::string& message) {
        INFO(message);
        CHECK_THAT(message, Catch::Contains(path.string()));
        CHECK_THAT(message, Catch::Contains("No space left on device"));
        CHECK_THAT(message, Catch::Contains(".partial-"));  // where: the temporary file
    };
    SECTION("the sequential writer, with fsync") {
        try {
            ResultsWriter writer(path, identity);
            write_big(writer);
            FAIL("expected ResultsError");
        } catch (const ResultsError& e) {
            CHECK(e.path() == path.string());
            check_failure(e.what());
        }
        CHECK(disk.dir.files().empty());
    }
    SECTION("the sequential writer, without fsync") {
        try {
            ResultsWriter writer(path, identity, WriterOptions{.sync = false});
            write_big(writer);
            FAIL("expected ResultsError");
        } catch (const ResultsError& e) {
            check_failure(e.what());
        }
        CHECK(disk.dir.files().empty());
    }
    SECTION("the async writer") {
        AsyncResultsWriter writer(path, identity, {}, 2);
        try {
            write_big(writer);
            FAIL("expected ResultsError");
        } catch (const ResultsError& e) {
            check_failure(e.what());
        }
        CHECK(disk.dir.files().empty());
        CHECK_THROWS_WITH(writer.close(), Catch::Contains("No space left on device"));  // the cause again
    }
    SECTION("the async writer, failing in close()") {
        AsyncResultsWriter writer(path, identity);
        writer.define_scenario(scenario("s", 1, 1));
        writer.define_series("s", fixed_series("x", 1000, 32));
        writer.write_series_block("s", "x", 0, 0, block(0, 0, 32, 1000));  // one 256 KB chunk, in HDF5's cache
        fill_disk(disk.dir.path / "filler");
        try {
            writer.close();
            FAIL("expected ResultsError");
        } catch (const ResultsError& e) {
            check_failure(e.what());
        }
        CHECK(disk.dir.files() == std::vector<std::string>{"filler"});
        CHECK_THROWS_WITH(writer.close(), Catch::Contains("No space left on device"));  // not "closed"
    }
    SECTION("a disk that is full before the writer starts") {
        fill_disk(disk.dir.path / "filler");
        try {
            ResultsWriter writer(path, identity);
            writer.define_scenario(scenario("s", 1, 1));
            writer.close();
            FAIL("expected ResultsError");
        } catch (const ResultsError& e) {
            INFO(e.what());
            CHECK_THAT(e.what(), Catch::Contains(path.string()));
            CHECK_THAT(e.what(), Catch::Contains("No space left on device"));
        }
        CHECK(disk.dir.files() == std::vector<std::string>{"filler"});
    }
    SECTION("an existing file is kept unchanged, and the disk and the library stay usable") {
        {
            ResultsWriter writer(path, identity);
            writer.define_scenario(scenario("kept", 1, 1));
            writer.close();
        }
        const std::string before = file_bytes(path);
        REQUIRE(!before.empty());
        CHECK_THROWS_AS(
            [&] {
                ResultsWriter writer(path, identity);
                write_big(writer);
            }(),
            ResultsError);
        CHECK(disk.dir.files() == std::vector<std::string>{"full.h5"});
        CHECK(file_bytes(path) == before);
        CHECK(ResultsReader(path).scenarios() == std::vector<std::string>{"kept"});
        // The failed run's space is free again and a new file replaces the old one.
        ResultsWriter writer(path, identity);
        writer.define_scenario(scenario("replaced", 1, 1));
        writer.define_series("replaced", fixed_series("x", 3, 4));
        writer.write_series_block("replaced", "x", 0, 0, block(0, 0, 4, 3));
        writer.close();
        CHECK(disk.dir.files() == std::vector<std::string>{"full.h5"});
        CHECK(ResultsReader(path).read_series("replaced", "x").at(0, 3, 2) == value_at(0, 3, 2));
    }
}

TEST_CASE("results: a file-size limit is a clear error like a full disk", "[results][results_enospc]") {
    // RLIMIT_FSIZE makes the writes fail with EFBIG; no privilege needed.
    TempDir dir;
    struct rlimit old_limit {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = old_limit;
    limit.rlim_cur = 256 * 1024;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
    bool threw = false;
    std::string message;
    try {
        ResultsWriter writer(dir.path / "full.h5", identity, WriterOptions{.sync = false});
        write_big(writer);
    } catch (const ResultsError& e) {
        threw = true;
        message = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    std::signal(SIGXFSZ, old_handler);
    CHECK(threw);
    INFO(message);
    CHECK_THAT(message, Catch::Contains((dir.path / "full.h5").string()));
    CHECK_THAT(message, Catch::Contains("File too large"));
    CHECK(dir.files().empty());
}

TEST_CASE("results: the async writer gives the sequential writer's content whatever the arrival order",
          "[results]") {
    TempDir dir;
    {
        ResultsWriter writer(dir.path / "sequential.h5", identity);
        write_reference(writer);
        writer.close();
    }
    {
        AsyncResultsWriter writer(dir.path / "async.h5", identity, {}, 3);
        write_reference(writer, /*shuffled_async=*/true);
        writer.close();
    }
    ResultsReader sequential(dir.path / "sequential.h5");
    ResultsReader async(dir.path / "async.h5");
    REQUIRE(async.scenarios() == sequential.scenarios());
    for (const std::string& name : sequential.scenarios()) {
        CHECK(async.scenario(name).spec_json == sequential.scenario(name).spec_json);
        for (const std::string& series : sequential.series_names(name)) {
            const SeriesData a = async.read_series(name, series);
            const SeriesData s = sequential.read_series(name, series);
            CHECK(a.times == s.times);
            CHECK(a.twin_ids == s.twin_ids);
            REQUIRE(a.values.size() == s.values.size());
            CHECK(std::memcmp(a.values.data(), s.values.data(), a.values.size() * sizeof(double)) == 0);
        }
        CHECK(async.read_events(name) == sequential.read_events(name));
        CHECK(async.read_kpis(name) == sequential.read_kpis(name));
    }
}

TEST_CASE("results: an async writer's failure reaches the caller and leaves no file", "[results]") {
    TempDir dir;
    AsyncResultsWriter writer(dir.path / "fails.h5", identity);
    writer.define_scenario(scenario("s", 1, 1));
    CHECK_THROWS_AS(writer.define_series("nope", fixed_series("x", 2, 2)), ResultsError);
    writer.define_series("s", fixed_series("x", 2, 2));
    writer.write_series_block("s", "x", 5, 0, block(0, 0, 1, 2));  // replication out of range: fails on the thread
    CHECK_THROWS_WITH(writer.close(), Catch::Contains("out of range"));
    CHECK(dir.files().empty());
}

namespace {

/// Room temperatures like the building's relaxation model records them:
/// full-precision noise around a daily swing (as hard to compress as real
/// recordings), the same for a given (scenario, replication, step, twin).
double recorded_temperature(std::uint32_t scenario, std::uint32_t r, std::uint64_t t, std::size_t n) {
    std::mt19937_64 random((std::uint64_t{scenario} << 48U) ^ (std::uint64_t{r} << 32U) ^ (t << 16U) ^ n);
    const double noise = std::uniform_real_distribution<double>(-0.3, 0.3)(random);
    return 21.0 + 0.5 * static_cast<double>(n % 7) + 1.5 * std::sin(static_cast<double>(t % 96) * 0.0654) + noise;
}

/// What a results file holds, counted as raw bytes: every series value and
/// time instant (8 bytes), every twin id, event and KPI field (its bytes:
/// numbers at their width, text at its length) and the text of the
/// scenario attributes. The HDF5 file must not be bigger.
struct SweepShape {
    std::uint32_t scenarios = 40;
    std::uint32_t replications = 4;
    std::size_t twins = 61;
    std::uint64_t steps = 193;  // two days every 15 minutes
};

/// Writes a sweep like `twinsim run` writes the building's capacity sweep
/// (one series of room temperatures per scenario, a parameters event and a
/// few failures per replication, per-run and summary KPI rows) and returns
/// the raw bytes of what it wrote.
double write_sweep(const fs::path& path, const SweepShape& shape, WriterOptions options) {
    options.sync = false;
    double raw = 0.0;
    AsyncResultsWriter writer(path, identity, options);
    SeriesDefinition series = fixed_series("temperature", shape.twins, shape.steps);
    for (const std::string& id : series.twin_ids) raw += static_cast<double>(id.size());
    for (std::uint32_t s = 0; s < shape.scenarios; ++s) {
        const std::string name = "capacity-sweep[capacity=" + std::to_string(150 + 15 * s) + "]";
        ScenarioDefinition definition = scenario(name, shape.replications, 7);
        raw += static_cast<double>(definition.name.size() + definition.description.size() + definition.spec_json.size() +
                                   definition.parameters_json.size() + definition.start.size() + 8 + 4);
        writer.define_scenario(definition);
        writer.define_series(name, series);
        raw += static_cast<double>(shape.steps) * 8.0 + static_cast<double>(shape.replications) * 4.0;
        std::vector<EventRecord> events;
        std::vector<KpiRow> kpis;
        for (std::uint32_t r = 0; r < shape.replications; ++r) {
            std::vector<double> values;
            values.reserve(shape.steps * shape.twins);
            for (std::uint64_t t = 0; t < shape.steps; ++t)
                for (std::size_t n = 0; n < shape.twins; ++n) values.push_back(recorded_temperature(s, r, t, n));
            raw += static_cast<double>(values.size()) * 8.0;
            writer.write_series_block(name, "temperature", r, 0, std::move(values));
            events.push_back({r, 0.0, "", "parameters", R"({"capacity":)" + std::to_string(150 + 15 * s) + "}"});
            events.push_back({r, 3600.0 * (r + 1), "chiller-1", "failure", R"({"mode":"trip"})"});
            events.push_back({r, 3600.0 * (r + 9), "chiller-1", "repair", "{}"});
            for (const char* kpi : {"mean room temperature", "hours above 26 °C", "available cooling capacity"})
                kpis.push_back({kpi, "IS_OF_MODEL('dtmi:twinsim:building:Room;1')", "mean", static_cast<std::int32_t>(r),
                                "", 22.0 + r, "degC"});
        }
        for (const char* aggregate : {"mean", "std", "ci95_low", "ci95_high", "n"})
            kpis.push_back({"mean room temperature", "IS_OF_MODEL('dtmi:twinsim:building:Room;1')", "mean",
                            all_replications, aggregate, 22.0, "degC"});
        for (const EventRecord& e : events)
            raw += 8.0 + 4.0 + 8.0 + static_cast<double>(e.twin.size() + e.type.size() + e.detail_json.size());
        for (const KpiRow& k : kpis)
            raw += 8.0 + 4.0 + 8.0 + static_cast<double>(k.name.size() + k.selection.size() + k.statistic.size() +
                                                         k.aggregate.size() + k.unit.size());
        writer.append_events(name, std::move(events));
        writer.write_kpis(name, std::move(kpis));
    }
    writer.close();
    return raw;
}

}  // namespace

TEST_CASE("results: a sweep's file (compressed, the default) is at most the raw size of what it holds",
          "[results][results_size]") {
    TempDir dir;
    const SweepShape shape;
    const double raw = write_sweep(dir.path / "plain.h5", shape, WriterOptions{.deflate = 0});
    write_sweep(dir.path / "compressed.h5", shape, WriterOptions{});
    const double series_bytes =
        8.0 * static_cast<double>(std::uint64_t{shape.scenarios} * shape.replications * shape.twins * shape.steps);
    const auto plain = static_cast<double>(fs::file_size(dir.path / "plain.h5"));
    const auto compressed = static_cast<double>(fs::file_size(dir.path / "compressed.h5"));
    INFO("raw " << raw << " B (series " << series_bytes << " B), uncompressed file " << plain << " B, compressed file "
                << compressed << " B");
    CHECK(compressed <= raw);     // the default: shuffle + deflate (level 1)
    CHECK(compressed < 0.95 * plain);
    // Uncompressed, what remains above the raw bytes is HDF5's own per-object
    // metadata (object headers, chunk indexes, string heaps): wave 2 wrote
    // about 3 x raw (4,096-row table chunks, ~690 KB a scenario).
    CHECK(plain <= 1.15 * raw);
    // Compression is a storage detail: both files read back the same.
    ResultsReader a(dir.path / "plain.h5");
    ResultsReader b(dir.path / "compressed.h5");
    REQUIRE(a.scenarios() == b.scenarios());
    for (const std::string& name : a.scenarios()) {
        const SeriesData x = a.read_series(name, "temperature");
        const SeriesData y = b.read_series(name, "temperature");
        REQUIRE(x.values.size() == y.values.size());
        CHECK(std::memcmp(x.values.data(), y.values.data(), x.values.size() * sizeof(double)) == 0);
        CHECK(a.read_events(name) == b.read_events(name));
        CHECK(a.read_kpis(name) == b.read_kpis(name));
    }
}
