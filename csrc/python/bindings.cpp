// pybind11 module fdal._core: the Python face of the C++ runtime. python/fdal/runtime.py wraps it
// (argument checks, fdal.FormatError). Images are read in place through their byte strides (no
// copy for non-contiguous arrays or memmaps); the GIL is released during native work.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "format/format_error.h"
#include "format/loader.h"
#include "kernels/kernel_paths.h"
#include "rank/ranker.h"
#include "runtime/executor.h"

namespace py = pybind11;

namespace {

using ModelPtr = std::shared_ptr<const fdal::Model>;

// The Python Model object: a shared, immutable fdal::Model (rankers keep it alive).
struct PyModel {
  ModelPtr model;
};

fdal::ImageView image_view(const py::array& images) {
  if (!images.dtype().is(py::dtype::of<std::uint8_t>())) {
    throw std::invalid_argument("images must be uint8, got " + std::string(py::str(images.dtype())));
  }
  if (images.ndim() != 4) {
    throw std::invalid_argument("images must have 4 dimensions (N, H, W, C), got " +
                                std::to_string(images.ndim()));
  }
  fdal::ImageView v;
  v.data = static_cast<const std::uint8_t*>(images.data());
  v.n = images.shape(0);
  v.h = images.shape(1);
  v.w = images.shape(2);
  v.c = images.shape(3);
  v.stride_n = images.strides(0);
  v.stride_h = images.strides(1);
  v.stride_w = images.strides(2);
  v.stride_c = images.strides(3);
  return v;
}

py::tuple shape_tuple(const fdal::TensorShape& s) { return py::make_tuple(s.h, s.w, s.c); }

py::dict info_dict(const fdal::Model& m) {
  py::list layers;
  for (const fdal::Layer& L : m.layers) {
    const fdal::OpParams& p = L.params;
    py::dict d;
    d["op"] = fdal::op_name(L.op);
    d["input"] = L.input_layer;
    d["in_shape"] = shape_tuple(p.in);
    d["out_shape"] = shape_tuple(p.out);
    d["out_kind"] = L.out_kind == fdal::OutKind::Int32 ? "int32" : "int8";
    d["kernel"] = py::make_tuple(p.kernel_h, p.kernel_w);
    d["stride"] = py::make_tuple(p.stride_h, p.stride_w);
    d["pad"] = py::make_tuple(p.pad_top, p.pad_left, p.pad_bottom, p.pad_right);
    d["in_scale"] = L.in_scale;
    d["out_scale"] = L.out_scale;
    d["in_zero_point"] = p.in_zero_point;
    d["out_zero_point"] = p.out_zero_point;
    d["act_min"] = p.act_min;
    d["act_max"] = p.act_max;
    d["weight_bytes"] = L.weight_bytes;
    layers.append(d);
  }
  py::dict info;
  info["layers"] = layers;
  info["input_shape"] = shape_tuple(m.input_shape);
  info["input_scale"] = m.input_scale;
  info["input_zero_point"] = m.input_zero_point;
  info["num_classes"] = m.num_classes;
  info["has_sampler"] = m.has_sampler();
  info["logits_layer"] = m.logits_layer;
  info["score_layer"] = m.score_layer;
  info["embedding_layer"] = m.embedding_layer;
  info["embedding_dim"] = m.embedding_dim();
  if (m.has_embedding()) {
    const fdal::Layer& e = m.layers[std::size_t(m.embedding_layer)];
    info["embedding_scale"] = e.out_scale;
    info["embedding_zero_point"] = e.params.out_zero_point;
  } else {
    info["embedding_scale"] = py::none();
    info["embedding_zero_point"] = py::none();
  }
  info["weight_bytes"] = m.weight_bytes;
  info["arena_bytes"] = m.arena_bytes();
  info["format_version"] = py::make_tuple(m.version_major, m.version_minor);
  info["file_bytes"] = m.file_bytes();
  info["kernels"] = m.kernels->name;
  info["packed_bytes"] = m.packed_bytes;
  info["scratch_bytes"] = m.scratch_bytes;
  return info;
}

py::dict forward(const PyModel& self, const py::array& images, std::int32_t threads) {
  const fdal::Model& m = *self.model;
  const fdal::ImageView view = image_view(images);
  const py::ssize_t n = view.n, classes = m.num_classes;
  py::array_t<std::int32_t> logits_raw({n, classes});
  py::array_t<float> logits({n, classes});
  py::array_t<std::int32_t> score_raw(m.has_sampler() ? n : 0);
  py::array_t<float> score(m.has_sampler() ? n : 0);
  const py::ssize_t dim = py::ssize_t(m.embedding_dim());
  py::array_t<std::int8_t> embedding_q({m.has_embedding() ? n : 0, dim});
  py::array_t<float> embedding({m.has_embedding() ? n : 0, dim});
  std::int32_t* lr = logits_raw.mutable_data();
  float* lf = logits.mutable_data();
  std::int32_t* sr = score_raw.mutable_data();
  float* sf = score.mutable_data();
  std::int8_t* eq = embedding_q.mutable_data();
  float* ef = embedding.mutable_data();
  {
    py::gil_scoped_release release;
    fdal::forward_raw_threads(m, view, threads, lr, m.has_sampler() ? sr : nullptr, nullptr,
                              m.has_embedding() ? eq : nullptr);
    fdal::logits_from_raw(m, lr, n, lf);
    if (m.has_sampler()) fdal::scores_from_raw(m, sr, n, sf);
    if (m.has_embedding()) fdal::embedding_from_q(m, eq, n, ef);
  }
  py::dict out;
  out["logits"] = logits;
  out["logits_raw"] = logits_raw;
  if (m.has_sampler()) {
    out["score"] = score;
    out["score_raw"] = score_raw;
  }
  if (m.has_embedding()) {
    out["embedding"] = embedding;
    out["embedding_q"] = embedding_q;
  }
  return out;
}

// A Ranker that keeps its model alive.
class PyRanker {
 public:
  PyRanker(const PyModel& model, const std::string& strategy, std::int64_t k, std::uint64_t seed,
           std::int32_t threads)
      : model_(model.model), ranker_(*model_, fdal::parse_strategy(strategy), k, seed, threads) {}
  void push(const py::array& images) {
    const fdal::ImageView view = image_view(images);
    py::gil_scoped_release release;
    ranker_.push(view);
  }
  py::array_t<std::int64_t> finish() const {
    const std::vector<std::int64_t> best = ranker_.finish();
    py::array_t<std::int64_t> out(py::ssize_t(best.size()));
    std::copy(best.begin(), best.end(), out.mutable_data());
    return out;
  }
  std::int64_t seen() const { return ranker_.seen(); }

