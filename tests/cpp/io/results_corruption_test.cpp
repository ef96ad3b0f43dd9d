// Corrupted results files: every damaged copy of a real results file either
// reads or is refused with "not a valid twinsim results file: <path>: why";
// none crashes the process, none hangs.
//
// Each copy is read in a forked child under an alarm, so a crash (a signal)
// or a hang (the alarm) is reported as a failure naming the mutation instead
// of killing the test run.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "twinsim/io/detail/checked_read.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/io/results_writer.hpp"
#include "twinsim/scenario/compare.hpp"

namespace fs = std::filesystem;
using namespace twinsim::io;

namespace {

constexpr std::string_view invalid_prefix = "not a valid twinsim results file: ";

/// Wall seconds one damaged file may take to open, read whole and compare:
/// the reader's own check child may use max_results_check_seconds of CPU on a
/// file HDF5 loops on, which on a loaded machine takes up to its wall-clock
/// backstop; then ten more for the rest. Past that the reader hangs.
constexpr unsigned per_file_seconds = twinsim::io::detail::wall_seconds_for(max_results_check_seconds) + 10;

/// Under AddressSanitizer every damaged copy costs two instrumented forks and
/// a checking child about ten times slower, so that build (scripts/run-tests
/// --sanitizers, which CI runs after the full set) tries every tenth
/// mutation of the same set: the same kinds of damage in every part of the
/// file, a tenth of the copies (about 260).
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t mutation_step = 10;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr std::size_t mutation_step = 10;
#else
constexpr std::size_t mutation_step = 1;
#endif
#else
constexpr std::size_t mutation_step = 1;
#endif

struct Scratch {
    fs::path path;
    Scratch() {
        path = fs::temp_directory_path() / ("twinsim-corruption-test-" + std::to_string(::getpid()));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~Scratch() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

/// A small but complete results file: two scenarios, a fixed and an
/// extendable series (compressed), events, KPIs with summary rows.
void write_sample(const fs::path& path) {
    WriterOptions options;
    options.deflate = 4;
    options.sync = false;
    ResultsWriter writer(path, {"sample.ndjson", "v1", "corruption test"}, options);
    for (const char* name : {"base", "hot"}) {
        writer.define_scenario({name, "d", R"({"name":"x"})", "{}", 7, 2, "2024-07-01T00:00:00Z"});
        SeriesDefinition fixed;
        fixed.name = "Room.temperature";
        fixed.unit = "degC";
        fixed.twin_ids = {"room-0", "room-1", "room-2"};
        for (int t = 0; t < 6; ++t) fixed.times.push_back(60.0 * t);
        writer.define_series(name, fixed);
        SeriesDefinition grows = fixed;
        grows.name = "Chiller.power";
        grows.times.clear();
        writer.define_series(name, grows);
        for (std::uint32_t r = 0; r < 2; ++r) {
            std::vector<double> values;
            for (int i = 0; i < 18; ++i) values.push_back(20.0 + r + 0.5 * i);
            writer.write_series_block(name, "Room.temperature", r, 0, values);
            const std::vector<double> times{0, 30, 60, 90, 120, 150};
            writer.write_series_block(name, "Chiller.power", r, 0, values, times);
            const std::vector<EventRecord> events{{r, 5.0, "chiller-1", "failure", R"({"cause":"x"})"}};
            writer.append_events(name, events);
            const std::vector<KpiRow> kpis{{"hot_hours", "room-0", "time_above", static_cast<std::int32_t>(r), "", 1.0 + r, "h"}};
            writer.write_kpis(name, kpis);
        }
        const std::vector<KpiRow> summary{{"hot_hours", "room-0", "time_above", all_replications, "mean", 1.5, "h"}};
        writer.write_kpis(name, summary);
    }
    writer.close();
}

/// Everything a reader can be asked about the file, then the comparison
/// `twinsim compare` and Python's Results.compare() compute.
void read_everything(const fs::path& path) {
    const ResultsReader reader(path);
    (void)reader.attributes();
    (void)reader.shard();
    for (const std::string& scenario : reader.scenarios()) {
        (void)reader.scenario(scenario);
        for (const std::string& series : reader.series_names(scenario)) (void)reader.read_series(scenario, series);
        (void)reader.read_events(scenario);
        (void)reader.read_kpis(scenario);
    }
    (void)twinsim::scenario::compare(reader);
}

enum Outcome : int { read_ok = 0, refused = 1, wrong_error = 2, other_exception = 3 };

/// Reads `path` in a child process; returns a description of what went wrong,
/// or "" when it read or was refused with the named error.
std::string check_in_child(const fs::path& path, int& outcome) {
    std::fflush(nullptr);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // The child dies of a crash as it would outside the test (Catch2's
        // handlers would report it as this test's failure from the child).
        for (const int signal : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) std::signal(signal, SIG_DFL);
        ::alarm(per_file_seconds);
        int code = read_ok;
        try {
            read_everything(path);
        } catch (const ResultsError& e) {
            const std::string message = e.what();
            code = message.rfind(std::string(invalid_prefix) + path.string() + ": ", 0) == 0 ? refused : wrong_error;
            if (code != refused) std::fprintf(stderr, "unexpected message: %s\n", e.what());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "unexpected exception: %s\n", e.what());
            code = other_exception;
        }
        std::fflush(nullptr);
        ::_exit(code);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0) {
    }
    outcome = -1;
    if (WIFSIGNALED(status)) {
        const int signal = WTERMSIG(status);
        return signal == SIGALRM ? "hung (over " + std::to_string(per_file_seconds) + " s)"
                                 : "crashed with signal " + std::to_string(signal);
    }
    outcome = WEXITSTATUS(status);
    if (outcome == wrong_error) return "threw a ResultsError without the 'not a valid twinsim results file' prefix";
    if (outcome == other_exception) return "threw an exception that is not a ResultsError";
    if (outcome != read_ok && outcome != refused) return "exited with status " + std::to_string(outcome);
    return {};
}

std::vector<char> bytes_of(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::vector<char>& bytes, std::size_t size) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(size));
}

}  // namespace

