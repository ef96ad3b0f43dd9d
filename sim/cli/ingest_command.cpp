// `twinsim ingest`: load a graph (as `import` does) or open a durable store,
// ingest property updates from NDJSON messages, long or wide CSV through an
// optional mapping file, report every bad row, and write the resulting graph
// out (or leave it committed in the store).

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <cstdint>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "graph_input.hpp"
#include "model_input.hpp"
#include "models/rules/live_rules.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/live/ingest/ingest.hpp"
#include "twinsim/live/ingest/message_ids.hpp"
#include "twinsim/live/ingest/mqtt_source.hpp"
#include "twinsim/common/time.hpp"

namespace twinsim::cli {
namespace {

struct IngestCommandOptions {
    GraphInputOptions input;
    std::vector<std::string> files;
    std::string mapping;
    std::string format = "auto";
    std::string policy;  ///< "" = reject for files, dead-letter for --mqtt
    std::string dead_letter;
    std::string order = "arrival";
    std::size_t dedup_window = live::ingest::default_dedup_window;
    std::string dedup_age = "P7D";
    std::string output;
    std::string store;  ///< --store DIR: ingest into the durable store (journaled, durable before the report)
    bool json = false;
    // --mqtt: subscribe to a broker instead of reading files.
    std::string mqtt;
    std::string client_id = "twinsim-ingest";
    std::vector<std::string> topics;
    std::size_t max_messages = 0;
    double idle_seconds = 0;
    std::size_t batch_messages = 20'000;
};

static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");
/// Set by SIGINT / SIGTERM while `ingest --mqtt` runs: stop cleanly.
std::atomic<bool> mqtt_stop{false};
extern "C" void on_mqtt_stop(int) { mqtt_stop.store(true); }

/// Installs on_mqtt_stop for SIGINT and SIGTERM for its lifetime.
class MqttStopSignals {
public:
    MqttStopSignals() {
        mqtt_stop.store(false);
        struct sigaction action {};
        action.sa_handler = on_mqtt_stop;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;
        for (std::size_t i = 0; i < 2; ++i) installed_[i] = ::sigaction(signals_[i], &action, &previous_[i]) == 0;
    }
    ~MqttStopSignals() {
        for (std::size_t i = 0; i < 2; ++i)
            if (installed_[i]) ::sigaction(signals_[i], &previous_[i], nullptr);
    }
    MqttStopSignals(const MqttStopSignals&) = delete;
    MqttStopSignals& operator=(const MqttStopSignals&) = delete;

private:
    static constexpr int signals_[2] = {SIGINT, SIGTERM};
    struct sigaction previous_[2] {};
    bool installed_[2] = {false, false};
};

nlohmann::ordered_json report_json(const live::ingest::IngestReport& r) {
    nlohmann::ordered_json out;
    out["applied"] = r.applied;
    out["rows"] = r.rows;
    out["updates"] = r.updates;
    out["twins"] = r.twins;
    out["duplicates"] = r.duplicates;
    out["stale"] = r.stale;
    nlohmann::ordered_json& bad = out["bad_rows"] = nlohmann::ordered_json::array();
    for (const live::ingest::BadRow& b : r.bad_rows) {
        nlohmann::ordered_json row;
        row["source"] = b.source;
        row["line"] = b.line;
        row["field"] = b.field;
        row["reason"] = b.reason;
        bad.push_back(std::move(row));
    }
    return out;
}

int run_ingest(const IngestCommandOptions& options) {
    live::ingest::IngestOptions ingest;
    if (options.format == "ndjson") ingest.format = live::ingest::Format::ndjson;
    else if (options.format == "long-csv") ingest.format = live::ingest::Format::long_csv;
    else if (options.format == "wide-csv") ingest.format = live::ingest::Format::wide_csv;
    const bool mqtt = !options.mqtt.empty();
    if (mqtt && !options.files.empty()) {
        std::cerr << "twinsim: error: give input FILEs or --mqtt, not both\n";
        return exit_usage;
    }
    if (!mqtt && options.files.empty()) {
        std::cerr << "twinsim: error: give input FILEs (or --mqtt mqtt://HOST:PORT)\n";
        return exit_usage;
    }
    if (mqtt && options.policy == "reject") {
        std::cerr << "twinsim: error: --mqtt takes messages in batches as they come: bad ones are dead-lettered "
                     "(--policy dead-letter), never a reason to reject the others\n";
        return exit_usage;
    }
    std::optional<live::ingest::MqttUrl> broker;
    if (mqtt) {
        try {
            broker = live::ingest::parse_mqtt_url(options.mqtt);
        } catch (const live::ingest::MappingError& e) {
            std::cerr << "twinsim: error: " << e.what() << '\n';
            return exit_usage;
        }
        if (options.mapping.empty()) {
            std::cerr << "twinsim: error: --mqtt needs --mapping FILE (its mappings' topics say what to subscribe to)\n";
            return exit_usage;
        }
    }
    std::string dead_letter = options.dead_letter;
    if (mqtt && dead_letter.empty() && !options.store.empty())
        dead_letter = (std::filesystem::path(options.store) / "dead-letter.ndjson").string();
    ingest.policy = options.policy == "dead-letter" || mqtt ? live::ingest::BadRowPolicy::dead_letter
                                                            : live::ingest::BadRowPolicy::reject;
    ingest.order = options.order == "source-time" ? live::ingest::OrderPolicy::source_time : live::ingest::OrderPolicy::arrival;
    ingest.dedup_window = options.dedup_window;
    if (ingest.policy == live::ingest::BadRowPolicy::dead_letter && dead_letter.empty()) {
        std::cerr << "twinsim: error: " << (mqtt ? "--mqtt without --store" : "--policy dead-letter")
                  << " needs --dead-letter FILE\n";
        return exit_usage;
    }
    ingest.dead_letter = dead_letter;

    if (options.store.empty() && options.input.file.empty()) {
        std::cerr << "twinsim: error: give the graph: --graph FILE.ndjson (with --models as needed) or --store DIR\n";
        return exit_usage;
    }
    if (!options.store.empty() && (!options.input.file.empty() || !options.input.model_paths.empty())) {
        std::cerr << "twinsim: error: --graph and --models cannot be used with --store (the store holds its graph)\n";
        return exit_usage;
    }
    LoadedGraph loaded;
    if (const auto status = load_command_graph(options.input, options.store, loaded)) return *status;
    start_saved_routes(loaded);  // the ingested changes go along the store's routes
    std::unique_ptr<live::ingest::Mapping> mapping;
    try {
        if (!options.mapping.empty())
            mapping = std::make_unique<live::ingest::Mapping>(
                live::ingest::Mapping::load_file(options.mapping, *loaded.target().snapshot().models()));
    } catch (const live::ingest::MappingError& e) {
        std::cerr << "twinsim: invalid mapping: " << e.what() << '\n';
        return exit_invalid;
    }
    // A store remembers the message ids it took (DIR/message-ids.db), so a
    // duplicate is dropped across runs too.
    std::unique_ptr<live::ingest::MessageIds> remembered;
    if (!options.store.empty()) {
        std::string why;
        const auto age = duration_seconds(options.dedup_age, &why);
        if (!age || *age < 0) {
            std::cerr << "twinsim: error: --dedup-age: expected a duration (ISO 8601 like P7D or PT12H, or seconds), found \""
                      << options.dedup_age << "\"" << (why.empty() ? "" : ": " + why) << '\n';
            return exit_usage;
        }
        try {
            remembered = std::make_unique<live::ingest::MessageIds>(
                live::ingest::message_ids_file(options.store),
                live::ingest::MessageIdWindow{options.dedup_window, std::chrono::seconds(static_cast<std::int64_t>(*age))});
        } catch (const IoError& e) {
            std::cerr << "twinsim: error: " << e.what() << '\n';
            return exit_usage;
        }
        ingest.remembered = remembered.get();
    }
    std::vector<std::filesystem::path> files(options.files.begin(), options.files.end());
    // The live rules a store keeps (twinsim rules add) run on what is ingested.
    std::unique_ptr<models::LiveRules> rules;
    if (!options.store.empty() && !models::kept_rule_sets(options.store).empty()) {
        try {
            rules = std::make_unique<models::LiveRules>(
                loaded.target(), models::LiveRulesOptions{.dead_letter = std::filesystem::path(options.store) /
                                                                          "rules-dead-letter.ndjson",
                                                          .directory = options.store});
        } catch (const models::RuleFileError& e) {
            std::cerr << "twinsim: invalid rules kept in the store: " << e.what() << '\n';
            return exit_invalid;
        }
    }
    live::ingest::Ingestor ingestor(loaded.target(), mapping.get(), ingest);
    live::ingest::IngestReport report;
    std::optional<live::ingest::MqttSourceStats> mqtt_stats;
    try {
        if (mqtt) {
            live::ingest::MqttSourceOptions source;
            source.broker = *broker;
            source.client_id = options.client_id;
            source.topics = live::ingest::subscription_topics(*mapping, options.topics);
            if (source.topics.empty()) {
                std::cerr << "twinsim: error: nothing to subscribe to: no mapping has a 'topic' and no --topic was given\n";
                return exit_usage;
            }
            source.max_messages = options.max_messages;
            source.idle = std::chrono::milliseconds(static_cast<std::int64_t>(options.idle_seconds * 1000));
            source.batch_messages = std::max<std::size_t>(1, options.batch_messages);
            source.stop = &mqtt_stop;
            const MqttStopSignals signals;
            mqtt_stats = live::ingest::run_mqtt_ingest(ingestor, source, [](const live::ingest::IngestReport& batch) {
                for (const live::ingest::BadRow& b : batch.bad_rows) std::cerr << b.to_string() << '\n';
            });
            report = std::move(mqtt_stats->totals);
        } else {
            report = ingestor.ingest_files(files);
        }
    } catch (const live::ingest::MappingError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return exit_invalid;
    } catch (const live::ingest::MqttError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return exit_usage;
    }
    models::LiveRulesStatistics rule_stats;
    if (rules) {
        rules->drain();
        rule_stats = rules->statistics();
        rules.reset();
    }
    if (!mqtt)
        for (const live::ingest::BadRow& b : report.bad_rows) std::cerr << b.to_string() << '\n';
    std::optional<live::RouterStats> routed;
    if (loaded.events) {  // deliver what the ingest queued before reporting
        loaded.events->close();
        routed = loaded.events->router().stats();
    }
    if (report.applied && !options.output.empty()) graph::export_ndjson(loaded.target().snapshot(), std::filesystem::path(options.output));
    if (options.json) {
        nlohmann::ordered_json out = report_json(report);
        if (mqtt_stats) {
            out["mqtt"] = {{"broker", broker->to_string()}, {"messages", mqtt_stats->messages},
                           {"batches", mqtt_stats->batches}, {"connects", mqtt_stats->connects},
                           {"disconnects", mqtt_stats->disconnects}, {"last_error", mqtt_stats->last_error}};
        }
        print_json(std::cout, out);
    } else {
        if (mqtt_stats)
            std::cout << "received " << mqtt_stats->messages << " messages from " << broker->to_string() << " in "
                      << mqtt_stats->batches << " batches (" << mqtt_stats->connects << " connections, "
                      << mqtt_stats->disconnects << " lost)"
                      << (mqtt_stats->last_error.empty() ? "" : "; last broker error: " + mqtt_stats->last_error) << '\n';
        std::cout << (report.applied ? "ingested " : "rejected ") << report.rows << (report.rows == 1 ? " row" : " rows")
                  << ": " << report.updates << " property updates on " << report.twins << " twins, " << report.duplicates
                  << " duplicates dropped, " << report.stale << " out-of-order updates dropped, " << report.bad_rows.size()
                  << " bad rows\n";
        if (!report.bad_rows.empty()) {
            if (report.applied || mqtt) std::cout << "bad rows written to " << dead_letter << '\n';
            else std::cout << "nothing was applied (policy reject)\n";
        }
        if (report.applied && !options.output.empty()) std::cout << "wrote " << options.output << '\n';
        if (report.applied && !options.store.empty() && report.updates > 0)
            std::cout << "committed to the store " << options.store << '\n';
        if (routed)
            std::cout << "routed " << routed->published << " events: " << routed->delivered << " deliveries, "
                      << routed->dead_lettered + routed->dropped << " dead-lettered\n";
        if (rule_stats.batches > 0)
            std::cout << "live rules: " << rule_stats.firings << " firings committed, " << rule_stats.failures
                      << " failures" << (rule_stats.failures > 0 ? " (see " + options.store + "/rules-dead-letter.ndjson)" : "")
                      << '\n';
    }
    return report.bad_rows.empty() ? exit_valid : exit_invalid;
}

}  // namespace

Command add_ingest_command(CLI::App& app) {
    auto options = std::make_shared<IngestCommandOptions>();
    CLI::App* command = app.add_subcommand(
        "ingest",
        "Apply property updates from NDJSON device messages, long CSV (time, twin, property, value) or wide CSV "
        "(time plus one column per twin.property) to a twin graph, as one batch; see docs/ingest.md");
    add_graph_input_options(*command, options->input, "--graph", /*required=*/false);  // or --store
    command->add_option("FILE", options->files, "Input files: .ndjson/.jsonl messages, .csv long or wide (or --mqtt)");
    command->add_option("--mapping", options->mapping, "Mapping file (YAML or JSON): needed for messages and mapped columns");
    command->add_option("--format", options->format, "Input format (default: from the file name and CSV header)")
        ->check(CLI::IsMember({"auto", "ndjson", "long-csv", "wide-csv"}));
    command->add_option("--policy", options->policy,
                        "Bad rows: reject (nothing applied; the default for files) or dead-letter (good rows applied; "
                        "always with --mqtt)")
        ->check(CLI::IsMember({"reject", "dead-letter"}));
    command->add_option("--dead-letter", options->dead_letter, "NDJSON file the bad rows are appended to (policy dead-letter)");
    command->add_option("--order", options->order,
                        "Out-of-order updates: arrival (last read wins, as ADT) or source-time (older sourceTime dropped)")
        ->check(CLI::IsMember({"arrival", "source-time"}));
    command->add_option("--dedup-window", options->dedup_window,
                        "How many message ids are remembered to drop duplicates (with --store: kept in DIR/message-ids.db "
                        "across runs)")
        ->capture_default_str();
    command->add_option("--dedup-age", options->dedup_age,
                        "With --store: message ids older than this (ISO 8601 duration or seconds) are forgotten")
        ->capture_default_str();
    command->add_option("--output", options->output, "Write the resulting graph here (ADT import NDJSON)");
    command->add_option("--store", options->store,
                        "Ingest into the durable store in directory DIR (docs/store.md) instead of a --graph file: the "
                        "batch is journaled and durable before the report is printed");
    command->add_option("--mqtt", options->mqtt,
                        "Subscribe to the broker mqtt://HOST[:PORT] (QoS 1, persistent session) to the topics of the "
                        "mapping's 'topic' patterns and ingest what arrives in batches until SIGINT/SIGTERM, "
                        "--max-messages or --idle; bad messages go to --dead-letter (default DIR/dead-letter.ndjson "
                        "with --store)");
    command->add_option("--client-id", options->client_id,
                        "With --mqtt: the client id of the persistent session (the broker keeps its QoS 1 messages "
                        "while it is away)")
        ->capture_default_str();
    command->add_option("--topic", options->topics, "With --mqtt: also subscribe to this topic filter (repeatable)");
    command->add_option("--max-messages", options->max_messages,
                        "With --mqtt: stop once this many messages were received (all received are applied)");
    command->add_option("--idle", options->idle_seconds, "With --mqtt: stop after this many seconds without a message")
        ->check(CLI::NonNegativeNumber);
    command->add_option("--batch", options->batch_messages,
                        "With --mqtt: apply at most this many messages as one batch (also every 20 ms)")
        ->capture_default_str();
    command->add_flag("--json", options->json,
                      "Print one JSON object: applied, rows, updates, twins, duplicates, stale, bad_rows [{source, line, field, reason}]");
    command->footer("Exit status: 0 every row applied (duplicates and out-of-order drops are not errors); 1 bad rows "
                    "(reject: nothing applied; dead-letter: good rows applied) or an invalid graph or mapping; 2 usage "
                    "error or unreadable input; 3 internal error.");
    return {command, [options] { return run_ingest(*options); }};
}

}  // namespace twinsim::cli
