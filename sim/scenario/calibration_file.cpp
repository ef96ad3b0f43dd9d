#include "twinsim/scenario/calibration_file.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "twinsim/common/error.hpp"
#include "twinsim/common/json_depth.hpp"
#include "twinsim/scenario/errors.hpp"

namespace twinsim::scenario {

namespace {

/// Merges `from` into `into` one level deep: objects of the same key merge, other values replace.
void merge_object(nlohmann::json& into, const nlohmann::json& from) {
    for (const auto& [k, v] : from.items()) {
        auto it = into.find(k);
        if (it != into.end() && it->is_object() && v.is_object()) {
            for (const auto& [room, values] : v.items()) {
                auto r = it->find(room);
                if (r != it->end() && r->is_object() && values.is_object())
                    for (const auto& [name, value] : values.items()) (*r)[name] = value;
                else
                    (*it)[room] = values;
            }
        } else {
            into[k] = v;
        }
    }
}

/// A "${name}" string anywhere in `v`: a calibration holds values, not references.
bool has_reference(const nlohmann::json& v) {
    if (v.is_string()) return is_parameter_reference(v);
    if (v.is_structured())
        for (const auto& item : v) if (has_reference(item)) return true;
    return false;
}

}  // namespace

void apply_calibration_text(std::vector<ModelBindingSpec>& models, std::string_view text, const std::string& source) {
    auto fail = [&](const std::string& field, const std::string& reason) { throw ScenarioError(source, 0, field, reason); };
    if (text.size() > max_calibration_file_bytes)
        fail("", "a calibration file of " + std::to_string(text.size()) + " bytes, more than the limit of " +
                     std::to_string(max_calibration_file_bytes));
    if (const auto excess = find_json_depth_excess(text))
        fail("", "at byte " + std::to_string(*excess) + ": " + json_depth_reason());
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false, false);
    if (j.is_discarded()) fail("", "not a calibration file: not JSON");
    if (!j.is_object()) fail("", "not a calibration file: expected a JSON object");
    for (const auto& [k, v] : j.items())
        if (k != "format" && k != "version" && k != "behaviours" && k != "fit")
            fail(k, "unknown key (expected format, version, behaviours, fit)");
    if (!j.contains("format") || j["format"] != "twinsim-calibration")
        fail("format", "not a calibration file: format must be \"twinsim-calibration\"");
    if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<std::int64_t>() != 1)
        fail("version", "version " + (j.contains("version") ? j["version"].dump() : std::string("missing")) +
                            ": this twinsim reads version 1");
    if (!j.contains("behaviours") || !j["behaviours"].is_array()) fail("behaviours", "expected a list of {model, parameters}");
    const nlohmann::json& list = j["behaviours"];
    if (list.size() > max_calibration_behaviours)
        fail("behaviours", std::to_string(list.size()) + " entries, more than the limit of " +
                               std::to_string(max_calibration_behaviours));
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string at = "behaviours[" + std::to_string(i) + "]";
        const nlohmann::json& e = list[i];
        if (!e.is_object()) fail(at, "expected {model, parameters}");
        for (const auto& [k, v] : e.items())
            if (k != "model" && k != "parameters") fail(at + "." + k, "unknown key (expected model, parameters)");
        if (!e.contains("model") || !e["model"].is_string() || e["model"].get<std::string>().empty())
            fail(at + ".model", "expected the name of a behaviour model");
        if (!e.contains("parameters") || !e["parameters"].is_object())
            fail(at + ".parameters", "expected a mapping from parameter name to value");
        if (has_reference(e["parameters"]))
            fail(at + ".parameters", "holds a \"${name}\" reference: a calibration file holds fitted values");
        const std::string model = e["model"].get<std::string>();
        bool used = false;
        for (ModelBindingSpec& b : models)
            if (b.model == model) {
                merge_object(b.parameters, e["parameters"]);
                used = true;
            }
        if (!used) fail(at + ".model", "the scenario binds no " + model + " behaviour to calibrate");
    }
}

void apply_calibration_file(std::vector<ModelBindingSpec>& models, const std::filesystem::path& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw IoError("cannot read calibration file " + path.string() + ": " + ec.message());
    if (size > max_calibration_file_bytes)
        throw ScenarioError(path.string(), 0, "", "a calibration file of " + std::to_string(size) +
                                                      " bytes, more than the limit of " + std::to_string(max_calibration_file_bytes));
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) throw IoError("cannot read calibration file " + path.string());
    apply_calibration_text(models, text.str(), path.string());
}

}  // namespace twinsim::scenario
