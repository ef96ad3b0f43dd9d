#include "document_arguments.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

bool is_single_path(py::handle paths) {
    return py::isinstance<py::str>(paths) || py::isinstance<py::bytes>(paths) || py::hasattr(paths, "__fspath__");
}

}  // namespace

dtdl::Document to_document(py::handle item, std::string source) {
    if (py::isinstance<py::str>(item)) return {std::move(source), item.cast<std::string>()};
    if (py::isinstance<py::dict>(item)) {
        const py::object dumps = py::module_::import("json").attr("dumps");
        return {std::move(source), dumps(item, py::arg("ensure_ascii") = false).cast<std::string>()};
    }
    throw py::type_error("a DTDL document must be a str (JSON text) or a dict, not " +
                         py::str(py::type::handle_of(item).attr("__name__")).cast<std::string>());
}

std::vector<dtdl::Document> to_documents(py::handle documents, const std::string& label, std::size_t& counter) {
    std::vector<dtdl::Document> out;
    const auto next_label = [&] { return "<" + label + " " + std::to_string(counter++) + ">"; };
    if (documents.is_none()) return out;
    if (py::isinstance<py::str>(documents) || py::isinstance<py::dict>(documents)) {
        out.push_back(to_document(documents, next_label()));
        return out;
    }
    for (py::handle item : py::iter(documents)) out.push_back(to_document(item, next_label()));
    return out;
}

std::filesystem::path to_path(py::handle path) {
    return {py::module_::import("os").attr("fsdecode")(path).cast<std::string>()};
}

std::vector<std::filesystem::path> to_paths(py::handle paths) {
    std::vector<std::filesystem::path> out;
    if (is_single_path(paths)) {
        out.push_back(to_path(paths));
        return out;
    }
    for (py::handle item : py::iter(paths)) out.push_back(to_path(item));
    return out;
}

}  // namespace twinsim::python
