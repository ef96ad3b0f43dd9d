#pragma once
// Python arguments that name DTDL documents or files, shared by ModelSet and
// TwinGraph bindings.

#include <pybind11/pybind11.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "twinsim/dtdl/parser.hpp"

namespace twinsim::python {

/// One str (JSON text) or dict (serialised with json.dumps) as a Document
/// whose source is `source`. Throws TypeError for anything else.
[[nodiscard]] dtdl::Document to_document(pybind11::handle item, std::string source);

/// A str, a dict, or an iterable of them (None: nothing). Each document is
/// labelled "<label N>", N counting on from `counter`.
[[nodiscard]] std::vector<dtdl::Document> to_documents(pybind11::handle documents, const std::string& label,
                                                       std::size_t& counter);

/// A str, bytes or os.PathLike, or an iterable of them.
[[nodiscard]] std::vector<std::filesystem::path> to_paths(pybind11::handle paths);

/// One str, bytes or os.PathLike as a path.
[[nodiscard]] std::filesystem::path to_path(pybind11::handle path);

}  // namespace twinsim::python
