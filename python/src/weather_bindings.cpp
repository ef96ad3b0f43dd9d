// TMY3 weather from Python (models/building/weather.hpp): twinsim.read_tmy3
// returns the station and the hourly columns as numpy arrays, the same reader
// thermal_zones' weather_file uses; twinsim.WeatherInputError.

#include <pybind11/numpy.h>
#include <pybind11/stl/filesystem.h>

#include <cstdint>
#include <filesystem>
#include <vector>

#include "bindings.hpp"
#include "models/building/weather.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

PyObject* weather_input_error = nullptr;

template <class T>
py::array_t<T> to_array(std::vector<T> values) {
    auto* owner = new std::vector<T>(std::move(values));
    py::capsule free(owner, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    const std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(owner->size())};
    const std::vector<py::ssize_t> strides{static_cast<py::ssize_t>(sizeof(T))};
    return py::array_t<T>(shape, strides, owner->data(), free);
}

py::dict weather_dict(models::Tmy3Weather w) {
    py::dict station;
    station["id"] = w.station.id;
    station["name"] = w.station.name;
    station["state"] = w.station.state;
    station["utc_offset"] = w.station.utc_offset;
    station["latitude"] = w.station.latitude;
    station["longitude"] = w.station.longitude;
    station["elevation"] = w.station.elevation;
    py::dict out;
    out["station"] = station;
    out["source"] = w.source;
    out["year"] = to_array(std::move(w.year));
    out["month"] = to_array(std::move(w.month));
    out["day"] = to_array(std::move(w.day));
    out["hour"] = to_array(std::move(w.hour));
    out["dry_bulb"] = to_array(std::move(w.dry_bulb));
    out["dew_point"] = to_array(std::move(w.dew_point));
    out["relative_humidity"] = to_array(std::move(w.relative_humidity));
    out["pressure"] = to_array(std::move(w.pressure));
    out["wind_direction"] = to_array(std::move(w.wind_direction));
    out["wind_speed"] = to_array(std::move(w.wind_speed));
    out["ghi"] = to_array(std::move(w.ghi));
    out["dni"] = to_array(std::move(w.dni));
    out["dhi"] = to_array(std::move(w.dhi));
    out["total_cloud"] = to_array(std::move(w.total_cloud));
    return out;
}

}  // namespace

void define_weather(py::module_& m) {
    weather_input_error = new_exception(
        m, "WeatherInputError", py::make_tuple(m.attr("TwinsimError"), py::handle(PyExc_ValueError)).ptr(),
        "A weather file that cannot be read: the message names the file, line and field and why. Also a ValueError.");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const models::WeatherInputError& e) {
            PyErr_SetString(weather_input_error, e.what());
        }
    });
    m.def(
        "read_tmy3",
        [](const std::filesystem::path& file) {
            models::Tmy3Weather w;
            {
                py::gil_scoped_release release;
                w = models::read_tmy3(file);
            }
            return weather_dict(std::move(w));
        },
        py::arg("file"),
        "Reads a TMY3 weather file (CSV, plain or gzip; models/building/weather.md): a dict with 'station' (id, "
        "name, state, utc_offset h, latitude, longitude, elevation m), 'source', and 8,760 hourly values each of "
        "'year', 'month', 'day', 'hour' (1-24, the hour ending then, local standard time), 'dry_bulb' and "
        "'dew_point' (degC), 'relative_humidity' (%), 'pressure' (mbar), 'wind_direction' (deg), 'wind_speed' "
        "(m/s), 'ghi', 'dni', 'dhi' (W/m2, the hour's mean) and 'total_cloud' (tenths); missing values are NaN. "
        "Raises WeatherInputError (naming file, line and field) or TwinsimIoError.");
}

}  // namespace twinsim::python
