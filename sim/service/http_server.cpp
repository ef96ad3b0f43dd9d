#include "twinsim/service/http_server.hpp"

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "twinsim/service/event_stream.hpp"
#include "twinsim/service/rest_api.hpp"

namespace twinsim::service {

namespace {

/// True on a thread that serves a connection the pool had no room for: its
/// requests are answered 503 and the connection closed.
thread_local bool overflow_connection = false;

/// httplib's task queue with a bound: `workers` threads serve connections
/// (a keep-alive connection holds its thread while open) and at most
/// `backlog` more wait for one. A connection beyond that is handed to a
/// short-lived thread that answers 503 ServiceUnavailable and closes it, so
/// a flood of connections gets a clear answer instead of an ever longer
/// wait, and the server keeps serving the connections it has.
class BoundedPool final : public httplib::TaskQueue {
public:
    BoundedPool(std::size_t workers, std::size_t backlog) : backlog_(backlog) {
        for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
    }
    BoundedPool(const BoundedPool&) = delete;
    BoundedPool& operator=(const BoundedPool&) = delete;
    ~BoundedPool() override { shutdown(); }

    void enqueue(std::function<void()> task) override {
        std::unique_lock lock(mutex_);
        if (queue_.size() >= backlog_ && idle_ == 0) {
            ++overflow_;
            std::thread([this, task = std::move(task)] {
                overflow_connection = true;
                task();
                std::lock_guard done(mutex_);
                --overflow_;
                changed_.notify_all();
            }).detach();
            return;
        }
        queue_.push_back(std::move(task));
        changed_.notify_all();
    }

    void shutdown() override {
        {
            std::unique_lock lock(mutex_);
            if (stopping_ && threads_.empty()) return;
            stopping_ = true;
            changed_.notify_all();
        }
        for (std::thread& t : threads_) t.join();
        threads_.clear();
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return overflow_ == 0; });
    }

private:
    void work() {
        for (;;) {
            std::function<void()> task;
            {
                std::unique_lock lock(mutex_);
                ++idle_;
                changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
                --idle_;
                if (queue_.empty()) return;  // stopping, nothing left
                task = std::move(queue_.front());
                queue_.pop_front();
            }
            task();
        }
    }

    std::size_t backlog_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<std::function<void()>> queue_;
    std::vector<std::thread> threads_;
    std::size_t idle_ = 0;
    std::size_t overflow_ = 0;
    bool stopping_ = false;
};

/// The explorer's static files (docs/explorer.md). `path` is the request
/// path after "/explorer/" (no query). Only names made of letters, digits,
/// '.', '-', '_' and '/' with no segment starting with '.' (so no "..", no
/// hidden files) are looked up, and only regular files that still lie inside
/// the folder once symbolic links are resolved, up to 16 MiB. Returns false
/// when there is no such file (the caller answers 404).
bool serve_explorer_file(const std::filesystem::path& folder, std::string_view path, httplib::Response& out) {
    namespace fs = std::filesystem;
    if (path.empty()) path = "index.html";
    if (path.size() > 256) return false;
    bool segment_start = true;
    for (const char c : path) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '-' || c == '_' || c == '/';
        if (!ok || (segment_start && (c == '.' || c == '/'))) return false;
        segment_start = c == '/';
    }
    if (segment_start) return false;  // a trailing '/'
    std::error_code ec;
    const fs::path root = fs::canonical(folder, ec);
    if (ec) return false;
    const fs::path file = fs::canonical(root / fs::path(std::string(path)), ec);
    if (ec || !fs::is_regular_file(file, ec)) return false;
    const std::string rel = file.lexically_relative(root).generic_string();
    if (rel.empty() || rel.starts_with("..")) return false;
    if (fs::file_size(file, ec) > (16u << 20) || ec) return false;
    std::ifstream in(file, std::ios::binary);
    if (!in) return false;
    std::ostringstream content;
    content << in.rdbuf();
    const std::string ext = file.extension().string();
    const char* type = ext == ".html"  ? "text/html; charset=utf-8"
                       : ext == ".js"  ? "text/javascript; charset=utf-8"
                       : ext == ".css" ? "text/css; charset=utf-8"
                       : ext == ".svg" ? "image/svg+xml"
                       : ext == ".json" ? "application/json; charset=utf-8"
                                        : "text/plain; charset=utf-8";
    out.status = 200;
    out.set_header("Cache-Control", "no-cache");
    out.set_header("X-Content-Type-Options", "nosniff");
    // Same origin only: the page talks to this server's API and nothing else.
    out.set_header("Content-Security-Policy",
                   "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                   "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    out.set_content(content.str(), type);
    return true;
}

