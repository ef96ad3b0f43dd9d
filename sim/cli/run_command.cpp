// `twinsim run`: read one or more scenario files, load their base graphs,
// prepare every scenario (sweep points included) with the built-in behaviour
// models, run every replication of all of them on all cores and write one
// HDF5 results file; a progress bar on a terminal, then the KPI table.
// Replication r of every scenario uses the random stream (seed, 0, r): it
// depends on the scenario's seed and the replication only, not on the
// scenario's position in the job nor on its name, so the scenarios of a job
// draw common random numbers. Names must be unique.
//
// --shard K/N runs only the tasks of shard K and writes a results shard;
// `twinsim merge` combines the shards (merge_command.cpp).
//
// Ctrl-C and SIGTERM (what `timeout`, batch schedulers and containers send)
// are handled alike: before the runs start nothing is on disk, so the program
// stops at once; while they run, the signal only raises a flag, the progress
// callback returns false, the runner stops every run and removes its
// temporary file, and the program exits 130 (SIGINT) or 143 (SIGTERM) with no
// results file. A temporary file left by a process killed outright (SIGKILL)
// is removed by the next run writing the same path (io::ResultsWriter).
//
// The scenario's `base:` and `base_models:` stay inside the scenario file's
// folder tree unless --allow-outside-paths (scenario/input_paths.hpp).

#include <CLI/CLI.hpp>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "graph_input.hpp"
#include "model_input.hpp"
#include "models/builtin.hpp"
#include "scenario_commands.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/common/excerpt.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/live/history.hpp"
#include "twinsim/live/replay_window.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/scenario/recorded_input.hpp"
#include "twinsim/scenario/resume.hpp"
#include "twinsim/scenario/behaviour.hpp"
#include "twinsim/scenario/errors.hpp"
#include "twinsim/scenario/input_paths.hpp"
#include "twinsim/scenario/limits.hpp"
#include "twinsim/scenario/precision.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/runner.hpp"
#include "twinsim/scenario/scenario_reading.hpp"
#include "twinsim/scenario/scenario_spec.hpp"
#include "twinsim/scenario/select.hpp"
#include "twinsim/scenario/sweep.hpp"

namespace twinsim::cli {
namespace {

namespace fs = std::filesystem;

struct RunCommandOptions {
    std::vector<std::string> scenario_files;
    std::string out;
    unsigned threads = 0;
    std::uint32_t replications = 1;
    std::uint64_t seed = 0;
    bool quiet = false;
    std::vector<std::string> models;
    bool allow_undefined_extensions = false;
    bool allow_outside_paths = false;
    std::string shard;  ///< "K/N" (1 <= K <= N), "" for the whole job
    std::string store;  ///< --store: the live store a replay reads its history from
    bool resume = false;         ///< --resume: checkpoint batches under <out>.parts and reuse the finished ones
    std::size_t batch_size = 0;  ///< --batch-size (with --resume or --dask; 0: auto)
    std::string dask;            ///< --dask ADDRESS: run on a Dask cluster (python -m twinsim.distributed)
    std::vector<std::string> precision;  ///< --precision "KPI[@SELECTION]=H" or "...=P%"
    std::uint32_t max_replications = 1000;  ///< --max-replications (with --precision)
    const CLI::Option* max_replications_option = nullptr;
    std::string select;      ///< --select KPI[@SELECTION]: Kim and Nelson's procedure
    double delta = 0.0;      ///< --delta (with --select)
    bool minimize = false;   ///< --minimize (with --select)
    std::string feasible;    ///< --feasible "KPI[@SELECTION]>=X" or "<=X": the cheapest feasible scenario
    double alpha = 0.05;     ///< --alpha (with --select or --feasible)
    std::uint32_t first_stage = 10;  ///< --first-stage
    const CLI::Option* replications_option = nullptr;
    const CLI::Option* seed_option = nullptr;
    const scenario::ModelRegistry* behaviours = nullptr;  ///< what the scenarios' behaviours: sections bind
};

// ---- Ctrl-C ----------------------------------------------------------------

static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");
/// The signal (SIGINT or SIGTERM) that asked the program to stop; 0 = none.
std::atomic<int> interrupted{0};
/// True while the runner may have a temporary results file open: SIGINT then
/// only sets `interrupted`; otherwise it ends the program at once.
std::atomic<bool> running{false};
/// Whether stderr is a terminal (the terminal echoed "^C": start a new line).
std::atomic<bool> stderr_terminal{false};

/// 130 after SIGINT, 143 after SIGTERM (128 + the signal, as a shell reports it).
int exit_status_of(int signal) { return signal == SIGTERM ? exit_terminated : exit_interrupted; }

extern "C" void on_stop_signal(int signal) {
    int none = 0;
    (void)interrupted.compare_exchange_strong(none, signal);
    if (!running.load()) {
        static const char message[] = "\ntwinsim: cancelled; no results written\n";
        // The terminal echoed "^C" (a Ctrl-C on a terminal only): start a new line.
        const std::size_t skip = signal == SIGINT && stderr_terminal.load() ? 0 : 1;
        (void)!::write(STDERR_FILENO, message + skip, sizeof message - 1 - skip);
        ::_exit(exit_status_of(signal));
    }
}

/// Installs on_stop_signal for SIGINT and SIGTERM for its lifetime, then
/// restores the previous actions.
class StopSignalGuard {
public:
    StopSignalGuard() {
        stderr_terminal.store(::isatty(STDERR_FILENO) == 1);
        struct sigaction action {};
        action.sa_handler = on_stop_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;
        for (std::size_t i = 0; i < 2; ++i) {
            installed_[i] = ::sigaction(signals_[i], &action, &previous_[i]) == 0;
            // Started with the signal ignored (a background job of a script, nohup): keep it so.
            if (installed_[i] && previous_[i].sa_handler == SIG_IGN) ::sigaction(signals_[i], &previous_[i], nullptr);
        }
    }
    ~StopSignalGuard() {
        running.store(false);
        for (std::size_t i = 0; i < 2; ++i)
            if (installed_[i]) ::sigaction(signals_[i], &previous_[i], nullptr);
    }
    StopSignalGuard(const StopSignalGuard&) = delete;
    StopSignalGuard& operator=(const StopSignalGuard&) = delete;

private:
    static constexpr int signals_[2] = {SIGINT, SIGTERM};
    struct sigaction previous_[2] {};
    bool installed_[2] = {false, false};
};

// ---- progress ----------------------------------------------------------------

std::string elapsed_text(double seconds) {
    const auto total = static_cast<long long>(seconds);
    char text[32];
    if (total >= 3600) {
        std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
    } else {
        std::snprintf(text, sizeof text, "%lld:%02lld", total / 60, total % 60);
    }
    return text;
}

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, seconds < 10 ? "%.2f s" : "%.1f s", seconds);
    return text;
}