 private:
  ModelPtr model_;
  fdal::Ranker ranker_;
};

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fdal native int8 runtime (see python/fdal/runtime.py for the public API)";
  py::register_exception<fdal::FormatError>(m, "FormatError", PyExc_ValueError);

  py::class_<PyModel>(m, "Model")
      .def_static(
          "from_bytes",
          [](const py::bytes& data, const std::string& kernels) {
            char* buffer = nullptr;
            py::ssize_t size = 0;
            if (PyBytes_AsStringAndSize(data.ptr(), &buffer, &size) != 0) throw py::error_already_set();
            py::gil_scoped_release release;
            return PyModel{ModelPtr(fdal::load_model(buffer, std::size_t(size), kernels))};
          },
          py::arg("data"), py::arg("kernels") = "auto")
      .def_static(
          "from_file",
          [](const std::string& path, const std::string& kernels) {
            py::gil_scoped_release release;
            return PyModel{ModelPtr(fdal::load_model_file(path, kernels))};
          },
          py::arg("path"), py::arg("kernels") = "auto")
      .def("info", [](const PyModel& self) { return info_dict(*self.model); })
      .def("forward", &forward, py::arg("images"), py::arg("threads") = 1);

  py::class_<PyRanker>(m, "Ranker")
      .def(py::init<const PyModel&, const std::string&, std::int64_t, std::uint64_t, std::int32_t>(),
           py::arg("model"), py::arg("strategy"), py::arg("k"), py::arg("seed"), py::arg("threads") = 1)
      .def("push", &PyRanker::push, py::arg("images"))
      .def("finish", &PyRanker::finish)
      .def_property_readonly("seen", &PyRanker::seen);

  m.def("profile_layers", [](const PyModel& self, const py::array& images) {
    const fdal::Model& model = *self.model;
    const fdal::ImageView view = image_view(images);
    std::vector<double> seconds(model.layers.size() + 1);
    {
      py::gil_scoped_release release;
      fdal::Workspace workspace(model);
      fdal::profile_layers(model, view, workspace, seconds.data());
    }
    py::list out;
    for (double s : seconds) out.append(s);
    return out;
  }, py::arg("model"), py::arg("images"),
     "Seconds spent in the input lookup and in each layer over the images (benchmarks only).");

  m.def("kernel_paths", [] {
    py::list names;
    for (const std::string& name : fdal::available_kernel_paths()) names.append(name);
    return py::tuple(names);
  }, "Kernel paths this CPU can run, best first (\"reference\" last).");

  m.def("built_kernel_paths", [] {
    py::list names;
    for (const fdal::KernelPath& path : fdal::kernel_paths_of_this_build()) names.append(path.name);
    return py::tuple(names);
  }, "Every kernel path of this build, best first, including those this CPU cannot run.");

  py::list strategies;
  for (const char* name : fdal::kStrategyNames) strategies.append(name);
  m.attr("STRATEGIES") = py::tuple(strategies);
}
