#pragma once
// The root of twinsim's exception family. Bad user input throws a subclass of
// twinsim::Error whose message names what, where and why; internal invariants
// that fail are bugs and abort through TWINSIM_ASSERT instead.

#include <stdexcept>
#include <string>

namespace twinsim {

/// Base class of every exception twinsim throws for bad input or a failed
/// operation (as opposed to a programming error inside twinsim).
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A file could not be read or written (missing, unreadable, disk full...).
class IoError : public Error {
public:
    using Error::Error;
};

}  // namespace twinsim