/// Converts httplib's request into ours and back: the whole translation.
void serve_one(RestApi& api, const std::string& scheme, const std::string& fallback_host,
               const std::filesystem::path& explorer_dir, const std::shared_ptr<std::atomic<bool>>& stopping,
               const httplib::Request& in, httplib::Response& out) {
    if (overflow_connection) {
        const Response busy = error_response(
            {503, "ServiceUnavailable", "the server is serving as many connections as it has threads for (--threads); retry"});
        out.status = busy.status;
        for (const auto& [name, value] : busy.headers) out.set_header(name, value);
        out.set_header("Retry-After", "1");
        out.set_header("Connection", "close");
        out.set_content(busy.body, "application/json; charset=utf-8");
        return;
    }
    if (!explorer_dir.empty() && (in.method == "GET" || in.method == "HEAD") &&
        (in.path == "/explorer" || in.path.starts_with("/explorer/"))) {
        if (in.path == "/explorer") {
            out.status = 308;
            out.set_header("Location", "/explorer/");
            return;
        }
        if (serve_explorer_file(explorer_dir, std::string_view(in.path).substr(10), out)) return;
        const Response missing = error_response({404, "NotFound", "the explorer has no file " + in.path});
        out.status = missing.status;
        for (const auto& [name, value] : missing.headers) out.set_header(name, value);
        out.set_content(missing.body, "application/json; charset=utf-8");
        return;
    }
    Request request;
    request.method = in.method;
    request.target = in.target;
    request.headers.reserve(in.headers.size());
    for (const auto& [name, value] : in.headers) request.headers.emplace_back(name, value);
    request.body = in.body;
    const auto host = request.header("Host");
    request.base_url = scheme + "://" + (host && !host->empty() ? std::string(*host) : fallback_host);
    const Response response = api.handle(request);
    out.status = response.status;
    for (const auto& [name, value] : response.headers) out.set_header(name, value);
    if (response.stream) {
        // Server-sent events: frames as they come, a comment every second
        // when idle (so a closed client is noticed), until the client goes
        // or the server stops.
        out.set_header("Cache-Control", "no-store");
        auto subscription = response.stream;
        out.set_chunked_content_provider(
            "text/event-stream", [subscription, stopping](std::size_t, httplib::DataSink& sink) {
                if (stopping->load() || subscription->closed() || !sink.is_writable()) return false;
                std::string chunk;
                if (const std::uint64_t lost = subscription->take_lost(); lost > 0)
                    chunk += ": " + std::to_string(lost) + " events dropped: the client reads too slowly\n\n";
                for (const std::string& frame : subscription->take(std::chrono::milliseconds(1000))) chunk += frame;
                if (chunk.empty()) chunk = ": keep-alive\n\n";
                return sink.write(chunk.data(), chunk.size());
            });
        return;
    }
    if (!response.body.empty() || response.status != 204) out.set_content(response.body, "application/json; charset=utf-8");
}

std::string readable_file_problem(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) return "cannot be read";
    return {};
}

}  // namespace

struct HttpServer::Impl {
    Impl(RestApi& a, ServerOptions o) : api(a), options(std::move(o)) {}
    RestApi& api;
    ServerOptions options;
    std::unique_ptr<httplib::Server> server;
    int port = 0;
    std::string scheme;
    std::atomic<bool> stop_requested{false};
    std::shared_ptr<std::atomic<bool>> stopping = std::make_shared<std::atomic<bool>>(false);
};

