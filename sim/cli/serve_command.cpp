// `twinsim serve`: the Azure Digital Twins data-plane REST API over a durable
// store (sim/service, docs/service.md). SIGTERM and SIGINT stop it gracefully:
// no new connections, requests in flight finish, the store is closed cleanly.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "model_input.hpp"
#include "twinsim/live/ingest/ingest.hpp"
#include "twinsim/live/ingest/mapping.hpp"
#include "twinsim/live/ingest/message_ids.hpp"
#include "twinsim/live/ingest/mqtt_source.hpp"
#include "scenario_commands.hpp"
#include "serve_commands.hpp"
#include "twinsim/live/saved_routes.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/service/access.hpp"
#include "twinsim/service/http_server.hpp"
#include "twinsim/service/rest_api.hpp"
#include "twinsim/service/webhook.hpp"

namespace twinsim::cli {
namespace {

struct ServeOptions {
    std::string store;
    std::string listen = "127.0.0.1:8443";
    std::string tls_cert;
    std::string tls_key;
    std::string durability = "group";
    std::string auth;
    std::string import_dir;
    std::string results_dir;
    std::vector<std::string> webhooks;  ///< NAME=URL
    std::string webhook_ca;
    std::size_t threads = 32;
    std::size_t backlog = 64;
    std::size_t max_body = 8u << 20;
    int read_timeout = 10;
    bool record_telemetry = false;
    std::string explorer;  ///< the explorer's folder; empty: found (below); "none": not served
    // --mqtt: ingest device messages from a broker while serving (docs/ingest.md "MQTT").
    std::string mqtt;
    std::string mapping;
    std::string mqtt_client_id = "twinsim-serve";
    std::vector<std::string> mqtt_topics;
    std::string dead_letter;  ///< default DIR/dead-letter.ndjson
};

/// `serve --mqtt`: the ingestion of a broker's device messages into the
/// store's graph on a thread of its own, as `twinsim ingest --mqtt` does
/// (same mappings, QoS 1 persistent session, reconnect with backoff, bad
/// messages dead-lettered), until stop().
class MqttIngestion {
public:
    /// Throws MappingError (the mapping file, nothing to subscribe to),
    /// IoError (the mapping or message-id file unreadable).
    MqttIngestion(live::Store& store, const ServeOptions& o, live::ingest::MqttUrl broker) {
        mapping_ = std::make_unique<live::ingest::Mapping>(
            live::ingest::Mapping::load_file(o.mapping, *store.graph().snapshot().models()));
        source_.broker = std::move(broker);
        source_.client_id = o.mqtt_client_id;
        source_.topics = live::ingest::subscription_topics(*mapping_, o.mqtt_topics);
        if (source_.topics.empty())
            throw live::ingest::MappingError(o.mapping, 0, "topic",
                                             "nothing to subscribe to: no mapping has a 'topic' and no --mqtt-topic was given");
        source_.stop = &stop_;
        dead_letter_ = o.dead_letter.empty() ? store.directory() / "dead-letter.ndjson" : std::filesystem::path(o.dead_letter);
        remembered_ = std::make_unique<live::ingest::MessageIds>(live::ingest::message_ids_file(store.directory()));
        live::ingest::IngestOptions ingest;
        ingest.policy = live::ingest::BadRowPolicy::dead_letter;
        ingest.dead_letter = dead_letter_;
        ingest.remembered = remembered_.get();
        ingestor_ = std::make_unique<live::ingest::Ingestor>(store.graph(), mapping_.get(), ingest);
    }
    MqttIngestion(const MqttIngestion&) = delete;
    MqttIngestion& operator=(const MqttIngestion&) = delete;
    ~MqttIngestion() { stop(); }

