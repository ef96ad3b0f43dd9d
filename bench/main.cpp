// twinsim-bench: benchmarks printing one JSON object each, with the target they
// aim for and a baseline measured in the same run.

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <exception>
#include <iostream>

#include "bench_support.hpp"
#include "calibrate_benchmark.hpp"
#include "fleet_benchmark.hpp"
#include "production_benchmark.hpp"
#include "replay_benchmark.hpp"
#include "serve_benchmark.hpp"
#include "patch_benchmark.hpp"
#include "live_bench.hpp"
#include "mqtt_benchmark.hpp"
#include "time_travel_benchmark.hpp"
#include "twinsim/common/error.hpp"

namespace twinsim::bench {
namespace {

int run(int argc, char** argv) {
    CLI::App app("twinsim-bench - twinsim benchmarks; each prints one JSON object", "twinsim-bench");
    app.require_subcommand(1);
    bool smoke = false;

    DtdlOptions dtdl;
    CLI::App* dtdl_command = app.add_subcommand(
        "dtdl", "Time ModelSet::compile (parse, resolve, validate, flatten) on the RealEstateCore ontology in memory");
    dtdl_command->add_option("--ontology", dtdl.ontology, "Folder or file of DTDL documents")
        ->default_str(default_ontology().string());
    dtdl_command->add_option("--repeat", dtdl.repeat, "Number of timed compilations")->check(CLI::Range(1, 1000000));
    dtdl_command->add_option("--synthetic", dtdl.synthetic,
                             "Instead of the ontology, N generated interfaces and N/10 of them (a scaling check)")
        ->check(CLI::Range(100, 10000000));
    dtdl_command->add_flag("--smoke", smoke, "One repetition (for CI)");

    ProcessOptions process;
    CLI::App* process_command = app.add_subcommand(
        "validate-process", "Time the whole `twinsim validate <ontology>` process (target 0.5 s)");
    process_command->add_option("--cli", process.cli, "The twinsim program")
#ifdef TWINSIM_DEFAULT_CLI
        ->default_val(std::string(TWINSIM_DEFAULT_CLI))
#endif
        ;
    process_command->add_option("--ontology", process.ontology, "Folder or file of DTDL documents")
        ->default_str(default_ontology().string());
    process_command->add_option("--repeat", process.repeat, "Number of timed runs")->check(CLI::Range(1, 1000000));
    process_command->add_flag("--smoke", smoke, "One repetition (for CI)");

    GraphOptions graph;
    bool graph_smoke = false;
    CLI::App* graph_command = app.add_subcommand(
        "graph", "Generate a building-like graph (N twins, 2N relationships) and time NDJSON import, snapshots, "
                 "property writes and lookups; report memory");
    graph_command->add_option("--twins", graph.twins, "Number of twins N (relationships: 2N)")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1000}, std::size_t{100000000}));
    graph_command->add_option("--seed", graph.seed, "Seed of the generated graph")->capture_default_str();
    graph_command->add_option("--keep", graph.keep, "Write the generated NDJSON file here and keep it");
    graph_command->add_flag("--smoke", graph_smoke, "N = 10,000 (for CI)");

    QueryBenchOptions query;
    bool query_smoke = false;
    CLI::App* query_command = app.add_subcommand(
        "query", "Generate the graph benchmark's building-like graph and time ADT queries on it: IS_OF_MODEL with a "
                 "numeric filter, COUNT, a JOIN, a 3-hop MATCH, GROUP BY with AVG");
    query_command->add_option("--twins", query.twins, "Number of twins N")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1000}, std::size_t{100000000}));
    query_command->add_option("--seed", query.seed, "Seed of the generated graph")->capture_default_str();
    query_command->add_option("--runs", query.runs, "Timed runs of each scan query (point queries: 10x + 1)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    query_command->add_option("--keep", query.keep, "Write the generated NDJSON file here and keep it");
    query_command->add_flag("--smoke", query_smoke, "N = 10,000, 3 runs (for CI)");

    PholdOptions phold;
    bool phold_smoke = false;
    CLI::App* phold_command = app.add_subcommand(
        "phold", "PHOLD with ROSS's semantics on the discrete-event kernel (one core) beside a naive "
                 "std::priority_queue kernel and a 4-ary heap one running the same model; events per second at 16, "
                 "1,024 and 65,536 LPs (targets: 8,000,000/s and 1.5x the naive heap at 65,536; 1.3x the 4-ary "
                 "heap at 1,024)");
    phold_command->add_option("--lps", phold.lps, "Logical processes (repeatable; default 16 1024 65536)")
        ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{100000000}));
    phold_command->add_option("--events", phold.events, "Events per measurement")
        ->capture_default_str()
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 36));
    phold_command->add_option("--seed", phold.seed, "Seed")->capture_default_str();
    phold_command->add_option("--repeat", phold.repeat, "Interleaved rounds; each kernel reports its median")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    phold_command->add_flag("--no-baselines{false}", phold.baselines, "Time twinsim's kernel alone");
    phold_command->add_option("--stream", phold.stream,
                              "The LPs' random streams: random (RandomStream), compact (CompactStream) or auto "
                              "(compact from 8,192 LPs)")
        ->capture_default_str()
        ->check(CLI::IsMember({"random", "compact", "auto"}));
    phold_command->add_option("--prefetch", phold.prefetch,
                              "twinsim's prefetch hint (Simulator::on(handler, prefetch)) loading the stream of the "
                              "LP after next: on, off or auto (on from 8,192 LPs)")
        ->capture_default_str()
        ->check(CLI::IsMember({"on", "off", "auto"}));
    phold_command->add_flag("--smoke", phold_smoke, "100,000 events, one run (for CI)");

    Mm1Options mm1;
    bool mm1_smoke = false;
    CLI::App* mm1_command = app.add_subcommand(
        "mm1", "An M/M/1 queue (lambda 1, mu 1.1) in the coroutine process style: mean wait vs the analytic 9.09, "
               "customers per second");
    mm1_command->add_option("--customers", mm1.customers, "Customers measured (after the warm-up)")
        ->capture_default_str()
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40));
    mm1_command->add_option("--warmup", mm1.warmup, "Customers before the statistics restart")->capture_default_str();
    mm1_command->add_option("--seed", mm1.seed, "Seed")->capture_default_str();
    mm1_command->add_flag("--smoke", mm1_smoke, "100,000 customers (for CI; too short for the 2 % target)");

    Hdf5Options hdf5;
    bool hdf5_smoke = false;
    CLI::App* hdf5_command = app.add_subcommand(
        "hdf5", "Recorded-series writes through the AsyncResultsWriter, compression on (the default) and off, "
                "beside a raw H5Dwrite of the same blocks with the same chunks and filters: MB/s, CPU seconds, "
                "file size against the raw bytes");
    hdf5_command->add_option("--replications", hdf5.replications, "Replications")
        ->capture_default_str()
        ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{1000000}));
    hdf5_command->add_option("--times", hdf5.times, "Time steps per replication")
        ->capture_default_str()
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32));
    hdf5_command->add_option("--twins", hdf5.twins, "Twins (values per time step)")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
    hdf5_command->add_option("--block-times", hdf5.block_times, "Time steps per block")
        ->capture_default_str()
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32));
    hdf5_command->add_option("--producers", hdf5.producers, "Producer threads")->capture_default_str()->check(
        CLI::Range(1, 1024));
    hdf5_command->add_option("--queue", hdf5.queue, "Writer queue capacity (blocks)")->capture_default_str()->check(
        CLI::Range(1, 1000000));
    hdf5_command->add_option("--repeat", hdf5.repeat, "Interleaved rounds (medians reported)")->capture_default_str()->check(CLI::Range(1, 100));
    hdf5_command->add_option("--deflate", hdf5.deflate, "gzip level of the compressed side (-1: the writer's default)")
        ->capture_default_str()
        ->check(CLI::Range(-1, 9));
    hdf5_command->add_option("--dir", hdf5.directory, "Directory for the files (removed afterwards)");
    hdf5_command->add_flag("--smoke", hdf5_smoke, "4 replications x 100 times x 100 twins (for CI)");

    CloneOptions clone;
    bool clone_smoke = false;
    CLI::App* clone_command = app.add_subcommand(
        "clone", "Scenario runs cloned from a snapshot of the generated building graph: microseconds per clone, "
                 "clone + a write of 1 % of the twins' worth of one property, bytes copied, memory");
    clone_command->add_option("--twins", clone.twins, "Number of twins N")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1000}, std::size_t{100000000}));
    clone_command->add_option("--runs", clone.runs, "Clones created (and clone + write rounds)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000000));
    clone_command->add_option("--seed", clone.seed, "Seed of the generated graph")->capture_default_str();
    clone_command->add_flag("--smoke", clone_smoke, "N = 10,000, 20 runs (for CI)");

    ParallelOptions parallel;
    bool parallel_smoke = false;
    CLI::App* parallel_command = app.add_subcommand(
        "parallel", "Independent scenario runs of the bundled building (built-in relaxation and queue models) on 1 "
                    "and on N threads through the runner; speed-up (target 1.8 on 2 threads)");
    parallel_command->add_option("--runs", parallel.runs, "Runs (replications)")
        ->capture_default_str()
        ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{1000000}));
    parallel_command->add_option("--hours", parallel.hours, "Simulated hours per run")
        ->capture_default_str()
        ->check(CLI::Range(0.01, 1e6));
    parallel_command->add_option("--threads", parallel.threads, "Threads of the parallel measurement")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1024u));
    parallel_command->add_flag("--smoke", parallel_smoke, "8 runs of 2 hours (for CI)");

    BuildingBenchOptions building;
    bool building_smoke = false;
    CLI::App* building_command = app.add_subcommand(
        "building", "thermal_zones on every room for one simulated day at a 5-minute step through the runner "
                    "(one thread, no file), on the bundled building copied to N zones and on the bundled building "
                    "itself, beside a NumPy explicit RC-network loop of the same zones, interleaved rounds "
                    "(targets: bundled < 0.2 s, 10,000 zones <= 1 s per replication and <= 3x NumPy)");
    building_command->add_option("--zones", building.zones, "Rooms N of the scaled building")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}));
    building_command->add_option("--replications", building.replications, "One-day runs of the scaled building")
        ->capture_default_str()
        ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{100000}));
    building_command->add_option("--bundled-replications", building.bundled_replications,
                                 "One-day runs of the bundled building")
        ->capture_default_str()
        ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{100000}));
    building_command->add_option("--integrator", building.integrator, "thermal_zones' integrator")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "exact", "implicit"}));
    building_command->add_option("--rounds", building.rounds, "Interleaved rounds (medians reported)")
        ->capture_default_str()
        ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{1000}));
