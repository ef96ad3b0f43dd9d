// twinsim._core: the compiled half of the twinsim package (re-exported by twinsim/__init__.py).

#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "twinsim's C++ engine (DTDL model sets, the twin graph, queries); use it through the twinsim package.";
    m.attr("__version__") = TWINSIM_VERSION;
    twinsim::python::define_errors(m);
    twinsim::python::define_dtdl(m);
    twinsim::python::define_graph(m);
    twinsim::python::define_query(m);
    twinsim::python::define_routes(m);
    twinsim::python::define_scenario(m);
    twinsim::python::define_ingest(m);
    twinsim::python::define_store(m);
    twinsim::python::define_history(m);
    twinsim::python::define_rules(m);
    twinsim::python::define_lifetime(m);
    twinsim::python::define_prognostics(m);
    twinsim::python::define_weather(m);
}