HttpServer::HttpServer(RestApi& api, ServerOptions options) : impl_(std::make_unique<Impl>(api, std::move(options))) {
    Impl& I = *impl_;
    const bool tls = !I.options.tls_cert.empty() || !I.options.tls_key.empty();
    if (tls) {
        if (I.options.tls_cert.empty() || I.options.tls_key.empty())
            throw ServerError("TLS needs both a certificate (--tls-cert) and its private key (--tls-key)");
        for (const auto& [what, path] : {std::pair{"certificate", I.options.tls_cert}, std::pair{"private key", I.options.tls_key}}) {
            const std::string problem = readable_file_problem(path);
            if (!problem.empty()) throw ServerError(std::string("TLS ") + what + " " + path.string() + " " + problem);
        }
        auto ssl = std::make_unique<httplib::SSLServer>(I.options.tls_cert.c_str(), I.options.tls_key.c_str());
        if (!ssl->is_valid())
            throw ServerError("cannot load the TLS certificate " + I.options.tls_cert.string() + " with the key " +
                              I.options.tls_key.string() + " (not PEM, or the key does not match the certificate)");
        I.server = std::move(ssl);
        I.scheme = "https";
    } else {
        I.server = std::make_unique<httplib::Server>();
        I.scheme = "http";
    }
    httplib::Server& s = *I.server;
    const std::size_t threads = std::max<std::size_t>(1, I.options.threads);
    const std::size_t backlog = std::max<std::size_t>(1, I.options.backlog);
    s.new_task_queue = [threads, backlog] { return new BoundedPool(threads, backlog); };
    s.set_read_timeout(I.options.read_timeout);
    s.set_write_timeout(I.options.write_timeout);
    s.set_keep_alive_max_count(I.options.keep_alive_max_requests);
    s.set_keep_alive_timeout(5);
    s.set_tcp_nodelay(true);
    // httplib refuses a larger body itself (413) before our handler runs.
    s.set_payload_max_length(api.limits().max_body_bytes);
    const std::string fallback_host = I.options.host + ":" + std::to_string(I.options.port);
    const auto handler = [this, fallback_host](const httplib::Request& in, httplib::Response& out) {
        serve_one(impl_->api, impl_->scheme, fallback_host, impl_->options.explorer_dir, impl_->stopping, in, out);
    };
    s.Get(".*", handler);
    s.Post(".*", handler);
    s.Put(".*", handler);
    s.Patch(".*", handler);
    s.Delete(".*", handler);
    s.Options(".*", handler);
    // Errors httplib answers itself (a bad request line, a body or header
    // over the limits) get ADT's error shape too; ours already have a body.
    s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& out) {
        if (!out.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string code = "BadRequest";
        std::string message = "the request could not be read";
        if (out.status == 413) {
            code = "PayloadTooLarge";
            message = "the body is larger than the server accepts (docs/service.md, Limits)";
        } else if (out.status == 414) {
            code = "UriTooLong";
            message = "the request target is longer than 8192 bytes";
        } else if (out.status == 404) {
            code = "NotFound";
            message = "no operation here";
        } else if (out.status >= 500) {
            code = "InternalServerError";
            message = "the request could not be served";
        }
        const Response adt = error_response({out.status, code, message});
        for (const auto& [name, value] : adt.headers) out.set_header(name, value);
        out.set_content(adt.body, "application/json; charset=utf-8");
        return httplib::Server::HandlerResponse::Handled;
    }));
    s.set_exception_handler([](const httplib::Request&, httplib::Response& out, std::exception_ptr) {
        const Response adt = error_response({500, "InternalServerError", "the request could not be served"});
        out.status = adt.status;
        for (const auto& [name, value] : adt.headers) out.set_header(name, value);
        out.set_content(adt.body, "application/json; charset=utf-8");
    });
    if (I.options.port == 0) {
        I.port = s.bind_to_any_port(I.options.host);
        if (I.port < 0) throw ServerError("cannot listen on " + I.options.host + " (any port)");
    } else {
        if (!s.bind_to_port(I.options.host, I.options.port))
            throw ServerError("cannot listen on " + I.options.host + ":" + std::to_string(I.options.port) +
                              " (in use, or not an address of this machine)");
        I.port = I.options.port;
    }
}

HttpServer::~HttpServer() = default;

int HttpServer::port() const noexcept { return impl_->port; }

std::string HttpServer::url() const { return impl_->scheme + "://" + impl_->options.host + ":" + std::to_string(impl_->port); }

void HttpServer::run() {
    if (impl_->stop_requested) return;
    if (!impl_->server->listen_after_bind() && !impl_->stop_requested)
        throw ServerError("serving on " + url() + " failed");
}

void HttpServer::stop() {
    impl_->stop_requested = true;
    impl_->stopping->store(true);
    impl_->server->stop();
}

}  // namespace twinsim::service
