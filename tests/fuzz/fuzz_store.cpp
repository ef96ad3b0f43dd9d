// Fuzz target: the files of a durable store's directory that the store reads
// back (sim/live/store.hpp, docs/store.md): a journal row's payload in any
// format version (1 CBOR, 2 binary record, 3 numeric writes as columns;
// decoded, then replayed onto a clone of the sample graph, as recovery does), a
// checkpoint file, and the saved routes file (routes.json). The first byte
// chooses: % 3 == 0 a payload, 1 a checkpoint (named for batch 1), 2 a
// routes file; the rest is the file.
//
// The events-only decoding (the history indexer's) must refuse exactly the
// payloads the full decoding refuses, with the same message, and give as many
// events. A decoded payload that replays must leave a graph that serialises and
// deserialises again; a replay that is refused (ReplayMismatch) must leave
// the graph as it was.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/graph/snapshot_serialization.hpp"
#include "twinsim/live/detail/batch_codec.hpp"
#include "twinsim/live/detail/checkpoint_file.hpp"
#include "twinsim/live/saved_routes.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
    case 0: {
        // The history indexer's events-only decoding refuses exactly what the
        // full decoding refuses, with the same message.
        std::string events_error;
        std::size_t events_decoded = 0;
        try {
            events_decoded = twinsim::live::detail::decode_batch_events(bytes).event_count();
        } catch (const std::runtime_error& e) {
            events_error = e.what();
            if (events_error.empty()) events_error = "?";
        }
        twinsim::live::detail::DecodedBatch batch;
        try {
            batch = twinsim::live::detail::decode_batch(bytes);
        } catch (const std::runtime_error& e) {
            if (events_error != e.what() && !(events_error == "?" && std::string_view(e.what()).empty())) __builtin_trap();
            return 0;  // refused with a message: what the store reports as a damaged journal
        }
        if (!events_error.empty() || events_decoded != batch.event_count()) __builtin_trap();
        const twinsim::graph::Snapshot& base = twinsim::fuzz::sample_snapshot();
        auto graph = twinsim::graph::TwinGraph::from_snapshot(base);
        const std::string before = twinsim::graph::serialize(graph->snapshot());
        try {
            graph->replay(batch.recorded());
        } catch (const twinsim::Error&) {
            if (twinsim::graph::serialize(graph->snapshot()) != before) __builtin_trap();  // half-applied
            return 0;
        }
        (void)twinsim::graph::deserialize(twinsim::graph::serialize(graph->snapshot()));
        return 0;
    }
    case 1:
        try {
            const twinsim::graph::Snapshot s = twinsim::live::detail::parse_checkpoint(bytes, 1);
            (void)twinsim::graph::serialize(s);
        } catch (const std::runtime_error&) {
        }
        return 0;
    default: {
        twinsim::live::SavedRouteSet set;
        try {
            set = twinsim::live::parse_saved_routes(bytes, "routes.json");
        } catch (const twinsim::Error&) {
            return 0;
        }
        // What was accepted is written back in a form that is accepted again.
        (void)twinsim::live::parse_saved_routes(twinsim::live::saved_routes_text(set), "again");
        return 0;
    }
    }
}