TEST_CASE("results: a damaged results file reads or is refused as not a valid results file, never crashes or hangs",
          "[results_corruption]") {
    const Scratch scratch;
    const fs::path original = scratch.path / "sample.h5";
    write_sample(original);
    REQUIRE_NOTHROW(read_everything(original));
    const std::vector<char> bytes = bytes_of(original);
    REQUIRE(bytes.size() > 8192);

    std::vector<std::string> failures;
    int refusals = 0;
    int reads = 0;
    int tried = 0;
    const fs::path damaged = scratch.path / "damaged.h5";
    auto attempt = [&](const std::string& what, const std::vector<char>& content, std::size_t size) {
        write_bytes(damaged, content, size);
        int outcome = -1;
        const std::string problem = check_in_child(damaged, outcome);
        ++tried;
        if (!problem.empty()) failures.push_back(what + ": " + problem);
        if (outcome == refused) ++refusals;
        if (outcome == read_ok) ++reads;
    };

    // Byte flips: every third offset of the first 4 KiB (superblock, root
    // group, attributes, B-trees, heaps), then about 1,000 of the non-zero
    // bytes after it (the rest of the metadata and the data; most of the file
    // is unallocated chunk space); three patterns in turn (all bits, the top
    // bit, the low bit).
    std::vector<std::size_t> offsets;
    for (std::size_t offset = 0; offset < 4096; offset += 3) offsets.push_back(offset);
    std::vector<std::size_t> later;
    for (std::size_t offset = 4096; offset < bytes.size(); ++offset)
        if (bytes[offset] != 0) later.push_back(offset);
    const std::size_t stride = std::max<std::size_t>(1, later.size() / 1000);
    for (std::size_t i = 0; i < later.size(); i += stride) offsets.push_back(later[i]);
    const char patterns[] = {static_cast<char>(0xFF), static_cast<char>(0x80), static_cast<char>(0x01)};
    std::vector<char> copy = bytes;
    for (std::size_t n = 0; n < offsets.size(); n += mutation_step) {
        const std::size_t offset = offsets[n];
        const char pattern = patterns[n % 3];
        copy[offset] = static_cast<char>(copy[offset] ^ pattern);
        attempt("byte " + std::to_string(offset) + " xor " + std::to_string(static_cast<unsigned char>(pattern)), copy,
                copy.size());
        copy[offset] = bytes[offset];
    }
    // Truncations at many lengths, including 0 and one byte short.
    for (std::size_t size = 0; size < bytes.size(); size += (size < 4096 ? 61 : bytes.size() / 150) * mutation_step)
        attempt("truncated to " + std::to_string(size) + " bytes", bytes, size);
    attempt("truncated to " + std::to_string(bytes.size() - 1) + " bytes", bytes, bytes.size() - 1);

    INFO(tried << " damaged files: " << reads << " read, " << refusals << " refused, " << failures.size() << " failed");
    std::string report;
    for (std::size_t i = 0; i < failures.size() && i < 30; ++i) report += failures[i] + "\n";
    INFO(report);
    CHECK(failures.empty());
    // Most damage must be noticed: the reader does not just ignore it.
    CHECK(refusals > tried / 4);
}

TEST_CASE("results: a truncated results file is refused naming the file and what is wrong", "[results_corruption]") {
    const Scratch scratch;
    const fs::path original = scratch.path / "sample.h5";
    write_sample(original);
    const std::vector<char> bytes = bytes_of(original);
    const fs::path truncated = scratch.path / "truncated.h5";
    write_bytes(truncated, bytes, bytes.size() / 2);
    CHECK_THROWS_WITH(ResultsReader(truncated),
                      Catch::StartsWith(std::string(invalid_prefix) + truncated.string() + ": ") &&
                          Catch::Contains("truncated"));
}

