// Fuzz target: the HDF5 history file reader (io::read_history_file,
// docs/history-format.md). The input is a whole file: it is written to a
// temporary file and read entirely. A damaged file must read or throw
// io::ResultsError.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "fuzz_support.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/io/history_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::filesystem::path& path = twinsim::fuzz::input_as_file(data, size, "history");
    try {
        const twinsim::io::HistoryTables tables = twinsim::io::read_history_file(path);
        (void)tables.property_updates.time_ns.size();
    } catch (const twinsim::io::ResultsError&) {
    }
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    return 0;
}
