// Numpy arguments shared by the binding files: checks that raise std::invalid_argument (a
// ValueError in Python) naming the argument, never a TypeError.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace fdal_python {

// A 1-D int64 numpy array.
inline pybind11::array_t<std::int64_t> int64_vector(const pybind11::object& a, const char* what) {
  namespace py = pybind11;
  if (!py::isinstance<py::array>(a)) throw std::invalid_argument(std::string(what) + " must be an int64 numpy array");
  const py::array arr = a.cast<py::array>();
  if (!arr.dtype().equal(py::dtype::of<std::int64_t>())) {
    throw std::invalid_argument(std::string(what) + " must be int64, got " + std::string(py::str(arr.dtype())));
  }
  if (arr.ndim() != 1) throw std::invalid_argument(std::string(what) + " must have 1 dimension");
  return py::array_t<std::int64_t, py::array::c_style>::ensure(arr);
}

}  // namespace fdal_python