#ifdef TWINSIM_BENCH_PYTHON
    building.python = TWINSIM_BENCH_PYTHON;
#endif
    building_command->add_option("--python", building.python, "Python with NumPy for the peer (\"\" = no peer)")
        ->capture_default_str();
    building.peer_script = std::string(TWINSIM_SOURCE_DIR) + "/bench/building_numpy.py";
    building_command->add_option("--peer", building.peer_script, "The peer script")->capture_default_str();
    building_command->add_flag("--smoke", building_smoke, "N = 500, one run of each, one round (for CI)");

    StoreBenchOptions store;
    bool store_smoke = false;
    CLI::App* store_command = app.add_subcommand(
        "store", "Property updates per second into a durable store (group commit and per batch) beside the same "
                 "rows into a bare SQLite table with the same durability (target 300,000/s with group commit)");
    store_command->add_option("--twins", store.twins, "Twins the updates spread over")->capture_default_str();
    store_command->add_option("--writers", store.writers, "Writer threads")->capture_default_str()->check(CLI::Range(1U, 256U));
    store_command->add_option("--batch", store.batch, "Updates per batch")->capture_default_str();
    store_command->add_option("--batches", store.batches, "Batches per writer")->capture_default_str();
    store_command->add_option("--dir", store.directory, "Directory for the stores (default: a temporary one)");
    store_command->add_flag("--smoke", store_smoke, "1,000 twins, 2 writers, 5 batches of 100 (for CI)");

    LiveBenchCommands live(app);  // ingest, recovery, crash (bench/live_bench.hpp)
    FleetBenchCommand fleet(app);  // fleet maintenance (bench/fleet_benchmark.hpp)
    ProductionBenchCommand production(app);  // the sample plant beside SimPy and salabim (bench/production_benchmark.hpp)
    ReplayBenchCommand replay(app);  // replay vs simulate (bench/replay_benchmark.hpp)
    ServeBenchCommand serve(app);  // the REST service vs the library (bench/serve_benchmark.hpp)
    PatchBenchCommand patch(app);  // a twin PATCH on the durable store vs an in-memory graph (bench/patch_benchmark.hpp)
    MqttBenchCommand mqtt(app);  // broker -> committed updates vs a bare SQLite subscriber (bench/mqtt_benchmark.hpp)
    CalibrateBenchCommand calibrate(app);  // calibration vs SciPy (bench/calibrate_benchmark.hpp)
    TimeTravelBenchOptions travel;
    bool travel_smoke = false;
    CLI::App* travel_command = app.add_subcommand(
        "time-travel", "Store::snapshot_at on a store of N twins and M journaled updates beside the same rows in an "
                       "indexed SQLite table (latest row per twin at t), at the same random instants (target 0.5 s)");
    travel_command->add_option("--twins", travel.twins, "Twins (one numeric property each)")->capture_default_str();
    travel_command->add_option("--changes", travel.changes, "Journaled property updates (history rows)")->capture_default_str();
    travel_command->add_option("--batch", travel.batch, "Updates per batch")->capture_default_str();
    travel_command->add_option("--checkpoint-every", travel.checkpoint_every, "Batches between checkpoints (0: none)")
        ->capture_default_str();
    travel_command->add_option("--keep-checkpoints", travel.keep_checkpoints, "StoreOptions::keep_checkpoints")
        ->capture_default_str();
    travel_command->add_option("--rounds", travel.rounds, "Interleaved rounds")->capture_default_str()->check(CLI::Range(1, 10000));
    travel_command->add_option("--dir", travel.directory, "Directory for the store and the peer (kept; default: a temporary one, removed)");
    travel_command->add_flag("--reuse", travel.reuse, "With --dir: time the store and peer a previous run built there with the same sizes, instead of building them");
    travel_command->add_flag("--smoke", travel_smoke, "1,000 twins, 20,000 updates in batches of 100 (for CI)");
    HistoryBenchOptions history;
    bool history_smoke = false;
    CLI::App* history_command = app.add_subcommand(
        "history", "A store's history: bytes per row on disk, and one property of one twin over a month of minute "
                   "data read back (target 10 ms) beside a plain indexed SQLite table");
    history_command->add_option("--twins", history.twins, "Twins with minute data")->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
    history_command->add_option("--days", history.days, "Days of minute data per twin")->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{3650}));
    history_command->add_option("--rounds", history.rounds, "Timed reads of each")->capture_default_str()->check(CLI::Range(1U, 10000U));
    history_command->add_option("--dir", history.directory, "Keep the store and the peer database here");
    history_command->add_flag("--smoke", history_smoke, "3 twins, one day, 3 rounds (for CI)");

    // A job on a Dask LocalCluster beside the threaded runner: bench/compare_distributed.py,
    // run (exec) with the configured Python and the build tree's twinsim package.
    std::uint32_t distributed_replications = 400;
    std::uint32_t distributed_rounds = 3;
    std::string distributed_horizon = "P1D";
    std::string distributed_jobs = "sweep,building";
    bool distributed_smoke = false;
    CLI::App* distributed_command = app.add_subcommand(
        "distributed", "A 400-run job (the production plant's capacity sweep over its quarter, then the tiny building "
                       "job) on a Dask LocalCluster of 2 worker processes beside the threaded runner on 2 threads, "
                       "interleaved rounds (target efficiency 0.9); runs bench/compare_distributed.py "
                       "(needs dask[distributed] in the Python it uses: $TWINSIM_PYTHON, else the configured one)");
    distributed_command->add_option("--jobs", distributed_jobs,
                                    "Jobs measured in turn, the first is the headline: sweep (the production plant's "
                                    "capacity sweep, 92 days), plant (plant-q4.yaml), building (61 rooms, --horizon)")
        ->capture_default_str();
    distributed_command->add_option("--replications", distributed_replications,
                                    "Runs of each job (the sweep: ceil(N / 24) replications of each of its 24 points)")
        ->capture_default_str()
        ->check(CLI::Range(1U, 1000000U));
    distributed_command->add_option("--rounds", distributed_rounds, "Interleaved rounds")->capture_default_str()->check(CLI::Range(1U, 1000U));
    distributed_command->add_option("--horizon", distributed_horizon, "Each run's horizon (ISO 8601)")->capture_default_str();
    distributed_command->add_flag("--smoke", distributed_smoke,
                                  "24 runs of the sweep (one per point) and 8 building runs of 6 hours, one round (for CI)");

    RulBenchOptions rul;
    bool rul_smoke = false;
    CLI::App* rul_command = app.add_subcommand(
        "rul", "Remaining useful life on C-MAPSS (truth capped at 125, prediction at each test engine's last cycle): "
               "RMSE, PHM08 score and 90 % interval coverage beside the constant-mean-life and OLS baselines");
    rul_command->add_option("--train", rul.train, "Training file (run to failure), C-MAPSS text, gzip or not (default: bundled FD001)");
    rul_command->add_option("--test", rul.test, "Test file (cut before failure), same format");
    rul_command->add_option("--truth", rul.truth, "True RUL of each test unit (RUL_FD00x.txt)");
    rul_command->add_option("--rounds", rul.rounds, "Timed fits")->capture_default_str()->check(CLI::Range(1U, 1000U));
    rul_command->add_flag("--smoke", rul_smoke, "One timed fit (for CI)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? exit_ok : exit_usage;
    }
    if (distributed_command->parsed()) {
        const char* configured = std::getenv("TWINSIM_PYTHON");
#ifdef TWINSIM_BENCH_PYTHON
        std::string python = TWINSIM_BENCH_PYTHON;
#else
        std::string python = "python3";
#endif
        if (configured != nullptr && *configured != '\0') python = configured;
#ifdef TWINSIM_BENCH_PYTHON_PATH
        if (std::getenv("PYTHONPATH") == nullptr) ::setenv("PYTHONPATH", TWINSIM_BENCH_PYTHON_PATH, 1);
#endif
        std::vector<std::string> args{python, std::string(TWINSIM_SOURCE_DIR) + "/bench/compare_distributed.py"};
        if (distributed_smoke) {
            args.emplace_back("--smoke");
        } else {
            args.insert(args.end(), {"--jobs", distributed_jobs, "--replications", std::to_string(distributed_replications),
                                     "--rounds", std::to_string(distributed_rounds), "--horizon", distributed_horizon});
        }
        std::vector<char*> argv_exec;
        for (std::string& a : args) argv_exec.push_back(a.data());
        argv_exec.push_back(nullptr);
        std::cout.flush();
        ::execvp(argv_exec[0], argv_exec.data());
        const int error = errno;
        std::cerr << "twinsim-bench distributed: cannot start " << python << ": " << std::strerror(error) << '\n';
        return exit_usage;
    }
    if (const std::optional<int> status = live.run()) return *status;
    if (const std::optional<int> status = fleet.run()) return *status;
    if (const std::optional<int> status = production.run()) return *status;
    if (const std::optional<int> status = replay.run()) return *status;
    if (const std::optional<int> status = serve.run()) return *status;
    if (const std::optional<int> status = patch.run()) return *status;
    if (const std::optional<int> status = mqtt.run()) return *status;
    if (const std::optional<int> status = calibrate.run()) return *status;
    if (dtdl_command->parsed()) {
        if (smoke) dtdl.repeat = 1;
        return run_dtdl(dtdl);
    }
    if (graph_command->parsed()) {
        if (graph_smoke) graph.twins = 10000;
        return run_graph(graph);
    }
    if (query_command->parsed()) {
        if (query_smoke) {
            query.twins = 10000;
            query.runs = 3;
        }
        return run_query_benchmark(query);
    }
    if (phold_command->parsed()) {
        if (phold_smoke) {
            phold.events = 100000;
            phold.repeat = 1;
        }
        return run_phold(phold);
    }
    if (mm1_command->parsed()) {
        if (mm1_smoke) {
            mm1.customers = 100000;
            mm1.warmup = 1000;
        }
        return run_mm1(mm1);
    }
    if (hdf5_command->parsed()) {
        if (hdf5_smoke) {
            hdf5.replications = 4;
            hdf5.times = 100;
            hdf5.twins = 100;
            hdf5.block_times = 25;
            hdf5.repeat = 1;
        }
        return run_hdf5(hdf5);
    }
    if (travel_command->parsed()) {
        if (travel_smoke) {
            travel.twins = 1000;
            travel.changes = 20000;
            travel.batch = 100;
            travel.checkpoint_every = 20;
            travel.keep_checkpoints = 8;
            travel.rounds = 3;
        }
        return run_time_travel(travel);
    }
    if (rul_command->parsed()) {
        if (rul_smoke) rul.rounds = 1;
        return run_rul(rul);
    }
    if (history_command->parsed()) {
        if (history_smoke) {
            history.twins = 3;
            history.days = 1;
            history.rounds = 3;
        }
        return run_history(history);
    }
    if (store_command->parsed()) {
        if (store_smoke) {
            store.twins = 1000;
            store.writers = 2;
            store.batch = 100;
            store.batches = 5;
        }
        return run_store(store);
    }
    if (clone_command->parsed()) {
        if (clone_smoke) {
            clone.twins = 10000;
            clone.runs = 20;
        }
        return run_clone(clone);
    }
    if (parallel_command->parsed()) {
        if (parallel_smoke) {
            parallel.runs = 8;
            parallel.hours = 2.0;
        }
        return run_parallel(parallel);
    }
    if (building_command->parsed()) {
        if (building_smoke) {
            building.zones = 500;
            building.replications = 1;
            building.bundled_replications = 1;
            building.rounds = 1;
        }
        return run_building(building);
    }
    if (smoke) process.repeat = 1;
    return run_validate_process(process);
}

}  // namespace
}  // namespace twinsim::bench

int main(int argc, char** argv) {
    try {
        return twinsim::bench::run(argc, argv);
    } catch (const twinsim::IoError& e) {
        std::cerr << "twinsim-bench: " << e.what() << '\n';
        return twinsim::bench::exit_usage;
    } catch (const std::exception& e) {
        std::cerr << "twinsim-bench: " << e.what() << '\n';
        return twinsim::bench::exit_failed;
    }
}
