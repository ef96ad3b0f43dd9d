// Fuzz target: the DTDL reader. The input is one JSON document (an
// interface or an array of them); parse() must turn every problem into a
// diagnostic and never throw for bad input.

#include <cstddef>
#include <cstdint>
#include <string>

#include "twinsim/dtdl/parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const twinsim::dtdl::Document document{"<fuzz>", std::string(reinterpret_cast<const char*>(data), size)};
    const twinsim::dtdl::ParseResult result = twinsim::dtdl::parse(std::span(&document, 1));
    (void)result.valid();
    return 0;
}