/// 950, 12.3 k, 4.56 M, 1.20 G
std::string count_text(double value) {
    char text[32];
    if (value < 1e3) {
        std::snprintf(text, sizeof text, "%.0f", value);
    } else if (value < 1e6) {
        std::snprintf(text, sizeof text, "%.1f k", value / 1e3);
    } else if (value < 1e9) {
        std::snprintf(text, sizeof text, "%.2f M", value / 1e6);
    } else {
        std::snprintf(text, sizeof text, "%.2f G", value / 1e9);
    }
    return text;
}

/// Simulated time in the largest unit that keeps it readable: 45 s, 12.5 min, 48 h, 365 d.
std::string simulated_text(double seconds) {
    char text[32];
    if (seconds < 120) {
        std::snprintf(text, sizeof text, "%.3g s", seconds);
    } else if (seconds < 7200) {
        std::snprintf(text, sizeof text, "%.3g min", seconds / 60);
    } else if (seconds < 3 * 86400.0) {
        std::snprintf(text, sizeof text, "%.4g h", seconds / 3600);
    } else {
        std::snprintf(text, sizeof text, "%.4g d", seconds / 86400);
    }
    return text;
}

std::string plural(std::size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

/// The live progress bar (a terminal only) and the final one-line summary.
class ProgressDisplay {
public:
    ProgressDisplay(bool terminal, bool quiet) : terminal_(terminal && !quiet), quiet_(quiet) {}

    void update(const scenario::Progress& p) {
        if (!terminal_) return;
        std::string counters = std::to_string(p.runs_done) + "/" + std::to_string(p.runs_total) + " runs";
        if (p.runs_failed > 0) counters += " (" + std::to_string(p.runs_failed) + " failed)";
        char percent[16];
        std::snprintf(percent, sizeof percent, "%5.1f %%", 100.0 * p.fraction());
        const std::string rest = counters + "  " + percent + "  " + count_text(p.events_per_second()) +
                                 " events/s  " + elapsed_text(p.elapsed_seconds);
        const std::size_t columns = terminal_columns();
        std::string line;
        const std::size_t room = columns > rest.size() + 4 ? columns - rest.size() - 4 : 0;
        if (room >= 10) {
            const std::size_t width = std::min<std::size_t>(room, 40);
            const auto filled = static_cast<std::size_t>(p.fraction() * static_cast<double>(width));
            line = "[" + std::string(std::min(filled, width), '#') + std::string(width - std::min(filled, width), '-') +
                   "]  ";
        }
        line += rest;
        if (line.size() >= columns && columns > 1) line.resize(columns - 1);
        std::fprintf(stderr, "\r%s\033[K", line.c_str());
        std::fflush(stderr);
        drawn_ = true;
    }

    /// Clears the bar (leaving the cursor at the start of an empty line).
    void clear() {
        if (!drawn_) return;
        std::fprintf(stderr, "\r\033[K");
        std::fflush(stderr);
        drawn_ = false;
    }

    void summary(const scenario::Progress& p, std::size_t scenarios) {
        clear();
        if (quiet_) return;
        std::string line = "ran " + plural(p.runs_total, "run", "runs") + " of " +
                           plural(scenarios, "scenario", "scenarios") + " in " + seconds_text(p.elapsed_seconds) +
                           ": " + simulated_text(p.simulated_seconds_total) + " simulated, " +
                           count_text(static_cast<double>(p.events)) + " events (" +
                           count_text(p.events_per_second()) + " events/s), " + std::to_string(p.runs_failed) +
                           " failed";
        std::cerr << line << '\n';
    }

private:
    static std::size_t terminal_columns() {
        struct winsize size {};
        if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
        return 80;
    }

    bool terminal_;
    bool quiet_;
    bool drawn_ = false;
};

// ---- the KPI table -------------------------------------------------------------

void print_kpis(std::ostream& out, const std::vector<scenario::KpiSummary>& kpis) {
    if (kpis.empty()) {
        out << "no KPIs (the scenario defines none)\n";
        return;
    }
    TextTable table({"scenario", "KPI", "selection", "statistic", "mean", "95 % CI", "n", "unit"},
                    {false, false, false, false, true, false, true, false});
    const std::string* previous = nullptr;
    for (const scenario::KpiSummary& k : kpis) {
        const int decimals = kpi_decimals(k.mean, k.ci95_low, k.ci95_high);
        const bool same = previous != nullptr && *previous == k.scenario;
        table.add({same ? "" : k.scenario, k.name, k.selection, k.statistic, format_kpi(k.mean, decimals),
                   format_interval(k.ci95_low, k.ci95_high, decimals), std::to_string(k.n), k.unit});
        previous = &k.scenario;
    }
    table.print(out);
}

// ---- the command -----------------------------------------------------------------


/// The job's scenarios, prepared against the base graph; exit status when not.
struct Prepared {
    std::vector<std::shared_ptr<const scenario::PreparedScenario>> scenarios;
    std::string base_source;
    int status = exit_valid;
};

Prepared prepare(const RunCommandOptions& options) {
    Prepared out;
    // Files sharing a base graph (and models) load it once.
    std::map<std::vector<std::string>, std::shared_ptr<const LoadedGraph>> graphs;
    std::map<std::string, std::string> names;  // scenario name -> the file that defines it
    std::map<std::string, std::unique_ptr<live::Store>> stores;  // replay stores, opened once
    for (const std::string& file : options.scenario_files) {
        const fs::path scenario_file(file);
        scenario::ScenarioSpec spec;
        try {
            scenario::ScenarioReadOptions reading;
            reading.allow_outside_paths = options.allow_outside_paths;
            spec = scenario::read_scenario_file(scenario_file, reading);  // IoError (missing file): exit 2 in main
            if (options.replications_option != nullptr && options.replications_option->count() > 0)
                spec.replications = options.replications;
            if (options.seed_option != nullptr && options.seed_option->count() > 0) spec.seed = options.seed;
            scenario::check_limits(spec);

            if (spec.base == "live") {
                throw scenario::spec_error(spec, "/base", "base",
                                           "\"live\" is the graph handed over from Python; twinsim run needs an "
                                           "NDJSON file, relative to the scenario file");
            }
            GraphInputOptions input;
            input.allow_undefined_extensions = options.allow_undefined_extensions;
            input.model_paths = options.models;
            scenario::InputPathOptions paths;
            paths.allow_outside = options.allow_outside_paths;
            paths.trusted_folders = {models::builtin_dtdl_folder()};
            resolve_scenario_inputs(spec, scenario_file, *options.behaviours, paths, input);
            if (out.base_source.empty()) {
                out.base_source = input.file;
            } else if (out.base_source.find(input.file) == std::string::npos) {
                out.base_source += ", " + input.file;
            }

            std::vector<std::string> key = input.model_paths;
            key.push_back(input.file);
            std::shared_ptr<const LoadedGraph>& loaded = graphs[key];
            if (!loaded) {
                auto loading = std::make_shared<LoadedGraph>(load_graph(input));
                if (!loading->loaded) {
                    std::cerr << "twinsim: error: " << file << ": the base graph cannot be loaded:\n";
                    print_problems(std::cerr, input.file, loading->problems);
                    out.status = exit_usage;
                    return out;
                }
                loaded = std::move(loading);
            }
            // Replay (docs/replay.md): the recorded history from --store or replay.source
            // (an HDF5 history file or a store's folder, relative to the scenario file);
            // with a store, the base graph is the store's graph at the window's start.
            std::optional<graph::Snapshot> replay_base;
            if (spec.replay) {
                std::string store_dir = options.store;
                if (store_dir.empty() && scenario::resolve_replay_source(spec, scenario_file.parent_path(), paths))
                    store_dir = spec.replay->source;
                if (!store_dir.empty()) {
                    std::unique_ptr<live::Store>& store = stores[store_dir];
                    if (!store) store = open_existing_store(store_dir, options.allow_undefined_extensions).store;
                    live::ReplayWindow window = live::replay_window(
                        *store, spec.start,
                        Timestamp{spec.start.ns + static_cast<std::int64_t>(std::llround(spec.horizon * 1e9))});
                    spec.replay->source = store_dir;
                    spec.replay->loaded.history =
                        std::make_shared<const scenario::RecordedHistory>(std::move(window.history));
                    replay_base = std::move(window.graph);
                }
            }
            for (const scenario::ScenarioSpec& concrete : scenario::expand(spec)) {
                const auto [it, fresh] = names.emplace(concrete.name, file);
                if (!fresh) {
                    throw scenario::spec_error(spec, "/name", "name",
                                               "two scenarios of the job are named \"" + concrete.name + "\"" +
                                                   (it->second == file ? std::string() : " (the other in " + it->second + ")"));
                }
                const auto index = static_cast<std::uint32_t>(out.scenarios.size());
                out.scenarios.push_back(scenario::prepare(concrete, replay_base ? *replay_base : loaded->graph->snapshot(),
                                                          *options.behaviours, index));
            }
        } catch (const scenario::ScenarioError& e) {
            std::cerr << "twinsim: error: " << e.what() << '\n';
            out.status = exit_usage;
            return out;
        } catch (const live::LiveError& e) {  // a replay store that cannot be opened or read, or has no graph at the start
            std::cerr << "twinsim: error: " << file << ": replay store: " << e.what() << '\n';
            out.status = exit_usage;
            return out;
        } catch (const Error& e) {  // IoError (an unreadable --models path), or any other reason the job cannot start
            std::cerr << "twinsim: error: " << e.what() << '\n';
            out.status = exit_usage;
            return out;
        }
    }
    return out;
}

/// Simulated seconds between checks for Ctrl-C (and progress updates): the
/// runner's default, horizon / 200, can be millions of steps of a long run at
/// a fine step, seconds of wall time; 1,000 steps of the finest scenario keeps
/// cancellation prompt at a negligible cost per slice.
double slice_for(const std::vector<std::shared_ptr<const scenario::PreparedScenario>>& scenarios) {
    double slice = 0.0;
    for (const auto& s : scenarios) {
        const double mine = std::min(s->spec.horizon / 200.0, 1000.0 * s->spec.step);
        slice = slice == 0.0 ? mine : std::min(slice, mine);
    }
    return slice;
}

/// "K/N" -> (K - 1, N); nullopt when malformed.
std::optional<std::pair<std::uint32_t, std::uint32_t>> parse_shard(const std::string& text) {
    const auto slash = text.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) return std::nullopt;
    auto number = [](std::string_view digits) -> std::optional<std::uint32_t> {
        if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos)
            return std::nullopt;
        return static_cast<std::uint32_t>(std::stoul(std::string(digits)));
    };
    const auto k = number(std::string_view(text).substr(0, slash));
    const auto n = number(std::string_view(text).substr(slash + 1));
    if (!k || !n || *k < 1 || *n < 1 || *k > *n) return std::nullopt;
    return std::pair(*k - 1, *n);
}

