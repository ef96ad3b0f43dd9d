#pragma once
// What the twinsim-bench benchmarks share: timing statistics, the default data
// location, the exit statuses CTest understands, deterministic random numbers,
// process memory readings and a scratch file for generated input.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace twinsim::graph {
class TwinGraph;
}

namespace twinsim::bench {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;   ///< the measured operation failed
inline constexpr int exit_usage = 2;
inline constexpr int exit_skipped = 4;  ///< input data absent (CTest SKIP_RETURN_CODE)

/// Seconds since `start` on the steady clock.
[[nodiscard]] inline double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Minimum and median of a non-empty sample.
struct Stats {
    double min = 0.0;
    double median = 0.0;
};
[[nodiscard]] Stats stats(std::vector<double> seconds);

/// The median of a sample (the mean of the two middle values for an even
/// count), NaN for an empty one.
[[nodiscard]] double median(std::vector<double> sample);

/// The p-quantile (0 <= p <= 1) of a sample by nearest rank: the value at
/// position round(p * (n - 1)) of the sorted sample; 0 for an empty one.
[[nodiscard]] double percentile(std::vector<double> sample, double p);

/// Deterministic pseudo-random numbers (SplitMix64): the same seed gives the
/// same sequence, so every run generates and times the same input.
class Random {
public:
    explicit Random(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31U);
    }
    /// Uniform in [0, n) (modulo; n > 0).
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    /// Uniform in [lo, hi) from the top 53 bits.
    double uniform(double lo, double hi) {
        return lo + (hi - lo) * static_cast<double>(next() >> 11U) * 0x1.0p-53;
    }

private:
    std::uint64_t state_;
};

/// A field of /proc/self/status ("VmRSS", "VmHWM", ...) in bytes (the file
/// gives kB); 0 when the file or the field cannot be read.
[[nodiscard]] std::uint64_t proc_status_bytes(std::string_view field);

/// VmRSS in bytes after malloc_trim(0): heap memory freed but kept by the
/// allocator is handed back first, so it is not counted as the data's.
[[nodiscard]] std::uint64_t resident_bytes_trimmed();

/// CPU seconds (user + system) this process has used so far, all threads
/// (getrusage): comparable across runs on a loaded machine, unlike wall time.
[[nodiscard]] double process_cpu_used();
/// CPU seconds (user + system) the calling thread has used so far: for work
/// done on one thread while the process's background threads also run.
[[nodiscard]] double thread_cpu_used();
/// What a process waited for, as counters since it started: bytes its read
/// calls returned (`rchar`) and those that came from the disk rather than the
/// page cache (`read_bytes`, /proc/self/io), bytes sent to the disk, and its
/// context switches (getrusage): voluntary ones are waits (I/O, locks),
/// involuntary ones are the CPU taken away by other runnable processes.
struct ProcessWaits {
    std::uint64_t read_chars = 0;
    std::uint64_t disk_read_bytes = 0;
    std::uint64_t disk_write_bytes = 0;
    std::uint64_t voluntary_switches = 0;
    std::uint64_t involuntary_switches = 0;
};
[[nodiscard]] ProcessWaits process_waits();
/// b - a, field by field.
[[nodiscard]] ProcessWaits operator-(const ProcessWaits& b, const ProcessWaits& a);
/// The machine a figure was measured on: CPU model, cores, 1-minute load
/// average (/proc/loadavg) at the moment of the call.
struct MachineNote {
    std::string cpu;
    unsigned cores = 0;
    double load_1min = 0.0;
};
[[nodiscard]] MachineNote machine_note();
/// The 1-, 5- and 15-minute load averages as /proc/loadavg prints them ("a b c").
[[nodiscard]] std::string load_averages();

/// Where a benchmark writes its generated input file (NDJSON). Without `keep`,
/// the file is `<file_name>` in a fresh directory
/// `temp_directory_path() / "twinsim-bench-<benchmark>-<pid>"`, and that
/// directory is removed (errors ignored) when the ScratchFile is destroyed.
/// With `keep` (the user's --keep), the file is that path and is left in place.
class ScratchFile {
public:
    explicit ScratchFile(std::string_view benchmark, const std::string& keep = {},
                         std::string_view file_name = "building.ndjson");
    ~ScratchFile();
    ScratchFile(const ScratchFile&) = delete;
    ScratchFile& operator=(const ScratchFile&) = delete;

    /// The file to write and read.
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    /// True when the file is the user's (--keep) and survives the benchmark.
    [[nodiscard]] bool kept() const { return directory_.empty(); }

private:
    std::filesystem::path path_;
    std::filesystem::path directory_;  ///< removed on destruction; empty when kept
};

