#pragma once
// The io layer's exception family.

#include <string>
#include <utility>

#include "twinsim/common/error.hpp"

namespace twinsim::io {

/// A results file could not be created, written, renamed or read. what() names
/// the file and the operation; hdf5_stack() holds HDF5's own error stack (one
/// frame per line, innermost last) when the failure came from HDF5, else "".
class ResultsError : public IoError {
public:
    ResultsError(const std::string& message, std::string path, std::string hdf5_stack = {})
        : IoError(message), path_(std::move(path)), hdf5_stack_(std::move(hdf5_stack)) {}
    /// The file the operation was about (the final name, not the temporary one).
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    /// HDF5's error stack text, or "" for errors twinsim detected itself.
    [[nodiscard]] const std::string& hdf5_stack() const noexcept { return hdf5_stack_; }

private:
    std::string path_;
    std::string hdf5_stack_;
};

}  // namespace twinsim::io
