// fdal._core.pool_select and pool_select_scratch_bytes: the pool-level rules (docs/selection.md)
// over numpy arrays, with every argument checked (ValueError naming the problem).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <string>

#include "kernels/kernel_table.h"
#include "python/interruptible.h"
#include "python/numpy_args.h"
#include "rank/pool_select.h"

namespace py = pybind11;
using fdal_python::int64_vector;
using fdal_python::run_interruptible;

namespace {

// fdal._core.pool_select: argument checks (ValueError naming the problem), then the C++ rule.
const char* const kPoolParamNames[] = {"min_cluster_size", "k_nn", "max_cells", "delta", "beta", "unit"};

bool rule_has_param(fdal::PoolRule rule, const std::string& name) {
  switch (rule) {
    case fdal::PoolRule::None:
    case fdal::PoolRule::KCenter: return false;
    case fdal::PoolRule::TypiClust: return name == "min_cluster_size" || name == "k_nn" || name == "max_cells";
    case fdal::PoolRule::ProbCover: return name == "k_nn" || name == "delta";
    case fdal::PoolRule::Power:
    case fdal::PoolRule::ClassBalanced: return name == "beta" || name == "unit";
  }
  return false;
}

std::int64_t int_param(const py::handle& v, const std::string& name) {
  if (PyBool_Check(v.ptr()) || !PyLong_Check(v.ptr())) {
    throw std::invalid_argument(name + " must be an integer, got " + std::string(py::repr(v)));
  }
  const std::int64_t x = v.cast<std::int64_t>();
  if (x > (std::int64_t(1) << 62)) throw std::invalid_argument(name + " is too large");
  return x;
}

fdal::PoolParams pool_params(fdal::PoolRule rule, const py::kwargs& kwargs) {
  fdal::PoolParams p;
  for (const auto& item : kwargs) {
    const std::string name = py::str(item.first);
    if (!rule_has_param(rule, name)) {
      std::string known;
      for (const char* k : kPoolParamNames) {
        if (rule_has_param(rule, k)) known += std::string(known.empty() ? "" : ", ") + k;
      }
      throw std::invalid_argument("pool rule '" + std::string(fdal::kPoolRuleNames[int(rule)]) +
                                  "' has no parameter '" + name + "'; its parameters: " +
                                  (known.empty() ? "none" : known));
    }
    const py::handle v = item.second;
    auto int32_param = [&](std::int64_t lo) {
      const std::int64_t x = int_param(v, name);
      if (x < lo) throw std::invalid_argument(name + " = " + std::to_string(x) + " must be >= " + std::to_string(lo));
      return std::int32_t(std::min<std::int64_t>(x, 2147483647));
    };
    if (name == "min_cluster_size") p.min_cluster_size = int32_param(0);
    else if (name == "k_nn") p.k_nn = int32_param(1);
    else if (name == "max_cells") p.max_cells = int32_param(1);
    else if (name == "delta") p.delta = int_param(v, name);
    else if (name == "beta") p.beta = v.cast<double>();
    else if (name == "unit") p.unit = v.cast<double>();
  }
  return p;
}

py::array_t<std::int64_t> pool_select_py(const std::string& name, const py::object& embeddings,
                                         const py::object& scores, std::int64_t k, std::uint64_t seed,
                                         const py::object& pool_indices, const py::object& classes,
                                         const py::object& labeled_counts, const std::string& kernels,
                                         const py::kwargs& kwargs) {
  const fdal::PoolRule rule = fdal::parse_pool_rule(name);
  const fdal::PoolParams params = pool_params(rule, kwargs);
  // The dot products come from a kernel table, chosen as fdal.load chooses one ("auto": FDAL_KERNELS,
  // else the best path this CPU runs); every path gives the same picks.
  const fdal::KernelTable& table = fdal::kernel_table_by_name(kernels);
  fdal::PoolCandidates c;
  py::array_t<std::int8_t, py::array::c_style> emb;
  py::array_t<std::int64_t> sc, pi, cl, lc;
  const bool takes_scores = fdal::pool_rule_takes_scores(rule);
  if (!embeddings.is_none()) {
    if (!py::isinstance<py::array>(embeddings)) throw std::invalid_argument("embeddings must be an int8 numpy array");
    const py::array arr = embeddings.cast<py::array>();
    if (!arr.dtype().equal(py::dtype::of<std::int8_t>())) {
      throw std::invalid_argument("embeddings must be int8, got " + std::string(py::str(arr.dtype())));
    }
    if (arr.ndim() != 2) {
      throw std::invalid_argument("embeddings must have 2 dimensions (n, d), got " + std::to_string(arr.ndim()));
    }
    emb = py::array_t<std::int8_t, py::array::c_style>::ensure(arr);
    c.embeddings = emb.data();
    c.n = emb.shape(0);
    c.d = emb.shape(1);
    c.row_stride = c.d;
    if (c.d < 1 || c.d > fdal::kPoolMaxDim) {
      throw std::invalid_argument("embedding dimension d = " + std::to_string(c.d) + " must be in 1..65536");
    }
  } else if (!takes_scores) {
    throw std::invalid_argument("pool rule '" + name + "' needs embeddings (int8, (n, d))");
  }
  if (!scores.is_none()) {
    if (!takes_scores) throw std::invalid_argument("pool rule '" + name + "' takes no scores (pass None)");
    sc = int64_vector(scores, "scores");
    if (!embeddings.is_none() && sc.shape(0) != c.n) {
      throw std::invalid_argument("embeddings have " + std::to_string(c.n) + " rows but scores have " +
                                  std::to_string(sc.shape(0)));
    }
    c.n = sc.shape(0);
    c.scores = sc.data();
  } else if (takes_scores) {
    throw std::invalid_argument("pool rule '" + name + "' needs scores (int64 keys, smaller = more informative)");
  }
  if (rule == fdal::PoolRule::ClassBalanced) {
    if (classes.is_none()) {
      throw std::invalid_argument("pool rule 'classbalanced' needs classes (int64 predicted classes >= 0)");
    }
    cl = int64_vector(classes, "classes");
    if (cl.shape(0) != c.n) throw std::invalid_argument("classes must have shape (" + std::to_string(c.n) + ",)");
    c.classes = cl.data();
  } else if (!classes.is_none()) {
    throw std::invalid_argument("pool rule '" + name + "' takes no classes (pass None)");
  }
  if (!labeled_counts.is_none()) {
    if (rule != fdal::PoolRule::ClassBalanced) {
      throw std::invalid_argument("pool rule '" + name + "' takes no labeled_counts (only classbalanced does)");
    }
    lc = int64_vector(labeled_counts, "labeled_counts");
    c.labeled_counts = lc.data();
    c.num_labeled_counts = lc.shape(0);
  }
  if (!pool_indices.is_none()) {
    pi = int64_vector(pool_indices, "pool_indices");
    if (pi.shape(0) != c.n) {
      throw std::invalid_argument("pool_indices must have shape (" + std::to_string(c.n) + ",)");
    }
    c.pool_index = pi.data();
  }
  py::array_t<std::int64_t> out(py::ssize_t(std::max<std::int64_t>(k, 0)));
  std::int64_t* picks = out.mutable_data();
  run_interruptible([&](const std::atomic<bool>* cancel) {  // Ctrl-C stops a long selection
    fdal::PoolParams with_cancel = params;
    with_cancel.cancel = cancel;
    fdal::pool_select(rule, c, k, seed, with_cancel, picks, nullptr, 0, &table);
    return 0;
  });
  return out;
}

}  // namespace

void bind_pool_select(py::module_& m) {
  m.def("pool_select", &pool_select_py, py::arg("rule"), py::arg("embeddings"), py::arg("scores"),
        py::arg("k"), py::arg("seed") = 0, py::arg("pool_indices") = py::none(),
        py::arg("classes") = py::none(), py::arg("labeled_counts") = py::none(), py::arg("kernels") = "auto",
        "k candidate positions (int64, pick order) chosen by a pool rule (docs/selection.md).");
  m.def("pool_select_scratch_bytes",
        [](const std::string& name, std::int64_t n, std::int64_t d, std::int64_t k, const py::kwargs& kwargs) {
          const fdal::PoolRule rule = fdal::parse_pool_rule(name);
          return fdal::pool_select_scratch_bytes(rule, n, d, k, pool_params(rule, kwargs));
        },
        py::arg("rule"), py::arg("n"), py::arg("d"), py::arg("k"),
        "Bytes of scratch pool_select allocates for these sizes (its only allocation).");
  py::list pool_rules;
  for (const char* name : fdal::kPoolRuleNames) pool_rules.append(name);
  m.attr("POOL_RULES") = py::tuple(pool_rules);
}
