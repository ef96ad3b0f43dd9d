// Reading DTDL documents from files and folders.

#include <algorithm>
#include <fstream>
#include <iterator>
#include <system_error>

#include "twinsim/dtdl/parser.hpp"

namespace twinsim::dtdl {
namespace {

Document read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw IoError("cannot read DTDL file " + path.string());
    const auto size = in.tellg();
    if (size < 0) throw IoError("cannot read DTDL file " + path.string());
    std::string text(static_cast<std::size_t>(size), '\0');
    in.seekg(0);
    if (!in.read(text.data(), static_cast<std::streamsize>(size))) throw IoError("error while reading DTDL file " + path.string());
    return Document{path.string(), std::move(text)};
}

}  // namespace

std::vector<Document> read_documents(std::span<const std::filesystem::path> paths) {
    std::vector<Document> out;
    for (const auto& p : paths) {
        std::error_code ec;
        const auto status = std::filesystem::status(p, ec);
        if (ec || !std::filesystem::exists(status)) throw IoError("DTDL path does not exist: " + p.string());
        if (std::filesystem::is_directory(status)) {
            std::vector<std::filesystem::path> files;
            std::filesystem::recursive_directory_iterator it(p, std::filesystem::directory_options::follow_directory_symlink, ec);
            if (ec) throw IoError("cannot list DTDL folder " + p.string() + ": " + ec.message());
            for (const auto& entry : it)
                if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
            std::sort(files.begin(), files.end());
            for (const auto& f : files) out.push_back(read_file(f));
        } else {
            out.push_back(read_file(p));
        }
    }
    return out;
}

}  // namespace twinsim::dtdl
