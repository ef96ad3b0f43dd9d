#include "twinsim/dtdl/diagnostic.hpp"

namespace twinsim::dtdl {

std::string Diagnostic::to_string() const {
    std::string out;
    auto add = [&](const std::string& part) {
        if (part.empty()) return;
        if (!out.empty()) out += ": ";
        out += part;
    };
    add(file);
    add(id);
    add(path);
    add(severity == Severity::warning ? "warning: " + message : message);
    if (!rule.empty()) out += " [" + rule + "]";
    return out;
}

namespace {

std::string summarise(const std::vector<Diagnostic>& errors, const std::vector<std::string>& unresolved) {
    std::string msg;
    if (!errors.empty()) {
        msg = std::to_string(errors.size()) + (errors.size() == 1 ? " error" : " errors") +
              " in DTDL models; first: " + errors.front().to_string();
    }
    if (!unresolved.empty()) {
        if (!msg.empty()) msg += "; ";
        msg += std::to_string(unresolved.size()) + " unresolved identifier" + (unresolved.size() == 1 ? "" : "s") + ": ";
        for (std::size_t i = 0; i < unresolved.size() && i < 20; ++i) msg += (i ? ", " : "") + unresolved[i];
        if (unresolved.size() > 20) msg += ", ...";
    }
    if (msg.empty()) msg = "invalid DTDL models";
    return msg;
}

}  // namespace

ModelError::ModelError(std::vector<Diagnostic> errors, std::vector<std::string> unresolved)
    : Error(summarise(errors, unresolved)), errors_(std::move(errors)), unresolved_(std::move(unresolved)) {}

}  // namespace twinsim::dtdl