TEST_CASE("results: a file with a wrong format attribute is refused as not a valid results file", "[results_corruption]") {
    const Scratch scratch;
    const fs::path original = scratch.path / "sample.h5";
    write_sample(original);
    std::vector<char> bytes = bytes_of(original);
    const std::string format = "twinsim-results";
    auto at = std::search(bytes.begin(), bytes.end(), format.begin(), format.end());
    REQUIRE(at != bytes.end());
    *at = 'T';
    const fs::path renamed = scratch.path / "renamed.h5";
    write_bytes(renamed, bytes, bytes.size());
    CHECK_THROWS_WITH(ResultsReader(renamed), Catch::StartsWith(std::string(invalid_prefix) + renamed.string() + ": ") &&
                                                  Catch::Contains("format"));
}

TEST_CASE("results: a KPI summary count no integer can hold compares as an unknown count", "[results_corruption]") {
    // Converting such a double to an integer is undefined behaviour
    // (the sanitizer build, scripts/run-tests --sanitizers, reports it).
    const Scratch scratch;
    const fs::path path = scratch.path / "counts.h5";
    {
        WriterOptions options;
        options.sync = false;
        ResultsWriter writer(path, {"", "", ""}, options);
        writer.define_scenario({"base", "", "{}", "{}", 1, 1, "2024-07-01T00:00:00Z"});
        const std::vector<KpiRow> rows{{"a", "x", "mean", all_replications, "n", 1e300, "1"},
                                       {"b", "x", "mean", all_replications, "n", -5.0, "1"},
                                       {"c", "x", "mean", all_replications, "n", std::nan(""), "1"},
                                       {"d", "x", "mean", all_replications, "n", 7.0, "1"}};
        writer.write_kpis("base", rows);
        writer.close();
    }
    const ResultsReader reader(path);
    const twinsim::scenario::Comparison comparison = twinsim::scenario::compare(reader);
    REQUIRE(comparison.scenarios.size() == 1);
    const auto& kpis = comparison.scenarios[0].kpis;
    REQUIRE(kpis.size() == 4);
    CHECK(kpis[0].n == 0);
    CHECK(kpis[1].n == 0);
    CHECK(kpis[2].n == 0);
    CHECK(kpis[3].n == 7);
}

TEST_CASE("results: the child that checks a file is limited in CPU time, not in wall time", "[results_corruption]") {
    // No HDF5 call in these children, so no LibraryCall is needed.
    using twinsim::io::detail::ChildRead;
    SECTION("a child that computes past its CPU limit is stopped as out of time") {
        const auto started = std::chrono::steady_clock::now();
        const ChildRead spin = twinsim::io::detail::read_in_child(1, [] {
            volatile std::uint64_t n = 0;
            for (;;) n = n + 1;
        });
        CHECK(spin.outcome == ChildRead::Outcome::timed_out);
        // Stopped by the CPU limit, long before the wall-clock backstop.
        CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(twinsim::io::detail::wall_seconds_for(1)));
    }
    SECTION("a child that waits longer than its CPU limit, using no CPU, is not stopped") {
        // What a loaded machine does to a good file: the child waits for a core.
        const ChildRead waiting = twinsim::io::detail::read_in_child(1, [] { ::sleep(3); });
        CHECK(waiting.outcome == ChildRead::Outcome::ok);
    }
    SECTION("a child that waits without using CPU past the stuck limit is tried again, then reported stuck") {
        // What a child forked while another thread held a lock does: it waits forever.
        const auto started = std::chrono::steady_clock::now();
        const ChildRead stuck = twinsim::io::detail::read_in_child(
            5, [] { ::pause(); }, 2);
        CHECK(stuck.outcome == ChildRead::Outcome::stuck);
        CHECK_THAT(stuck.message, Catch::Contains("without using any CPU, twice"));
        // Long before the wall-clock backstop of a 5 CPU-second child.
        CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(twinsim::io::detail::wall_seconds_for(5)));
    }
    SECTION("a crash and a refusal are told apart from running out of time") {
        const ChildRead crash = twinsim::io::detail::read_in_child(5, [] { std::raise(SIGSEGV); });
        CHECK(crash.outcome == ChildRead::Outcome::crashed);
        CHECK(crash.signal == SIGSEGV);
        const ChildRead refused = twinsim::io::detail::read_in_child(5, [] { throw std::runtime_error("bad header"); });
        CHECK(refused.outcome == ChildRead::Outcome::failed);
        CHECK(refused.message == "bad header");
    }
}
