// Compiles one interface through the installed library and checks the result.
#include <iostream>
#include <twinsim/dtdl/model_set.hpp>

int main() {
    const twinsim::dtdl::Document doc{"<consumer>", R"({
        "@context": "dtmi:dtdl:context;3",
        "@id": "dtmi:example:Pump;1",
        "@type": "Interface",
        "contents": [{"@type": "Property", "name": "speed", "schema": "double"}]
    })"};
    const auto models = twinsim::dtdl::ModelSet::compile({&doc, 1});
    const auto& pump = models->get("dtmi:example:Pump;1");
    if (models->size() != 1 || pump.layout.find("speed") == nullptr) {
        std::cerr << "consumer: unexpected model set\n";
        return 1;
    }
    std::cout << "consumer: compiled " << models->size() << " interface\n";
    return 0;
}