/// "KPI[@SELECTION]=H" (absolute, the KPI's unit) or "KPI[@SELECTION]=P%"
/// (relative to the mean); nullopt when malformed.
std::optional<scenario::PrecisionTarget> parse_precision(const std::string& text) {
    const auto eq = text.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) return std::nullopt;
    scenario::PrecisionTarget t;
    std::string name = text.substr(0, eq);
    std::string value = text.substr(eq + 1);
    if (const auto at = name.rfind('@'); at != std::string::npos) {
        t.selection = name.substr(at + 1);
        name.resize(at);
    }
    if (name.empty()) return std::nullopt;
    t.kpi = name;
    if (value.back() == '%') {
        t.relative = true;
        value.pop_back();
    }
    try {
        std::size_t used = 0;
        const double number = std::stod(value, &used);
        if (used != value.size() || !(number > 0) || !std::isfinite(number)) return std::nullopt;
        t.half_width = t.relative ? number / 100.0 : number;
    } catch (const std::exception&) {
        return std::nullopt;
    }
    return t;
}

/// `--select` / `--feasible`: choose among the job's scenarios (scenario/select.hpp); no results file.
int choose_command(const RunCommandOptions& options, const std::vector<std::shared_ptr<const scenario::PreparedScenario>>& scenarios) {
    auto split = [](std::string text, std::string& selection) {
        if (const auto at = text.rfind('@'); at != std::string::npos) {
            selection = text.substr(at + 1);
            text.resize(at);
        }
        return text;
    };
    auto print_number = [](double x) {
        char text[32];
        std::snprintf(text, sizeof text, "%.6g", x);
        return std::string(text);
    };
    try {
        if (!options.select.empty()) {
            scenario::SelectOptions o;
            o.kpi = split(options.select, o.selection);
            o.maximize = !options.minimize;
            o.delta = options.delta;
            o.alpha = options.alpha;
            o.first_stage = options.first_stage;
            o.max_replications = options.max_replications;
            o.threads = options.threads;
            const scenario::SelectedBest best = scenario::select_best(scenarios, o);
            TextTable table({"scenario", "mean", "replications", "screened out at"}, {false, true, true, true});
            for (std::size_t i = 0; i < best.systems.size(); ++i) {
                const auto& sys = best.systems[i];
                table.add({sys.name + (i == best.best ? "  <- best" : ""), print_number(sys.mean),
                           std::to_string(sys.replications), sys.eliminated_at ? std::to_string(*sys.eliminated_at) : ""});
            }
            table.print(std::cout);
            std::cout << (best.decided ? "best: " : "best (undecided: --max-replications reached; the highest mean): ")
                      << best.systems[best.best].name << " (" << (o.maximize ? "highest" : "lowest") << " mean of "
                      << o.kpi << "; Kim-Nelson, P(correct selection) >= " << print_number(1 - o.alpha)
                      << " when the best is better by at least delta = " << print_number(o.delta) << ")\n";
            return exit_valid;
        }
        scenario::FeasibleOptions o;
        const auto op = options.feasible.find_first_of("<>");
        if (op == std::string::npos || op == 0 || op + 2 > options.feasible.size() || options.feasible[op + 1] != '=') {
            std::cerr << "twinsim: error: --feasible " << excerpt(options.feasible)
                      << ": expected KPI>=X or KPI<=X (KPI@SELECTION>=X for one selection)\n";
            return exit_usage;
        }
        o.kpi = split(options.feasible.substr(0, op), o.selection);
        o.at_least = options.feasible[op] == '>';
        try {
            std::size_t used = 0;
            const std::string number = options.feasible.substr(op + 2);
            o.threshold = std::stod(number, &used);
            if (used != number.size()) throw std::invalid_argument(number);
        } catch (const std::exception&) {
            std::cerr << "twinsim: error: --feasible " << excerpt(options.feasible) << ": the threshold is not a number\n";
            return exit_usage;
        }
        o.alpha = options.alpha;
        o.first_stage = options.first_stage;
        o.max_replications = options.max_replications;
        o.threads = options.threads;
        const scenario::CheapestFeasible c = scenario::cheapest_feasible(scenarios, o);
        TextTable table({"scenario (cheapest first)", "decision", "mean", "one-sided bounds", "replications"},
                        {false, false, true, false, true});
        for (const auto& sys : c.systems) {
            const bool tested = sys.status != scenario::CheapestFeasible::Status::not_tested;
            table.add({sys.name, scenario::to_string(sys.status), tested ? print_number(sys.mean) : "",
                       tested ? "[" + print_number(sys.low) + ", " + print_number(sys.high) + "]" : "",
                       tested ? std::to_string(sys.replications) : ""});
        }
        table.print(std::cout);
        if (c.chosen) {
            std::cout << "cheapest feasible: " << c.systems[*c.chosen].name << " (" << o.kpi << (o.at_least ? " >= " : " <= ")
                      << print_number(o.threshold) << " with confidence " << print_number(1 - o.alpha)
                      << " for every decision; each test at level " << print_number(c.alpha_per_test) << ")\n";
        } else {
            std::cout << "no scenario was shown feasible\n";
        }
        return exit_valid;
    } catch (const scenario::ScenarioError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return exit_usage;
    } catch (const Error& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return exit_invalid;
    }
}

