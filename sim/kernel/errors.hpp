#pragma once
// The kernel's exceptions: misuse that a caller can make from input data
// (a negative delay, an invalid distribution parameter, a bad handle).

#include "twinsim/common/error.hpp"

namespace twinsim::kernel {

/// Thrown for a bad argument to the kernel: scheduling in the past or at a
/// non-finite time, a distribution parameter out of range, an unknown handler.
class KernelError : public Error {
public:
    using Error::Error;
};

}  // namespace twinsim::kernel