    void start() {
        thread_ = std::thread([this] {
            try {
                stats_ = live::ingest::run_mqtt_ingest(*ingestor_, source_, [this](const live::ingest::IngestReport& batch) {
                    for (const live::ingest::BadRow& b : batch.bad_rows)
                        std::cerr << "twinsim serve: mqtt: dead-lettered to " << dead_letter_.string() << ": "
                                  << b.to_string() << '\n';
                });
            } catch (const std::exception& e) {  // the service goes on without MQTT
                std::cerr << "twinsim serve: mqtt: ingestion stopped: " << e.what() << std::endl;
                failed_ = true;
            }
        });
    }
    /// Closes the connection, applies what was received, joins the thread.
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    [[nodiscard]] std::string summary() const {
        return "received " + std::to_string(stats_.messages) + " MQTT messages from " + source_.broker.to_string() + " (" +
               std::to_string(stats_.totals.updates) + " property updates, " + std::to_string(stats_.totals.bad_rows.size()) +
               " dead-lettered, " + std::to_string(stats_.connects) + " connections, " +
               std::to_string(stats_.disconnects) + " lost)" + (failed_ ? " before it failed" : "");
    }

private:
    std::unique_ptr<live::ingest::Mapping> mapping_;
    std::unique_ptr<live::ingest::MessageIds> remembered_;
    std::unique_ptr<live::ingest::Ingestor> ingestor_;
    live::ingest::MqttSourceOptions source_;
    std::filesystem::path dead_letter_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    live::ingest::MqttSourceStats stats_;
    bool failed_ = false;
};

/// The explorer's folder when --explorer is not given: beside an installed
/// `twinsim` (PREFIX/bin/twinsim -> PREFIX/share/twinsim/explorer), else the
/// source tree this binary was built from.
std::filesystem::path default_explorer_folder() {
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const std::filesystem::path installed = exe.parent_path().parent_path() / "share" / "twinsim" / "explorer";
        if (std::filesystem::is_regular_file(installed / "index.html", ec)) return installed;
    }
    return TWINSIM_EXPLORER_SOURCE_DIR;
}

/// Blocks SIGINT and SIGTERM in this thread and every thread it starts
/// later, so that only the waiter below receives them.
sigset_t block_stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return set;
}

