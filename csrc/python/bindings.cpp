// pybind11 module fdal._core: the Python face of the C++ runtime. python/fdal/runtime.py wraps it
// (argument checks, fdal.FormatError). Images are read in place through their byte strides (no
// copy for non-contiguous arrays or memmaps); the GIL is released during native work.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "format/format_error.h"
#include "python/interruptible.h"
#include "python/numpy_args.h"
#include "format/loader.h"
#include "kernels/kernel_paths.h"
#include "rank/pool_select.h"
#include "rank/ranker.h"
#include "runtime/executor.h"

namespace py = pybind11;

// fdal._core.pool_select, pool_select_scratch_bytes and POOL_RULES (python/pool_select_bindings.cpp).
void bind_pool_select(py::module_& m);

namespace {

using fdal_python::int64_vector;
using fdal_python::run_interruptible;

using ModelPtr = std::shared_ptr<const fdal::Model>;

// The Python Model object: a shared, immutable fdal::Model (rankers keep it alive).
struct PyModel {
  ModelPtr model;
};

// dtype checks compare by equality, not identity: an unpickled array carries an equal dtype object
// that is not numpy's singleton (identity refused CIFAR-10's own pickled uint8 batches).
fdal::ImageView image_view(const py::array& images) {
  if (!images.dtype().equal(py::dtype::of<std::uint8_t>())) {
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

// Long native calls work in chunks of at most kSignalChunk images with the GIL released, and take it
// back between chunks only to let a pending Ctrl-C raise KeyboardInterrupt: a 200,000-image call
// would otherwise ignore SIGINT until its end. Results do not depend on the chunking (each image's
// outputs depend on that image only; the ranker sees the images in the same order).
constexpr std::int64_t kSignalChunk = 256;

void raise_pending_signals() {
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

fdal::ImageView sub_view(const fdal::ImageView& view, std::int64_t begin, std::int64_t count) {
  fdal::ImageView part = view;
  part.data = view.image(begin);
  part.n = count;
  return part;
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
  if (threads < 1) throw std::invalid_argument("threads must be at least 1, got " + std::to_string(threads));
  // One workspace per thread, made once and reused by every chunk.
  std::vector<fdal::Workspace> workspaces;
  {
    py::gil_scoped_release release;
    const std::int64_t used = std::max<std::int64_t>(1, std::min<std::int64_t>(threads, std::min<std::int64_t>(n, kSignalChunk)));
    workspaces.reserve(std::size_t(used));
    for (std::int64_t t = 0; t < used; ++t) workspaces.emplace_back(m);
  }
  const std::int64_t dim_q = m.embedding_dim();
  for (std::int64_t begin = 0; begin < n; begin += kSignalChunk) {
    const std::int64_t count = std::min<std::int64_t>(kSignalChunk, n - begin);
    {
      py::gil_scoped_release release;
      fdal::forward_raw_threads(m, sub_view(view, begin, count), threads, lr + begin * classes,
                                m.has_sampler() ? sr + begin : nullptr, &workspaces,
                                m.has_embedding() ? eq + begin * dim_q : nullptr);
    }
    raise_pending_signals();
  }
  {
    py::gil_scoped_release release;
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
           std::int32_t threads, std::int64_t cap, const py::object& labeled_counts, std::int64_t start_index)
      : model_(model.model), ranker_(*model_, fdal::parse_strategy(strategy), k, seed, threads, cap, start_index) {
    if (!labeled_counts.is_none()) {
      const py::array_t<std::int64_t> lc = int64_vector(labeled_counts, "labeled_counts");
      ranker_.set_labeled_counts(lc.data(), lc.shape(0));
    }
  }
  // pool_indices: None (the next indices after start_index) or int64 (n,), strictly ascending.
  void push(const py::array& images, const py::object& pool_indices) {
    const fdal::ImageView view = image_view(images);
    py::array_t<std::int64_t> indices;
    if (!pool_indices.is_none()) {
      indices = int64_vector(pool_indices, "pool_indices");
      if (indices.shape(0) != view.n) {
        throw std::invalid_argument("pool_indices has " + std::to_string(indices.shape(0)) + " entries for " +
                                    std::to_string(view.n) + " images");
      }
    }
    for (std::int64_t begin = 0; begin < view.n; begin += kSignalChunk) {
      {
        py::gil_scoped_release release;
        ranker_.push(sub_view(view, begin, std::min<std::int64_t>(kSignalChunk, view.n - begin)),
                     pool_indices.is_none() ? nullptr : indices.data() + begin);
      }
      raise_pending_signals();
    }
    if (view.n == 0) {
      py::gil_scoped_release release;
      ranker_.push(view);  // keeps the ranker's own checks (shape) for an empty batch
    }
  }
  py::array_t<std::int64_t> finish() const {
    const std::vector<std::int64_t> best =
        run_interruptible([&](const std::atomic<bool>* cancel) { return ranker_.finish(cancel); });
    py::array_t<std::int64_t> out(py::ssize_t(best.size()));
    std::copy(best.begin(), best.end(), out.mutable_data());
    return out;
  }
  // finish() with each pick's encoded ranking key (rank/keys.h: order-preserving uint64), so a
  // sharded ranking can be merged exactly (python/fdal/merge.py decodes them).
  py::tuple finish_entries() const {
    const std::vector<fdal::TopK::Entry> entries =
        run_interruptible([&](const std::atomic<bool>* cancel) { return ranker_.finish_entries(cancel); });
    py::array_t<std::int64_t> indices(py::ssize_t(entries.size()));
    py::array_t<std::uint64_t> keys(py::ssize_t(entries.size()));
    for (std::size_t i = 0; i < entries.size(); ++i) {
      keys.mutable_data()[i] = entries[i].first;
      indices.mutable_data()[i] = entries[i].second;
    }
    return py::make_tuple(indices, keys);
  }
  // Pool-level: the candidates in pool-index order as numpy arrays, what a shard part stores.
  py::dict finish_candidates() const {
    const fdal::CandidateStore& c = ranker_.finish_candidates();
    const py::ssize_t n = py::ssize_t(c.size()), dim = py::ssize_t(c.dim());
    py::array_t<std::int64_t> indices(n), margins(n), classes(n);
    py::array_t<std::uint64_t> rkeys(n);
    for (py::ssize_t i = 0; i < n; ++i) {
      indices.mutable_data()[i] = c.indices()[i];
      rkeys.mutable_data()[i] = c.random_keys()[i];
      margins.mutable_data()[i] = c.margin_keys()[i];
      classes.mutable_data()[i] = c.classes()[i];
    }
    py::dict out;
    out["indices"] = indices;
    out["random_keys"] = rkeys;
    out["margin_keys"] = margins;
    out["classes"] = classes;
    if (dim > 0) {
      py::array_t<std::int8_t> embeddings({n, dim});
      if (n > 0) std::copy(c.embeddings(), c.embeddings() + n * dim, embeddings.mutable_data());
      out["embeddings"] = embeddings;
    } else {
      out["embeddings"] = py::none();
    }
    return out;
  }
  std::int64_t seen() const { return ranker_.seen(); }
  std::int64_t forwarded() const { return ranker_.forwarded(); }

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
      .def(py::init<const PyModel&, const std::string&, std::int64_t, std::uint64_t, std::int32_t, std::int64_t,
                    const py::object&, std::int64_t>(),
           py::arg("model"), py::arg("strategy"), py::arg("k"), py::arg("seed"), py::arg("threads") = 1,
           py::arg("cap") = fdal::Ranker::kDefaultCap, py::arg("labeled_counts") = py::none(),
           py::arg("start_index") = 0)
      .def("push", &PyRanker::push, py::arg("images"), py::arg("pool_indices") = py::none())
      .def("finish", &PyRanker::finish)
      .def("finish_entries", &PyRanker::finish_entries)
      .def("finish_candidates", &PyRanker::finish_candidates)
      .def_property_readonly("seen", &PyRanker::seen)
      .def_property_readonly("forwarded", &PyRanker::forwarded);

  m.def("random_keys", [](const py::object& pool_indices, std::uint64_t seed) {
    const py::array_t<std::int64_t> idx = int64_vector(pool_indices, "pool_indices");
    py::array_t<std::uint64_t> out(idx.shape(0));
    for (py::ssize_t i = 0; i < idx.shape(0); ++i) out.mutable_data()[i] = fdal::random_key(seed, idx.data()[i]);
    return out;
  }, py::arg("pool_indices"), py::arg("seed"),
     "The random strategy's uint64 key of each pool index (rank/keys.h random_key; wrapping arithmetic).");

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

  bind_pool_select(m);

  // The C++ strategy table (rank/strategy_table.h), row by row: (name, needs_sampler,
  // needs_embedding, pool rule or None, key dtype); fdal.strategies is checked against it.
  py::list strategies, table;
  for (const fdal::StrategyInfo& s : fdal::kStrategyTable) {
    strategies.append(s.name);
    const py::object rule = s.rule == fdal::PoolRule::None ? py::object(py::none())
                                                            : py::object(py::str(fdal::kPoolRuleNames[int(s.rule)]));
    table.append(py::make_tuple(s.name, s.needs_sampler, s.needs_embedding, rule,
                                fdal::kKeyTypeNames[int(s.key)]));
  }
  m.attr("STRATEGIES") = py::tuple(strategies);
  m.attr("STRATEGY_TABLE") = py::tuple(table);
  m.attr("DEFAULT_CAP") = fdal::Ranker::kDefaultCap;  // fdal.strategies.DEFAULT_CAP (checked by a test)
}
