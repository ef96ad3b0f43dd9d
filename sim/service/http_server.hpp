#pragma once
// The HTTP/1.1 shell around RestApi (cpp-httplib, with TLS through OpenSSL):
// keep-alive connections served by a fixed pool of threads, each request
// handed to RestApi::handle as it arrived, its Response written back. Nothing
// here knows ADT; httplib.h stays in http_server.cpp.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "twinsim/common/error.hpp"

namespace twinsim::service {

class RestApi;

/// The server cannot start: the address cannot be bound, the TLS
/// certificate or key cannot be loaded. The message says which and why.
class ServerError : public Error {
public:
    using Error::Error;
};

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8443;  ///< 0: any free port (HttpServer::port() tells which)
    /// PEM files; both empty for plain HTTP (the Azure SDKs send tokens over
    /// https only), both set for TLS.
    std::filesystem::path tls_cert;
    std::filesystem::path tls_key;
    /// Worker threads. A keep-alive connection holds one while it is open, so
    /// this is also the number of connections served at once; more wait in
    /// the accept queue until one closes (docs/service.md, "Limits").
    std::size_t threads = 32;
    /// Connections accepted beyond `threads` that may wait for a thread;
    /// one more is answered 503 ServiceUnavailable and closed at once.
    std::size_t backlog = 64;
    /// A client that sends nothing (headers, body) for this long is cut off.
    std::chrono::seconds read_timeout{10};
    std::chrono::seconds write_timeout{10};
    /// An idle keep-alive connection is closed after this many requests.
    std::size_t keep_alive_max_requests = 100000;
    /// The browser explorer's folder (index.html, its scripts, vendor/):
    /// GET /explorer/ and the files under it are served from here, without a
    /// token (the page asks for one and sends it with its API calls). Empty:
    /// /explorer is not served (404 as any unknown path). docs/explorer.md.
    std::filesystem::path explorer_dir;
};

class HttpServer {
public:
    /// Binds the address (so port() is known before run()). Throws
    /// ServerError when TLS files are given but cannot be loaded, or the
    /// address cannot be bound. `api` must outlive the server.
    HttpServer(RestApi& api, ServerOptions options);
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;
    ~HttpServer();

    /// The bound port.
    [[nodiscard]] int port() const noexcept;
    /// "https://127.0.0.1:8443" (or http://).
    [[nodiscard]] std::string url() const;
    /// Serves until stop(): blocks the calling thread. Requests in flight
    /// when stop() is called finish and are answered; then the workers are
    /// joined and run() returns. Throws ServerError when serving fails.
    void run();
    /// Stops accepting and makes run() return once in-flight requests are
    /// done. Thread-safe; may be called before run() starts.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::service
