// Fuzz target: what the REST service reads from a request (sim/service,
// docs/service.md). The first byte chooses:
//   % 4 == 0  a bearer token, verified against an RS256 public key and an
//             HS256 secret (jwt.hpp);
//   % 4 == 1  a request target, routed and percent-decoded (parse_route);
//   % 4 == 2  a whole request to RestApi::handle over a store holding the
//             sample graph, with a results folder (--results) holding one
//             small results file, sweep.h5, and a symbolic link leading out
//             of the folder, outside.h5: the second byte picks the method,
//             the rest is "<target>\n<body>" (it never throws; every answer
//             is a status);
//   % 4 == 3  an auth file (AccessPolicy::from_json after JSON parsing).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "fuzz_support.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/common/json_depth.hpp"
#include "twinsim/io/results_writer.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/service/access.hpp"
#include "twinsim/service/jwt.hpp"
#include "twinsim/service/rest_api.hpp"

namespace {

using nlohmann::json;
using namespace twinsim;

const service::KeySet& keys() {
    static const service::KeySet set = service::KeySet::from_jwks(json::parse(R"({"keys": [
      {"kty": "RSA", "kid": "r", "e": "AQAB", "n": "pRnVHxQnU2ql99xn_5O5ag3OXK_Ogo-hm5ueT-nhSwmEyZ_3SknIQ3T9eKf2uatBNChwFSvy5kyJJg-lclskPAG_j-RFBK-sgVEbBiNKbVl4u_xUuGUxkx1rVB7IzkE5F8Rq7bapA6SlKevBpz-12YNC-JT5sAGA7UOgTSxZWqoMVffiqOYQuCr4mrNfwnF5sObeKaOcbI1zAfo7Pp02CmTyK-d-fEY6iAVUJGxUl8nm8M-yCuK4zkfZYFR_giGQymFO4m74QUQOR-HiHtWZ55odFyNSd1qinPlVbDGeOIn7aZ7FEtcPs8qG1Xs0ShuflBrW6_FSYZgbUXopuxqA3Q"},
      {"kty": "oct", "kid": "s", "k": "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg"}]})"));
    return set;
}

/// Writes a small results file: two scenarios of two replications, one
/// series of two rooms, events and KPIs, so that /results,
/// /results/{file}, /results/{file}/comparison and /results/{file}/sparkline
/// reach a real reader.
void write_results_file(const std::filesystem::path& path) {
    io::ResultsWriter writer(path.string(), {"fuzz/sample.ndjson", "sha256:0", "fuzz_service results"});
    const std::vector<std::string> rooms = {"room-1", "room-2"};
    const std::vector<double> times = {0.0, 600.0, 1200.0, 1800.0};
    for (int s = 0; s < 2; ++s) {
        const std::string name = s == 0 ? "baseline" : "hot";
        writer.define_scenario({name, "", R"({"name":")" + name + R"(","horizon":1800,"step":600,"replications":2})",
                                "{}", 42u + static_cast<unsigned>(s), 2, "2024-07-01T00:00:00Z"});
        writer.define_series(name, {"Room.temperature", "degC", rooms, times, "dtmi:twinsim:building:Room;1",
                                    "temperature", ""});
        std::vector<io::KpiRow> kpis;
        for (std::uint32_t r = 0; r < 2; ++r) {
            std::vector<double> values;
            for (std::size_t t = 0; t < times.size(); ++t)
                for (std::size_t n = 0; n < rooms.size(); ++n) values.push_back(20.0 + s + r + 0.5 * static_cast<double>(t) + 0.25 * static_cast<double>(n));
            writer.write_series_block(name, "Room.temperature", r, 0, values, {});
            kpis.push_back({"peak", "room-1", "max", static_cast<std::int32_t>(r), "", 22.0 + s + r, "degC"});
        }
        kpis.push_back({"peak", "room-1", "max", io::all_replications, "mean", 22.5 + s, "degC"});
        const std::vector<io::EventRecord> events = {{0, 600.0, "room-1", "alarm", R"({"level":"high"})"}};
        writer.append_events(name, events);
        writer.write_kpis(name, kpis);
    }
    writer.close();
}

/// A store in a scratch folder holding the sample graph, removed at exit.
struct ScratchStore {
    std::filesystem::path dir;
    std::unique_ptr<live::Store> store;
    std::unique_ptr<service::RestApi> api;
    ScratchStore() {
        dir = std::filesystem::temp_directory_path() / ("twinsim-fuzz-service-" + std::to_string(::getpid()));
        std::filesystem::remove_all(dir);
        live::StoreOptions options;
        options.durability = live::Durability::group;
        store = live::open_store(dir, options);
        std::istringstream in(fuzz::sample_ndjson);
        (void)graph::import_ndjson(store->graph(), in, "<fuzz sample>");
        service::RequestLimits limits;
        limits.results_directory = dir / "results";
        std::filesystem::create_directories(limits.results_directory);
        write_results_file(limits.results_directory / "sweep.h5");
        std::filesystem::create_symlink("/etc/hostname", limits.results_directory / "outside.h5");
        api = std::make_unique<service::RestApi>(*store, nullptr, limits);
    }
    ~ScratchStore() {
        api.reset();
        store->close();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

ScratchStore& scratch() {
    static ScratchStore s;
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 4) {
    case 0:
        try {
            (void)service::verify_token(text, keys(), {});
        } catch (const service::TokenError&) {
        }
        break;
    case 1: {
        service::ApiError error;
        const auto route = service::parse_route("GET", text, error);
        if (!route && (error.status < 400 || error.code.empty())) std::abort();
        break;
    }
    case 2: {
        static constexpr const char* methods[] = {"GET", "PUT", "PATCH", "DELETE", "POST", "HEAD"};
        service::Request request;
        request.method = methods[static_cast<unsigned char>(text[0]) % 6];
        const std::string_view rest = text.substr(1);
        const std::size_t newline = rest.find('\n');
        request.target = std::string(rest.substr(0, newline));
        if (newline != std::string_view::npos) request.body = std::string(rest.substr(newline + 1));
        request.base_url = "https://fuzz";
        const service::Response response = scratch().api->handle(request);
        if (response.status < 200 || response.status > 599) std::abort();
        if (response.status >= 400 && !response.header("x-ms-error-code")) std::abort();
        break;
    }
    default: {
        const json config = json::parse(text, nullptr, false);
        if (config.is_discarded() || json_deeper_than(config)) break;
        try {
            (void)service::AccessPolicy::from_json(config, ".");
        } catch (const twinsim::Error&) {
        }
        break;
    }
    }
    return 0;
}
