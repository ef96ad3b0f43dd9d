// Reading DTDL documents from files and folders.

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <system_error>

#include "twinsim/dtdl/parser.hpp"

namespace twinsim::dtdl {
namespace {

namespace fs = std::filesystem;

// Folders nested deeper than this are not searched (a guard against a
// pathological tree; a loop of symbolic links is caught before).
constexpr int max_folder_depth = 64;

std::string reason(const std::error_code& error) {
    if (error.value() == ELOOP) return "a loop of symbolic links";
    if (error.value() == ENOENT) return "no such file or folder";
    return error.message();
}

Document read_file(const fs::path& path) {
    errno = 0;
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) {
        const int error = errno;
        throw IoError("cannot read DTDL file " + path.string() + ": " +
                      (error != 0 ? std::string(std::strerror(error)) : std::string("cannot be opened")));
    }
    const auto size = in.tellg();
    if (size < 0) throw IoError("cannot read DTDL file " + path.string() + ": its size cannot be determined");
    std::string text(static_cast<std::size_t>(size), '\0');
    in.seekg(0);
    errno = 0;
    if (!in.read(text.data(), static_cast<std::streamsize>(size))) {
        const int error = errno;
        throw IoError("error while reading DTDL file " + path.string() + ": " +
                      (error != 0 ? std::string(std::strerror(error)) : std::string("the file ended early")));
    }
    return Document{path.string(), std::move(text)};
}

// The *.json regular files under `folder`, following symbolic links to
// folders; `ancestors` (canonical) detects a link that leads back up.
void collect(const fs::path& folder, std::vector<fs::path>& ancestors, std::vector<fs::path>& files) {
    std::error_code ec;
    const fs::path canonical = fs::canonical(folder, ec);
    if (ec) throw IoError("cannot read DTDL folder " + folder.string() + ": " + reason(ec));
    if (std::find(ancestors.begin(), ancestors.end(), canonical) != ancestors.end())
        throw IoError("DTDL folder " + folder.string() + ": a loop of symbolic links (it leads back to " +
                      canonical.string() + ")");
    if (ancestors.size() >= static_cast<std::size_t>(max_folder_depth))
        throw IoError("DTDL folder " + folder.string() + ": folders nested more than " +
                      std::to_string(max_folder_depth) + " deep (the limit on folder depth)");
    ancestors.push_back(canonical);
    fs::directory_iterator it(folder, ec);
    if (ec) throw IoError("cannot list DTDL folder " + folder.string() + ": " + reason(ec));
    for (const fs::directory_iterator end; it != end; it.increment(ec)) {
        const fs::path path = it->path();
        const fs::file_status status = it->status(ec);
        if (ec) throw IoError("cannot read " + path.string() + " in DTDL folder " + folder.string() + ": " + reason(ec));
        if (fs::is_directory(status)) {
            collect(path, ancestors, files);
        } else if (fs::is_regular_file(status) && path.extension() == ".json") {
            files.push_back(path);
        }
    }
    if (ec) throw IoError("cannot list DTDL folder " + folder.string() + ": " + reason(ec));
    ancestors.pop_back();
}

}  // namespace

std::vector<Document> read_documents(std::span<const fs::path> paths) {
    std::vector<Document> out;
    for (const auto& p : paths) {
        std::error_code ec;
        const auto status = fs::status(p, ec);
        if (ec || !fs::exists(status)) {
            if (ec && ec.value() != ENOENT && ec.value() != ENOTDIR)
                throw IoError("cannot read DTDL path " + p.string() + ": " + reason(ec));
            throw IoError("DTDL path does not exist: " + p.string());
        }
        if (fs::is_directory(status)) {
            std::vector<fs::path> files;
            std::vector<fs::path> ancestors;
            collect(p, ancestors, files);
            if (files.empty()) throw IoError("DTDL folder " + p.string() + " holds no *.json file");
            std::sort(files.begin(), files.end());
            for (const auto& f : files) out.push_back(read_file(f));
        } else if (fs::is_regular_file(status)) {
            out.push_back(read_file(p));
        } else {
            throw IoError("DTDL path " + p.string() + " is not a regular file or a folder (a device, FIFO or socket is never read)");
        }
    }
    return out;
}

}  // namespace twinsim::dtdl
