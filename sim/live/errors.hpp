#pragma once
// The live layer's exception family (sim/live: telemetry, ingestion, events
// and routes, the durable store, history). Bad input and failed operations
// throw a subclass of LiveError whose message names what, where and why.

#include "twinsim/common/error.hpp"

namespace twinsim::live {

/// Base of every error the live layer throws itself (graph errors raised by
/// the graph underneath keep their own types, twinsim/graph/errors.hpp).
class LiveError : public Error {
public:
    using Error::Error;
};

}  // namespace twinsim::live
