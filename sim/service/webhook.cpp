#include "twinsim/service/webhook.hpp"

#include <httplib.h>

#include "twinsim/live/saved_routes.hpp"

namespace twinsim::service {

struct WebhookEndpoint::Impl {
    std::string url;
    std::string origin;  ///< scheme://host[:port]
    std::string path;
    std::unique_ptr<httplib::Client> client;
};

WebhookEndpoint::WebhookEndpoint(std::string url, std::filesystem::path ca_file, std::chrono::seconds timeout)
    : impl_(std::make_unique<Impl>()) {
    const bool http = url.rfind("http://", 0) == 0;
    const bool https = url.rfind("https://", 0) == 0;
    if (!http && !https) throw live::LiveError("a webhook URL must start with http:// or https://, found \"" + url + "\"");
    const std::size_t host_start = url.find("://") + 3;
    const std::size_t slash = url.find('/', host_start);
    if (slash == host_start || host_start >= url.size()) throw live::LiveError("the webhook URL \"" + url + "\" has no host");
    impl_->url = url;
    impl_->origin = url.substr(0, slash);
    impl_->path = slash == std::string::npos ? "/" : url.substr(slash);
    impl_->client = std::make_unique<httplib::Client>(impl_->origin);
    impl_->client->set_connection_timeout(timeout);
    impl_->client->set_read_timeout(timeout);
    impl_->client->set_write_timeout(timeout);
    impl_->client->set_keep_alive(true);
    if (https && !ca_file.empty()) impl_->client->set_ca_cert_path(ca_file.string());
}

WebhookEndpoint::~WebhookEndpoint() = default;

void WebhookEndpoint::deliver(const live::Notification& notification) {
    const std::string body = notification.event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const httplib::Result result =
        impl_->client->Post(impl_->path, body, "application/cloudevents+json; charset=utf-8");
    if (!result) throw live::LiveError("webhook " + impl_->url + ": " + httplib::to_string(result.error()));
    if (result->status < 200 || result->status > 299)
        throw live::LiveError("webhook " + impl_->url + " answered " + std::to_string(result->status));
}

void register_webhook_endpoint_kind() {
    live::register_saved_endpoint_kind("webhook", [](const live::SavedFileEndpoint& saved) -> std::shared_ptr<live::Endpoint> {
        return std::make_shared<WebhookEndpoint>(saved.url, saved.path);
    });
}

}  // namespace twinsim::service