/// `--dask ADDRESS`: the distributed runner is Python's (twinsim.distributed, on
/// dask.distributed); this program hands the job over to it with exec, so the
/// exit status and output are that module's. The interpreter is $TWINSIM_PYTHON,
/// else python3; it must import twinsim and dask.distributed.
int run_on_dask(const RunCommandOptions& options) {
    if (!options.shard.empty() || options.resume || !options.store.empty() || !options.models.empty() ||
        options.allow_undefined_extensions) {
        std::cerr << "twinsim: error: --dask runs the whole job on the cluster; it cannot be combined with --shard, "
                     "--resume, --store, --models or --allow-undefined-extensions\n";
        return exit_usage;
    }
    const char* configured = std::getenv("TWINSIM_PYTHON");
    const std::string python = configured != nullptr && *configured != '\0' ? configured : "python3";
    std::vector<std::string> args{python, "-m", "twinsim.distributed", "--dask", options.dask};
    if (!options.out.empty()) args.insert(args.end(), {"-o", options.out});
    if (options.replications_option != nullptr && options.replications_option->count() > 0)
        args.insert(args.end(), {"--replications", std::to_string(options.replications)});
    if (options.seed_option != nullptr && options.seed_option->count() > 0)
        args.insert(args.end(), {"--seed", std::to_string(options.seed)});
    if (options.batch_size != 0) args.insert(args.end(), {"--batch-size", std::to_string(options.batch_size)});
    if (options.allow_outside_paths) args.emplace_back("--allow-outside-paths");
    if (options.quiet) args.emplace_back("--quiet");
    args.emplace_back("--");
    args.insert(args.end(), options.scenario_files.begin(), options.scenario_files.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::cout.flush();
    std::cerr.flush();
    ::execvp(argv[0], argv.data());
    const int error = errno;
    std::cerr << "twinsim: error: --dask: cannot start " << python << " (set TWINSIM_PYTHON to a Python that imports "
              << "twinsim and dask.distributed: pip install twinsim[dask]): " << std::strerror(error) << '\n';
    return exit_usage;
}

int run_command(const RunCommandOptions& options) {
    std::optional<std::pair<std::uint32_t, std::uint32_t>> shard;
    if (!options.shard.empty()) {
        shard = parse_shard(options.shard);
        if (!shard) {
            std::cerr << "twinsim: error: --shard " << options.shard
                      << ": expected K/N with 1 <= K <= N (this process runs shard K of N)\n";
            return exit_usage;
        }
    }
    if (shard && options.resume) {
        std::cerr << "twinsim: error: --resume runs the whole job; it cannot be combined with --shard\n";
        return exit_usage;
    }
    std::optional<scenario::PrecisionOptions> precision;
    if (!options.precision.empty()) {
        if (shard || options.resume || !options.dask.empty()) {
            std::cerr << "twinsim: error: --precision runs rounds of the whole job on this machine; it cannot be "
                         "combined with --shard, --resume or --dask\n";
            return exit_usage;
        }
        precision.emplace();
        precision->max_replications = options.max_replications;
        for (const std::string& text : options.precision) {
            const auto target = parse_precision(text);
            if (!target) {
                std::cerr << "twinsim: error: --precision " << excerpt(text)
                          << ": expected KPI=H (the 95 % CI half-width in the KPI's unit) or KPI=P% (relative to the "
                             "mean), optionally KPI@SELECTION=..., with H or P > 0\n";
                return exit_usage;
            }
            precision->targets.push_back(*target);
        }
    } else if (options.max_replications_option != nullptr && options.max_replications_option->count() > 0 &&
               options.select.empty() && options.feasible.empty()) {
        std::cerr << "twinsim: error: --max-replications bounds --precision; give --precision too\n";
        return exit_usage;
    }
    if (!options.select.empty() || !options.feasible.empty()) {
        if (!options.select.empty() && !options.feasible.empty()) {
            std::cerr << "twinsim: error: give --select or --feasible, not both\n";
            return exit_usage;
        }
        if (shard || options.resume || !options.dask.empty() || precision) {
            std::cerr << "twinsim: error: --select and --feasible choose among the scenarios on this machine (no "
                         "results file); they cannot be combined with --shard, --resume, --dask or --precision\n";
            return exit_usage;
        }
        if (!options.select.empty() && !(options.delta > 0)) {
            std::cerr << "twinsim: error: --select needs --delta D > 0 (the indifference zone, in the KPI's unit)\n";
            return exit_usage;
        }
    }
    if (!options.dask.empty()) return run_on_dask(options);
    if (options.batch_size != 0 && !options.resume) {
        std::cerr << "twinsim: error: --batch-size is the size of --resume's checkpoints; give --resume too\n";
        return exit_usage;
    }
    interrupted.store(0);
    running.store(false);
    std::optional<StopSignalGuard> guard;
    guard.emplace();  // Ctrl-C while loading: exit 130 at once (nothing written yet)

    const Prepared prepared = prepare(options);
    if (prepared.status != exit_valid) return prepared.status;
    if (!options.select.empty() || !options.feasible.empty()) return choose_command(options, prepared.scenarios);

    fs::path out = options.out;
    if (out.empty()) {
        out = fs::path(options.scenario_files.front()).stem().string() +
              (shard ? "-shard-" + std::to_string(shard->first + 1) + "-of-" + std::to_string(shard->second) : "") +
              ".h5";
    }

    ProgressDisplay display(::isatty(STDERR_FILENO) == 1, options.quiet);
    scenario::RunnerOptions runner;
    runner.threads = options.threads;
    runner.base_source = prepared.base_source;
    runner.slice = slice_for(prepared.scenarios);
    if (shard) {
        runner.shard_index = shard->first;
        runner.shard_count = shard->second;
    }
    runner.progress = [&display](const scenario::Progress& p) {
        if (interrupted.load() != 0) return false;
        display.update(p);
        return true;
    };

    scenario::JobResult result;
    scenario::ResumeOptions resume;
    resume.batch_size = options.batch_size;
    resume.notice = [&display](const std::string& message) {
        display.clear();
        std::cerr << "twinsim: " << message << '\n';
    };
    scenario::ResumeReport resumed;
    std::optional<scenario::PrecisionResult> precise;
    running.store(true);
    if (interrupted.load() != 0) {  // a signal between loading and now
        std::cerr << "twinsim: cancelled; no results written\n";
        return exit_status_of(interrupted.load());
    }
    try {
        if (precision) {
            precise = scenario::run_until_precise(prepared.scenarios, out, runner, *precision);
            result = precise->job;
        } else {
            result = options.resume ? scenario::run_job_resumable(prepared.scenarios, out, runner, resume, &resumed)
                                    : scenario::run_job(prepared.scenarios, out, runner);
        }
    } catch (const scenario::Cancelled&) {
        display.clear();
        if (options.resume) {
            std::cerr << "twinsim: cancelled; the finished batches are kept in " << resumed.parts.string()
                      << ": run the same command again (with --resume) to continue\n";
        } else {
            std::cerr << "twinsim: cancelled; no results written\n";
        }
        return exit_status_of(interrupted.load());
    } catch (const scenario::ScenarioError& e) {  // RunnerOptions beyond a limit (threads)
        display.clear();
        std::cerr << "twinsim: error: " << e.what() << "\ntwinsim: no results written\n";
        return exit_usage;
    } catch (const io::ResultsError& e) {
        display.clear();
        std::cerr << "twinsim: error: " << e.what() << "\ntwinsim: no results written\n";
        return exit_usage;
    }
    guard.reset();  // the results are complete: Ctrl-C from here on is the default action

    display.summary(result.progress, prepared.scenarios.size());
    if (options.resume && !options.quiet && resumed.reused + resumed.refused > 0) {
        std::cerr << "resumed: " << resumed.reused << " of " << resumed.batches << " batches were already written"
                  << (resumed.refused > 0 ? ", " + std::to_string(resumed.refused) + " refused and run again" : std::string())
                  << '\n';
    }
    if (precise) {
        std::cerr << "precision: " << precise->rounds << (precise->rounds == 1 ? " round" : " rounds") << "; replications:";
        for (std::size_t i = 0; i < prepared.scenarios.size(); ++i)
            std::cerr << (i == 0 ? " " : ", ") << prepared.scenarios[i]->spec.name << " " << precise->replications[i];
        std::cerr << '\n';
        for (const std::string& why : precise->unmet)
            std::cerr << "twinsim: precision not reached (--max-replications " << options.max_replications << "): " << why
                      << '\n';
    }
    for (const scenario::RunFailure& f : result.failures) {
        std::cerr << "twinsim: run failed: scenario " << f.scenario << ", replication " << f.replication << ": "
                  << f.message << '\n';
    }
    if (shard) {
        std::cout << "shard " << options.shard << ": " << result.progress.runs_total
                  << (result.progress.runs_total == 1 ? " run" : " runs")
                  << "; merge the shards with: twinsim merge SHARD... -o OUT\n";
    } else {
        print_kpis(std::cout, result.kpis);
    }
    std::cout << "results: " << result.path.string() << '\n';
    return result.failures.empty() ? exit_valid : exit_invalid;
}

/// A whole number written in decimal digits only, in [low, high]: CLI11 would
/// read "-1" as 2^64 - 1 for an unsigned option, and print a 309-digit bound.
CLI::Validator whole_number(std::uint64_t low, std::uint64_t high, std::string what) {
    return CLI::Validator(
        [low, high, what](std::string& text) -> std::string {
            const bool digits = !text.empty() && text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos;
            std::uint64_t value = 0;
            bool ok = digits;
            for (const char c : digits ? text : std::string()) {
                const auto d = static_cast<std::uint64_t>(c - '0');
                if (value > (UINT64_MAX - d) / 10) ok = false;
                value = value * 10 + d;
            }
            if (ok && value >= low && value <= high) return {};
            return "must be " + what + " (got \"" + excerpt(text) + "\")";
        },
        "", "whole_number");
}

}  // namespace

