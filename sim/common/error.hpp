#pragma once
// The root of twinsim's exception family. Bad user input throws a subclass of
// twinsim::Error whose message names what, where and why; internal invariants
// that fail are bugs and abort through TWINSIM_ASSERT (common/assert.hpp)
// instead.

#include <stdexcept>
#include <string>

namespace twinsim {

/// Base class of every exception twinsim throws for bad input or a failed
/// operation (as opposed to a programming error inside twinsim).
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A caller broke a documented precondition of a twinsim API (a behaviour
/// model reading a parameter it did not declare, a change listener writing
/// the graph it is notified by): a bug in the calling code, reported by name
/// rather than by aborting, since the caller is not twinsim.
class UsageError : public Error {
public:
    using Error::Error;
};

/// A file could not be read or written (missing, unreadable, disk full...).
class IoError : public Error {
public:
    using Error::Error;
};

}  // namespace twinsim