int run_serve(const ServeOptions& o) {
    const std::size_t colon = o.listen.rfind(':');
    int port = -1;
    try {
        if (colon != std::string::npos) port = std::stoi(o.listen.substr(colon + 1));
    } catch (const std::exception&) {
        port = -1;
    }
    if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
        std::cerr << "twinsim: error: --listen takes HOST:PORT (PORT 0 picks a free one), found \"" << o.listen << "\"\n";
        return exit_usage;
    }
    std::optional<service::AccessPolicy> access;
    if (!o.auth.empty()) {
        try {
            access = service::AccessPolicy::load(o.auth);
        } catch (const service::AccessConfigError& e) {
            std::cerr << "twinsim: error: invalid --auth file: " << e.what() << '\n';
            return exit_invalid;
        }
    }
    std::optional<live::ingest::MqttUrl> broker;
    if (!o.mqtt.empty()) {
        try {
            broker = live::ingest::parse_mqtt_url(o.mqtt);
        } catch (const live::ingest::MappingError& e) {
            std::cerr << "twinsim: error: " << e.what() << '\n';
            return exit_usage;
        }
        if (o.mapping.empty()) {
            std::cerr << "twinsim: error: --mqtt needs --mapping FILE (its mappings' topics say what to subscribe to)\n";
            return exit_usage;
        }
    } else if (!o.mapping.empty() || !o.mqtt_topics.empty() || !o.dead_letter.empty()) {
        std::cerr << "twinsim: error: --mapping, --mqtt-topic and --dead-letter go with --mqtt mqtt://HOST:PORT\n";
        return exit_usage;
    }
    const sigset_t stop_signals = block_stop_signals();

    live::StoreOptions store_options;
    store_options.durability = o.durability == "per-batch" ? live::Durability::per_batch : live::Durability::group;
    store_options.history.telemetry = o.record_telemetry;
    std::unique_ptr<live::Store> store;
    try {
        store = live::open_store(o.store, store_options);
    } catch (const live::StoreError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return dynamic_cast<const live::StoreCorruptError*>(&e) != nullptr ? exit_invalid : exit_usage;
    }
    auto events = std::make_unique<live::StoreEvents>(store->graph(), o.store);
    // --webhook NAME=URL is saved with the store's routes (kind webhook), so
    // the endpoint and the routes to it outlive this process; giving it again
    // on a later start with the same URL changes nothing.
    for (const std::string& hook : o.webhooks) {
        const std::size_t eq = hook.find('=');
        try {
            if (eq == std::string::npos || eq == 0) throw live::LiveError("--webhook takes NAME=URL, found \"" + hook + "\"");
            live::SavedFileEndpoint endpoint;
            endpoint.kind = "webhook";
            endpoint.name = hook.substr(0, eq);
            endpoint.url = hook.substr(eq + 1);
            endpoint.path = o.webhook_ca.empty() ? std::filesystem::path() : std::filesystem::absolute(o.webhook_ca);
            const auto& saved = events->saved().saved().endpoints;
            const auto same = std::find_if(saved.begin(), saved.end(), [&](const live::SavedFileEndpoint& e) { return e.name == endpoint.name; });
            if (same == saved.end()) {
                events->saved().add_file_endpoint(endpoint);
            } else if (same->kind != "webhook" || same->url != endpoint.url || same->path != endpoint.path) {
                throw live::LiveError("--webhook " + endpoint.name + ": the store already has an endpoint " + endpoint.name +
                                      " (" + same->kind + (same->url.empty() ? std::string() : " " + same->url) +
                                      "); remove it first (DELETE /endpoints/" + endpoint.name +
                                      " or twinsim routes remove-endpoint) or use another name");
            }
        } catch (const twinsim::Error& e) {
            std::cerr << "twinsim: error: " << e.what() << '\n';
            events->close();
            store->close();
            return exit_usage;
        }
    }
    service::RequestLimits limits;
    limits.max_body_bytes = o.max_body;
    limits.import_directory = o.import_dir;
    if (!o.results_dir.empty()) {
        std::error_code ec;
        if (!std::filesystem::is_directory(o.results_dir, ec)) {
            std::cerr << "twinsim: error: --results " << o.results_dir << " is not a directory\n";
            events->close();
            store->close();
            return exit_usage;
        }
        limits.results_directory = o.results_dir;
    }
    limits.webhook_ca = o.webhook_ca.empty() ? std::filesystem::path() : std::filesystem::absolute(o.webhook_ca);
    service::RestApi api(*store, events.get(), limits, access ? &*access : nullptr);
    service::ServerOptions server_options;
    server_options.host = o.listen.substr(0, colon);
    server_options.port = port;
    server_options.tls_cert = o.tls_cert;
    server_options.tls_key = o.tls_key;
    server_options.threads = o.threads;
    server_options.backlog = o.backlog;
    server_options.read_timeout = std::chrono::seconds(o.read_timeout);
    server_options.write_timeout = std::chrono::seconds(o.read_timeout);
    if (o.explorer != "none") {
        server_options.explorer_dir = o.explorer.empty() ? default_explorer_folder() : std::filesystem::path(o.explorer);
        std::error_code ec;
        if (!std::filesystem::is_regular_file(server_options.explorer_dir / "index.html", ec)) {
            std::cerr << "twinsim: error: --explorer " << server_options.explorer_dir.string()
                      << " has no index.html (give the folder of the explorer, or none)\n";
            events->close();
            store->close();
            return exit_usage;
        }
    }
    std::unique_ptr<MqttIngestion> mqtt;
    if (broker) {
        try {
            mqtt = std::make_unique<MqttIngestion>(*store, o, *broker);
        } catch (const live::ingest::MappingError& e) {
            std::cerr << "twinsim: invalid mapping: " << e.what() << '\n';
            events->close();
            store->close();
            return exit_invalid;
        } catch (const IoError& e) {
            std::cerr << "twinsim: error: " << e.what() << '\n';
            events->close();
            store->close();
            return exit_usage;
        }
    }
    std::unique_ptr<service::HttpServer> server;
    try {
        server = std::make_unique<service::HttpServer>(api, server_options);
    } catch (const service::ServerError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        events->close();
        store->close();
        return exit_usage;
    }

    std::atomic<bool> done{false};
    std::atomic<int> received{0};
    std::thread waiter([&] {
        const timespec tick{0, 200'000'000};
        while (!done) {
            const int signal = sigtimedwait(&stop_signals, nullptr, &tick);
            if (signal > 0) {
                received = signal;
                server->stop();
                return;
            }
        }
    });
    if (mqtt) mqtt->start();
    std::cout << "twinsim serve: listening on " << server->url() << " (store " << o.store << ")"
              << (broker ? ", ingesting MQTT from " + broker->to_string() : std::string()) << std::endl;
    int status = 0;
    try {
        server->run();
    } catch (const service::ServerError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        status = exit_invalid;
    }
    done = true;
    waiter.join();
    server.reset();  // every worker joined: no request is running
    if (mqtt) {  // what was received is applied before the store closes
        mqtt->stop();
        std::cout << "twinsim serve: " << mqtt->summary() << std::endl;
        mqtt.reset();
    }
    api.stop_jobs();  // a running import job is cancelled before the store closes
    events->close();
    store->close();
    if (received != 0) {
        std::cout << "twinsim serve: stopped by " << (received == SIGTERM ? "SIGTERM" : "SIGINT")
                  << "; the store is closed" << std::endl;
        return status == 0 ? 0 : status;
    }
    return status;
}

}  // namespace