/// The RealEstateCore ontology beside the repository (../shared/ontologies/RealEstateCore).
/// The one-property sensor interface the live-layer benchmarks (store,
/// ingest, recovery, history, time-travel) fill their stores with.
inline constexpr const char* sensor_model = R"({"@context":"dtmi:dtdl:context;3","@id":"dtmi:bench:Sensor;1","@type":"Interface",
  "contents":[{"@type":"Property","name":"value","schema":"double"}]})";

/// The one-property room interface (dtmi:bench:Room;1, property "t") the service
/// and PATCH benchmarks fill their stores with.
inline constexpr const char* bench_room_model = R"([{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:bench:Room;1", "@type": "Interface",
  "contents": [{"@type": "Property", "name": "t", "schema": "double"}]}])";

/// "room-<n>": the id of room twin n.
[[nodiscard]] std::string room_id(std::size_t n);

/// Adds bench_room_model and the twins room-0 ... room-<twins - 1> (t = 0) to `graph`
/// in one atomic group. Throws what TwinGraph::add_models and upsert_twin throw.
void add_rooms(graph::TwinGraph& graph, std::size_t twins);

/// One thread's twin PATCHes as the service makes them, without HTTP: each
/// patch() builds a JSON Patch setting "t" to a new value, parses it, applies
/// it with TwinGraph::update_twin to a random room of add_rooms' `twins`, and
/// reads the twin's etag. Each `thread` number has its own rooms and values.
/// Throws what update_twin throws.
class RoomPatcher {
public:
    RoomPatcher(graph::TwinGraph& graph, std::size_t twins, unsigned thread);
    void patch();

private:
    graph::TwinGraph& graph_;
    std::mt19937_64 rng_;
    std::uniform_int_distribution<std::size_t> pick_;
    std::uint64_t value_;
    std::string text_;
};

/// "<prefix><n>", built by appending (GCC 12 warns falsely on "s" + std::to_string(n)).
[[nodiscard]] std::string numbered_id(std::string_view prefix, std::size_t n);

[[nodiscard]] std::filesystem::path default_ontology();

/// When `ontology` does not exist: prints "skipped: ..." and returns true.
[[nodiscard]] bool skip_if_missing(const std::filesystem::path& ontology);

struct DtdlOptions {
    std::string ontology;
    int repeat = 5;
    int synthetic = 0;  ///< > 0: time N generated interfaces (and N/10) instead of the ontology
};
/// `twinsim-bench dtdl`: ModelSet::compile on the in-memory ontology, N times;
/// with `synthetic` > 0, on generated models of that many interfaces and a tenth of it.
[[nodiscard]] int run_dtdl(const DtdlOptions& options);

struct ProcessOptions {
    std::string ontology;
    std::string cli;  ///< the twinsim program
    int repeat = 5;
};
/// `twinsim-bench validate-process`: wall time of `twinsim validate <ontology>`, N times.
[[nodiscard]] int run_validate_process(const ProcessOptions& options);

struct GraphOptions {
    std::size_t twins = 1000000;  ///< relationships are twice as many
    std::uint64_t seed = 20240601;
    std::string keep;             ///< when set, the generated NDJSON file is written here and kept
};
/// `twinsim-bench graph`: generates a building-like import file and measures
/// import, memory, snapshot, copy-on-write, batched updates and lookups.
[[nodiscard]] int run_graph(const GraphOptions& options);

struct QueryBenchOptions {
    std::size_t twins = 1000000;
    std::uint64_t seed = 20240601;
    int runs = 7;          ///< timed runs of each scan (point queries: 10x + 1)
    std::string keep;      ///< when set, the generated NDJSON file is written here and kept
};
/// `twinsim-bench query`: the graph benchmark's generated graph, then ADT
/// queries (model + numeric filter, COUNT, JOIN, MATCH, GROUP BY) timed.
[[nodiscard]] int run_query_benchmark(const QueryBenchOptions& options);

struct PholdOptions {
    std::vector<std::uint32_t> lps;  ///< LP counts to run; empty: 16, 1,024 and 65,536
    std::uint64_t events = 20000000; ///< events per measurement
    std::uint64_t seed = 20240601;
    int deflate = -1;                ///< the compressed side's gzip level; -1: WriterOptions' default
    int repeat = 3;                  ///< interleaved rounds; each kernel reports its median
    bool baselines = true;           ///< also run the naive and 4-ary heap kernels in every round
    std::string stream = "auto";     ///< "random", "compact" or "auto" (compact from 8,192 LPs)
    std::string prefetch = "auto";   ///< twinsim's prefetch hint for the LPs' streams: "on", "off" or "auto" (from 8,192 LPs)
};
/// `twinsim-bench phold`: PHOLD (ROSS semantics) on the kernel beside a naive
/// std::priority_queue kernel and a 4-ary heap one, one JSON object per LP count.
[[nodiscard]] int run_phold(const PholdOptions& options);

