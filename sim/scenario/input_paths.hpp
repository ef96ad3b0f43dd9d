#pragma once
// The files a scenario names (`base:`, `base_models:`), resolved and confined.
//
// A scenario file may come from someone else (a shared folder, the coming
// service). By default the paths it names must stay inside the folder tree of
// the scenario file: an absolute path, a "../" that climbs out, or a symbolic
// link that leads out is refused, as is anything but a regular file (a
// folder, for base_models), so a scenario cannot make twinsim read
// /dev/zero, a FIFO or another user's secrets. Besides the scenario's tree,
// the caller may trust other folders (the CLI and Python trust twinsim's own
// models/ folder, whose DTDL the bundled scenarios name as
// ../../models/building), or allow every path (`twinsim run
// --allow-outside-paths`, Python `allow_outside_paths=True`); existence and
// the file type are checked still.

#include <filesystem>
#include <string>
#include <vector>

#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::scenario {
class ModelRegistry;
}

namespace twinsim::scenario {

struct InputPathOptions {
    /// Accept absolute paths and paths leading out of the scenario's folder tree.
    bool allow_outside = false;
    /// Accept a folder as well as a regular file (base_models: a folder of DTDL files).
    bool allow_folder = false;
    /// Folders whose trees are allowed besides the scenario's own (absolute,
    /// or relative to the current folder); one that does not exist is ignored.
    std::vector<std::filesystem::path> trusted_folders;
};

/// `written` (the value of the field at JSON pointer `pointer`, dotted name
/// `field`, of `spec`) resolved against `folder` (the scenario file's folder;
/// "" = the current folder) and returned as a canonical path.
/// Throws ScenarioError (file:line: field: why) when the path leads out of
/// `folder`'s tree and out of every trusted folder's (unless
/// options.allow_outside; an absolute path is judged by where it leads), does not exist,
/// runs into a loop of symbolic links, cannot be examined (the OS's reason),
/// or is not a regular file (or a folder, with options.allow_folder).
[[nodiscard]] std::filesystem::path resolve_input_path(const ScenarioSpec& spec, const std::filesystem::path& folder,
                                                       const std::string& written, const std::string& pointer,
                                                       const std::string& field, const InputPathOptions& options = {});

/// Resolves, in place, every model parameter of `spec` that its model
/// declares as a file (ModelParameter::file(): thermal_zones' weather_file)
/// with resolve_input_path(), so the model reads a canonical path; a value
/// "none" is left alone, a value that is not a string is left for the model
/// to refuse, an unknown model for prepare(). Throws ScenarioError naming
/// `behaviours[i].parameters.<name>`, as resolve_input_path().
void resolve_parameter_paths(ScenarioSpec& spec, const std::filesystem::path& folder, const ModelRegistry& registry,
                             const InputPathOptions& options = {});

/// Resolves, in place, `spec.replay->source` (docs/replay.md) with
/// resolve_input_path() against `folder`, a folder (a live store) allowed;
/// nothing to do without a replay section or with an empty source, or when
/// the front end supplied the history (ReplaySpec::loaded). Returns true when
/// the source is a folder: a live store the front end opens and reads with
/// live::replay_window. Throws ScenarioError naming `replay.source`, as
/// resolve_input_path().
bool resolve_replay_source(ScenarioSpec& spec, const std::filesystem::path& folder,
                           const InputPathOptions& options = {});

}  // namespace twinsim::scenario
