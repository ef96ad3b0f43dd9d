#include "twinsim/scenario/input_paths.hpp"

#include <cerrno>
#include <system_error>

#include "twinsim/common/excerpt.hpp"
#include "twinsim/scenario/behaviour.hpp"

namespace twinsim::scenario {

namespace fs = std::filesystem;

namespace {

// Whether `path` is `root` or lies below it (both canonical).
bool inside(const fs::path& path, const fs::path& root) {
    auto p = path.begin();
    for (auto r = root.begin(); r != root.end(); ++r, ++p) {
        if (r->empty()) continue;  // a trailing separator
        if (p == path.end() || *p != *r) return false;
    }
    return true;
}

std::string os_reason(const std::error_code& error) {
    if (error.value() == ELOOP) return "a loop of symbolic links";
    if (error.value() == ENOENT || error.value() == ENOTDIR) return "no such file or folder";
    return error.message();
}

}  // namespace

fs::path resolve_input_path(const ScenarioSpec& spec, const fs::path& folder, const std::string& written,
                            const std::string& pointer, const std::string& field, const InputPathOptions& options) {
    auto refuse = [&](const std::string& why) -> ScenarioError {
        return spec_error(spec, pointer, field, "\"" + excerpt(written) + "\": " + why);
    };
    const std::string allow = " (a scenario's paths stay inside its folder; twinsim run --allow-outside-paths or "
                              "Python's allow_outside_paths=True lifts this)";
    if (written.empty()) throw refuse("an empty path");
    if (written.find('\0') != std::string::npos) throw refuse("a path cannot hold a NUL character");
    const fs::path path(written);

    std::error_code error;
    const fs::path base_folder = fs::absolute(folder.empty() ? fs::path(".") : folder, error);
    if (error) throw refuse("cannot resolve the scenario's folder: " + os_reason(error));
    const fs::path joined = path.is_absolute() ? path : base_folder / path;
    const fs::path resolved = fs::canonical(joined, error);
    if (error) throw refuse("cannot be read: " + os_reason(error));

    if (!options.allow_outside) {
        const fs::path root = fs::canonical(base_folder, error);
        if (error) throw refuse("cannot resolve the scenario's folder: " + os_reason(error));
        bool trusted = inside(resolved, root);
        for (const fs::path& folder_path : options.trusted_folders) {
            std::error_code ignored;
            const fs::path t = fs::canonical(folder_path, ignored);
            if (!ignored && inside(resolved, t)) trusted = true;
        }
        if (!trusted) {
            throw refuse(path.is_absolute() ? "an absolute path outside the scenario's folder " + root.string() +
                                                  " is not allowed" + allow
                                            : "leads outside the scenario's folder " + root.string() +
                                                  " (through \"..\" or a symbolic link)" + allow);
        }
    }
    const fs::file_status status = fs::status(resolved, error);
    if (error) throw refuse("cannot be read: " + os_reason(error));
    if (fs::is_regular_file(status)) return resolved;
    if (fs::is_directory(status)) {
        if (options.allow_folder) return resolved;
        throw refuse("is a folder, not a file");
    }
    throw refuse(std::string("is not a regular file") + (options.allow_folder ? " or a folder" : "") +
                 " (a device, FIFO or socket is never read)");
}

void resolve_parameter_paths(ScenarioSpec& spec, const fs::path& folder, const ModelRegistry& registry,
                             const InputPathOptions& options) {
    InputPathOptions files = options;
    files.allow_folder = false;
    for (std::size_t i = 0; i < spec.models.size(); ++i) {
        ModelBindingSpec& binding = spec.models[i];
        const BehaviourModel* model = registry.find(binding.model);
        if (model == nullptr || !binding.parameters.is_object()) continue;
        for (const ModelParameter& p : model->parameters()) {
            if (!p.input_file) continue;
            const auto it = binding.parameters.find(p.name);
            if (it == binding.parameters.end() || !it->is_string() || it->get<std::string>() == "none") continue;
            const std::string pointer = "/" + spec.source.behaviours_section + "/" + std::to_string(i) + "/parameters/" + p.name;
            const std::string field = spec.source.behaviours_section + "[" + std::to_string(i) + "].parameters." + p.name;
            *it = resolve_input_path(spec, folder, it->get<std::string>(), pointer, field, files).string();
        }
    }
}

bool resolve_replay_source(ScenarioSpec& spec, const fs::path& folder, const InputPathOptions& options) {
    if (!spec.replay || spec.replay->source.empty() || spec.replay->loaded.history) return false;
    InputPathOptions paths = options;
    paths.allow_folder = true;
    const fs::path source = resolve_input_path(spec, folder, spec.replay->source, "/replay/source", "replay.source", paths);
    spec.replay->source = source.string();
    std::error_code ec;
    return fs::is_directory(source, ec);
}

}  // namespace twinsim::scenario
