#pragma once
// A webhook endpoint for event routes (docs/service.md, "Webhooks"): each
// routed notification is POSTed to a URL as a CloudEvent in structured mode
// (Content-Type: application/cloudevents+json). A connection failure, a
// timeout or a status other than 2xx refuses the notification, so the
// router retries it with backoff and dead-letters it after its attempts
// (live/routes.hpp, "Delivery"). httplib stays in webhook.cpp.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "twinsim/live/routes.hpp"

namespace twinsim::service {

class WebhookEndpoint final : public live::Endpoint {
public:
    /// `url`: http://host[:port]/path or https://...; `ca_file` (PEM) the
    /// CAs an https server's certificate is checked against (empty: the
    /// system's). Throws live::LiveError for a URL that is not http(s).
    explicit WebhookEndpoint(std::string url, std::filesystem::path ca_file = {},
                             std::chrono::seconds timeout = std::chrono::seconds(10));
    ~WebhookEndpoint() override;
    WebhookEndpoint(const WebhookEndpoint&) = delete;
    WebhookEndpoint& operator=(const WebhookEndpoint&) = delete;
    /// POSTs the CloudEvent; throws live::LiveError (the reason) unless 2xx.
    void deliver(const live::Notification& notification) override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Lets saved routes (live/saved_routes.hpp) hold webhook endpoints: installs
/// the factory of the saved endpoint kind "webhook" (url, caFile), so a store
/// whose routes.json names webhooks delivers to them when opened by this
/// program (`twinsim serve` calls it at start). Idempotent.
void register_webhook_endpoint_kind();

}  // namespace twinsim::service
