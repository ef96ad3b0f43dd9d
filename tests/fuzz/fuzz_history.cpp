// Fuzz target: the HDF5 history file reader (io::read_history_file,
// docs/history-format.md). The input is a whole file: it is written to a
// temporary file and read entirely. A damaged file must read or throw
// io::ResultsError.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "twinsim/io/errors.hpp"
#include "twinsim/io/history_file.hpp"

namespace {

const std::filesystem::path& scratch_file() {
    static const std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("twinsim-fuzz-history-" + std::to_string(::getpid()) + ".h5");
    return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::filesystem::path& path = scratch_file();
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    try {
        const twinsim::io::HistoryTables tables = twinsim::io::read_history_file(path);
        (void)tables.property_updates.time_ns.size();
    } catch (const twinsim::io::ResultsError&) {
    }
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    return 0;
}
