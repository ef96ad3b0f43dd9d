#pragma once
// One define_* function per area of the extension module twinsim._core (Drake's
// habit): module.cpp only declares the module and calls them in order.

#include <pybind11/pybind11.h>

namespace twinsim::python {

/// TwinsimError, TwinsimIoError, ModelError and Diagnostic, and the translation
/// of C++ exceptions into them.
void define_errors(pybind11::module_& m);

/// ModelSet and the views of a compiled model: Interface, Content, Schema, PropertySlot.
void define_dtdl(pybind11::module_& m);

}  // namespace twinsim::python