Command add_run_command(CLI::App& app, const scenario::ModelRegistry& behaviours) {
    auto options = std::make_shared<RunCommandOptions>();
    options->behaviours = &behaviours;
    CLI::App* command = app.add_subcommand(
        "run",
        "Run one or more scenario files (every sweep point and replication of each, in parallel) on their base "
        "graphs with the built-in behaviours (see 'twinsim behaviours'), write the results to one HDF5 file and print the KPIs");
    command->add_option("-o,--output", options->out,
                        "The results file to write (default: <first scenario file's stem>.h5 in the current folder); "
                        "written to a temporary name and renamed once complete");
    command->add_option("--threads", options->threads,
                        "Worker threads, at most " + std::to_string(scenario::limits::max_threads) +
                            " (default 0: every core)")
        ->check(whole_number(0, scenario::limits::max_threads,
                             "a whole number from 0 (every core) to " + std::to_string(scenario::limits::max_threads) +
                                 " (the limit on threads)"));
    options->replications_option =
        command
            ->add_option("--replications", options->replications,
                         "Replications of each scenario (overrides the file), 1 to " +
                             std::to_string(scenario::limits::max_replications))
            ->check(whole_number(1, scenario::limits::max_replications,
                                 "a positive integer, at most " + std::to_string(scenario::limits::max_replications) +
                                     " (the limit on replications)"));
    options->seed_option =
        command->add_option("--seed", options->seed, "The root of every random stream (overrides the file), 0 to 2^64 - 1")
            ->check(whole_number(0, UINT64_MAX, "a whole number from 0 to 18446744073709551615 (negative seeds do not exist)"));
    command->add_flag("-q,--quiet", options->quiet,
                      "No progress bar and no summary line (the KPI table and errors are still printed)");
    command->add_option("--models", options->models,
                        "DTDL files or folders to add before the base graph, with the scenario's base_models, as one "
                        "model batch (repeatable)")
        ->allow_extra_args(false);
    command->add_option("--shard", options->shard,
                        "K/N: run only shard K of N of the job (task i of the job is in shard (i mod N) + 1) and "
                        "write a results shard (default name: <stem>-shard-K-of-N.h5); run the N shards in any "
                        "processes or machines, then combine them with 'twinsim merge' into the file one process "
                        "would have written");
    command->add_flag("--resume", options->resume,
                      "Run the job resumably: batches of runs are written durably under <output>.parts/ as they "
                      "finish and merged into the output at the end; the same command after a kill (even kill -9), "
                      "a crash or Ctrl-C reuses the finished batches and runs only the rest, and writes the file an "
                      "uninterrupted run writes (all datasets and attributes equal but `created`). A damaged batch "
                      "file is reported and run again, never reused. Use it from the first run on");
    command->add_option("--batch-size", options->batch_size,
                        "With --resume or --dask: runs per batch (default 0: max(16, runs / 64)); the results do "
                        "not depend on it, but a rerun must use the same value to reuse the batches")
        ->check(whole_number(0, 1u << 30, "a whole number from 0 (auto) to 1073741824"));
    command->add_option("--dask", options->dask,
                        "tcp://HOST:8786: run the job on the Dask cluster of that scheduler (Python's "
                        "twinsim.distributed, run with $TWINSIM_PYTHON or python3; needs pip install twinsim[dask]): "
                        "batches of runs go to the workers, the base graph travels once per worker, a lost worker's "
                        "batches run again, and the file written equals this program's (docs/distributed.md)");
    command->add_option("--precision", options->precision,
                        "KPI=H or KPI=P% (repeatable; KPI@SELECTION=... for one selection): run rounds of the job with "
                        "more replications until the 95 % CI half-width of every such KPI of every scenario is at most "
                        "H (the KPI's unit) or P % of its mean, or --max-replications is reached; each scenario starts "
                        "at its replications (at least 2); the counts and results are the same at any thread count "
                        "(docs/runner.md, \"Sequential replications\")")
        ->allow_extra_args(false);
    options->max_replications_option =
        command->add_option("--max-replications", options->max_replications,
                            "With --precision, --select or --feasible: the most replications a scenario gets (default 1000)")
            ->check(whole_number(2, scenario::limits::max_replications,
                                 "a whole number from 2 to " + std::to_string(scenario::limits::max_replications)));
    command->add_option("--select", options->select,
                        "KPI[@SELECTION]: pick the scenario with the highest mean of KPI (--minimize: lowest) with Kim "
                        "and Nelson's fully sequential procedure: P(correct selection) >= 1 - --alpha when the best is "
                        "better by at least --delta; writes no results file (docs/selection.md)");
    command->add_option("--delta", options->delta, "With --select: the indifference zone, in the KPI's unit (> 0)");
    command->add_flag("--minimize", options->minimize, "With --select: the lowest mean is best");
    command->add_option("--feasible", options->feasible,
                        "KPI>=X or KPI<=X: the first scenario, in the order given (cheapest first, e.g. a sweep over "
                        "agents), whose mean of KPI meets X with confidence 1 - --alpha; writes no results file "
                        "(docs/selection.md)");
    command->add_option("--alpha", options->alpha, "With --select or --feasible: 1 - the confidence (default 0.05)");
    command->add_option("--first-stage", options->first_stage,
                        "With --select or --feasible: replications of every scenario before any decision (default 10)");
    command->add_option("--store", options->store,
                        "The live store whose recorded history a scenario's replay: section reads (docs/replay.md); "
                        "replaces replay.source, and the store's graph at the scenario's start is the base graph");
    command->add_flag("--allow-undefined-extensions", options->allow_undefined_extensions,
                      "Accept extension contexts, types and members that no known extension defines");
    command->add_flag("--allow-outside-paths", options->allow_outside_paths,
                      "Let a scenario's base: and base_models: name absolute paths and paths outside the scenario "
                      "file's folder (by default they must stay inside it, so a scenario from someone else reads "
                      "nothing else); they must still be regular files (or folders of models)");
    command->add_option("SCENARIO", options->scenario_files,
                        "The scenario files (.yaml, .yml or .json); their scenarios form one job, numbered in order "
                        "(results order); names must be unique. Replication r of every scenario draws from the random stream "
                        "(seed, r) whatever the scenario's position or name (common random numbers)")
        ->required();
    command->footer(
        "On a terminal a progress bar shows runs done, simulated time, events per second and elapsed time; "
        "otherwise one summary line is printed at the end (on stderr). The KPI table (mean and 95 % confidence "
        "interval across replications) goes to stdout.\n\n"
        "Exit status: 0 every run succeeded; 1 at least one run failed (each failure is printed; the results file "
        "is written, the failed runs' cells are NaN and they are left out of the summaries); 2 bad usage, a missing "
        "or invalid scenario file, base graph or model (the message names the file, line and field), or a results "
        "file that cannot be created or written (no file is left), or a scenario beyond a limit (docs/scenario-format.md, "
        "\"Limits\": replications, design points, runs, steps, samples, expected events, threads) or a base: or "
        "base_models: path outside the scenario's folder (see --allow-outside-paths); 3 an internal error (a bug in "
        "twinsim, never the input's fault: please report it); 130 interrupted by "
        "Ctrl-C, 143 stopped by SIGTERM (no results file is left either way; a temporary file left by a killed "
        "process is removed by the next run to the same output path).");
    return {command, [options] { return run_command(*options); }};
}

}  // namespace twinsim::cli