Command add_serve_command(CLI::App& app) {
    auto options = std::make_shared<ServeOptions>();
    CLI::App* cmd = app.add_subcommand(
        "serve", "Serve the Azure Digital Twins data-plane REST API over a durable store (docs/service.md)");
    cmd->add_option("--store", options->store, "The store's directory (created when missing)")->required();
    cmd->add_option("--listen", options->listen, "HOST:PORT to listen on (PORT 0: any free port, printed at start)")
        ->capture_default_str();
    cmd->add_option("--tls-cert", options->tls_cert, "PEM certificate (chain) for https; needs --tls-key");
    cmd->add_option("--tls-key", options->tls_key, "PEM private key of --tls-cert");
    cmd->add_option("--auth", options->auth,
                    "Auth file (JSON): token keys (JWKS), audience, issuers, custom roles, assignments and scopes; "
                    "without it every request is allowed");
    cmd->add_option("--durability", options->durability,
                    "group: writes share disk syncs (faster); per-batch: each write synced alone")
        ->check(CLI::IsMember({"group", "per-batch"}))
        ->capture_default_str();
    cmd->add_option("--threads", options->threads, "Connections served at once (one thread each)")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    cmd->add_option("--backlog", options->backlog,
                    "Connections that may wait for a thread; beyond them 503 ServiceUnavailable and closed")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    cmd->add_option("--max-body", options->max_body, "Largest request body in bytes (413 beyond)")
        ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 30))
        ->capture_default_str();
    cmd->add_option("--read-timeout", options->read_timeout, "Seconds a client may stay silent mid-request")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    cmd->add_option("--import-dir", options->import_dir,
                    "Import jobs (PUT /jobs/imports/{id}) read their NDJSON input and write their log only inside "
                    "this directory; without it import jobs are refused");
    cmd->add_option("--results", options->results_dir,
                    "Directory of what-if results files (twinsim run -o) that GET /results and the explorer may read "
                    "(only the files directly inside it); without it /results answers 501");
    cmd->add_option("--webhook", options->webhooks,
                    "NAME=URL: an endpoint that POSTs routed events to URL as CloudEvents (retried, then "
                    "dead-lettered); event routes name it (repeatable; saved in the store's routes.json, so it and "
                    "the routes to it outlive the process)");
    cmd->add_option("--webhook-ca", options->webhook_ca, "PEM CAs that https webhooks' certificates are checked against");
    cmd->add_option("--explorer", options->explorer,
                    "Folder of the browser explorer served at /explorer (docs/explorer.md); default: the installed "
                    "or source copy; none: not served");
    cmd->add_option("--mqtt", options->mqtt,
                    "Also ingest device messages from the broker mqtt://HOST[:PORT] while serving, as `twinsim ingest "
                    "--mqtt` does: the topics of --mapping's 'topic' patterns, QoS 1, persistent session, reconnect with "
                    "backoff, bad messages dead-lettered (docs/ingest.md)");
    cmd->add_option("--mapping", options->mapping, "With --mqtt: the ingestion mapping file (YAML or JSON)");
    cmd->add_option("--mqtt-client-id", options->mqtt_client_id, "With --mqtt: the client id of the persistent session")
        ->capture_default_str();
    cmd->add_option("--mqtt-topic", options->mqtt_topics, "With --mqtt: also subscribe to this topic filter (repeatable)");
    cmd->add_option("--dead-letter", options->dead_letter,
                    "With --mqtt: NDJSON file bad messages are appended to (default DIR/dead-letter.ndjson)");
    cmd->add_flag("--record-telemetry", options->record_telemetry, "Record telemetry in the store's history");
    return {cmd, [options] { return run_serve(*options); }};
}

}  // namespace twinsim::cli