struct Mm1Options {
    std::uint64_t customers = 10000000;
    std::uint64_t warmup = 100000;   ///< customers before the statistics restart
    std::uint64_t seed = 20240601;
};
/// `twinsim-bench mm1`: an M/M/1 queue (lambda 1, mu 1.1) in the process style;
/// mean wait beside the analytic 9.09 and customers per second.
[[nodiscard]] int run_mm1(const Mm1Options& options);

struct Hdf5Options {
    std::uint32_t replications = 100;
    std::uint64_t times = 1000;
    std::size_t twins = 1000;        ///< float64 values per time step
    std::uint64_t block_times = 100; ///< time steps per written block (one replication each)
    int producers = 4;               ///< threads feeding the AsyncResultsWriter
    int queue = 64;                  ///< the writer's queue capacity (blocks)
    int deflate = -1;                ///< the compressed side's gzip level; -1: WriterOptions' default
    int repeat = 3;                  ///< interleaved rounds (each writes all four files); medians
    std::string directory;           ///< where the files go (removed after); default: the temp directory
};
/// `twinsim-bench hdf5`: MB/s, CPU seconds and file size of a (replication x
/// time x twin) float64 series through AsyncResultsWriter, compressed (the
/// default) and not, beside a raw H5Dwrite of the same blocks, chunks and filters.
[[nodiscard]] int run_hdf5(const Hdf5Options& options);

struct CloneOptions {
    std::size_t twins = 1000000;
    std::uint64_t seed = 20240601;
    int runs = 1000;       ///< clones (scenario runs) created, and clone + write rounds
};
/// `twinsim-bench clone`: TwinGraph::from_snapshot / scenario::Run creation on
/// a snapshot of the generated graph, and clone + a 1 % property write (bytes copied, memory).
[[nodiscard]] int run_clone(const CloneOptions& options);

struct StoreBenchOptions {
    std::size_t twins = 10000;
    unsigned writers = 4;         ///< threads writing batches at once (group commit shares their syncs)
    std::size_t batch = 1000;     ///< property updates per batch (one write_properties call)
    std::size_t batches = 50;     ///< batches per writer
    std::uint64_t seed = 20260706;
    std::string directory;        ///< where the stores go (a temporary folder when empty)
};
/// `twinsim-bench store`: property updates/s into a durable store with group
/// commit and per batch, beside a bare SQLite table with the same durability.
[[nodiscard]] int run_store(const StoreBenchOptions& options);

struct HistoryBenchOptions {
    std::size_t twins = 20;       ///< twins with minute data (each gets days * 1,440 rows)
    std::size_t days = 30;        ///< a month: 43,200 rows per twin
    unsigned rounds = 21;         ///< interleaved timed reads (ours, then the peer's)
    std::uint64_t seed = 20261207;
    std::string directory;        ///< kept when given; a temporary folder (removed) when empty
};
/// `twinsim-bench history`: bytes per history row on disk, and one property
/// of one twin over a month of minute data read back, beside a plain SQLite table.
[[nodiscard]] int run_history(const HistoryBenchOptions& options);

/// twinsim-bench rul (rul_benchmark.cpp): C-MAPSS files in the original text
/// format, gzip or not; empty = the bundled FD001.
struct RulBenchOptions {
    std::string train;
    std::string test;
    std::string truth;
    unsigned rounds = 5;  ///< timed fits
};
[[nodiscard]] int run_rul(const RulBenchOptions& options);

struct ParallelOptions {
    std::uint32_t runs = 100;        ///< independent runs (replications of one scenario)
    double hours = 24.0;             ///< simulated hours per run
    unsigned threads = 2;            ///< the parallel measurement's thread count (the baseline is 1)
};
/// `parallel`: the same job of independent runs on 1 and on `threads` threads
/// (target speed-up >= 1.8 on 2); checks that both give identical KPIs.
[[nodiscard]] int run_parallel(const ParallelOptions& options);

struct BuildingBenchOptions {
    std::size_t zones = 10000;                ///< rooms of the scaled building (copies of the bundled one)
    std::uint32_t replications = 3;           ///< one-day runs of the scaled building
    std::uint32_t bundled_replications = 20;  ///< one-day runs of the bundled building (61 rooms)
    std::string integrator = "auto";          ///< thermal_zones' integrator: auto, exact or implicit
    std::uint32_t rounds = 3;                 ///< interleaved rounds (bundled, scaled, NumPy peer); medians reported
    std::string python;                       ///< Python with NumPy for the peer ("" = no peer)
    std::string peer_script;                  ///< bench/building_numpy.py
};
/// `twinsim-bench building`: thermal_zones on every room for one simulated day at
/// a 5-minute step through the runner (one thread, no file), on the bundled
/// building and on it copied to N rooms, beside the NumPy peer on the same rooms.
[[nodiscard]] int run_building(const BuildingBenchOptions& options);

}  // namespace twinsim::bench
