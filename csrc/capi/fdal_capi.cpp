// The C API over the C++ classes: every entry point catches everything (including bad_alloc) and
// turns it into an fdal_status plus a thread-local message.
#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "capi/capi_guard.h"
#include "fdal/fdal.h"
#include "format/format_error.h"
#include "format/loader.h"
#include "rank/pool_select.h"
#include "rank/ranker.h"
#include "runtime/executor.h"

struct fdal_model {
  std::unique_ptr<const fdal::Model> model;
};

struct fdal_ranker {
  std::unique_ptr<fdal::Ranker> ranker;
};

// Everything fdal_forward_ws needs, made once: one Workspace per thread and the score_raw buffer
// used when the caller asks for float scores only.
struct fdal_workspace {
  static constexpr std::int64_t kScoreChunk = 256;  // images per thread per chunk of that buffer
  const fdal::Model* model = nullptr;
  std::int32_t threads = 1;
  std::vector<fdal::Workspace> arenas;
  std::vector<std::int32_t> score_scratch;
};

namespace fdal {
namespace capi {

std::string& last_error() {
#if defined(FDAL_NO_THREADS)
  static std::string message;  // bare metal: one thread, and no thread pointer for thread_local
#else
  thread_local std::string message;
#endif
  return message;
}

}  // namespace capi
}  // namespace fdal

namespace {

using fdal::capi::guarded;
using fdal::capi::require;

fdal::ImageView to_view(const fdal_images* images) {
  require(images != nullptr, "images is NULL");
  require(images->n >= 0, "images->n is negative");
  require(images->n == 0 || images->data != nullptr, "images->data is NULL");
  fdal::ImageView v;
  v.data = images->data;
  v.n = images->n;
  v.h = images->h;
  v.w = images->w;
  v.c = images->c;
  v.stride_n = images->stride_n;
  v.stride_h = images->stride_h;
  v.stride_w = images->stride_w;
  v.stride_c = images->stride_c;
  return v;
}

// The body of every forward call. When float scores are asked for without score_raw, the raw
// scores go through `scratch` (scratch_n int32), so the images run in chunks of scratch_n.
void forward_checked(const fdal::Model& m, const fdal::ImageView& view, std::int32_t threads,
                     std::vector<fdal::Workspace>* arenas, std::int32_t* scratch,
                     std::int64_t scratch_n, std::int32_t* logits_raw, std::int32_t* score_raw,
                     float* logits, float* score, std::int8_t* embedding) {
  require(logits_raw != nullptr, "logits_raw is NULL");
  require(score == nullptr || m.has_sampler(), "score requested but the model has no sampler");
  require(embedding == nullptr || m.has_embedding(),
          "embedding requested but the model has no embedding (re-export it: `fdal export` writes one)");
  const bool use_scratch = score != nullptr && score_raw == nullptr;
  const std::int64_t chunk = use_scratch ? scratch_n : std::max<std::int64_t>(view.n, 1);
  std::int64_t start = 0;
  do {  // at least once, so that an empty batch still has its shape checked
    fdal::ImageView part = view;
    part.n = std::min(chunk, view.n - start);
    if (start > 0) part.data = view.image(start);
    std::int32_t* logits_out = logits_raw + start * m.num_classes;
    std::int32_t* score_out = use_scratch ? scratch : (score_raw != nullptr ? score_raw + start : nullptr);
    std::int8_t* embedding_out = embedding != nullptr ? embedding + start * m.embedding_dim() : nullptr;
    fdal::forward_raw_threads(m, part, threads, logits_out, m.has_sampler() ? score_out : nullptr, arenas,
                              embedding_out);
    if (logits != nullptr) fdal::logits_from_raw(m, logits_out, part.n, logits + start * m.num_classes);
    if (score != nullptr) fdal::scores_from_raw(m, score_out, part.n, score + start);
    start += part.n;
  } while (start < view.n);
}

// A chosen image's key in its strategy's documented type, from the ranker's encoding (keys.h).
fdal_rank_key decode_key(fdal::Strategy strategy, std::uint64_t order) {
  fdal_rank_key key{};
  key.order = order;
  switch (fdal::strategy_info(strategy).key) {  // pool-level: each pick's margin key (fdal.h)
    case fdal::KeyType::Int32:
      key.type = FDAL_KEY_INT32;
      key.value.i32 = std::int32_t(fdal::decode_int64(order));
      break;
    case fdal::KeyType::Int64:
      key.type = FDAL_KEY_INT64;
      key.value.i64 = fdal::decode_int64(order);
      break;
    case fdal::KeyType::Float64: {
      key.type = FDAL_KEY_FLOAT64;
      const double v = fdal::decode_double(order);
      // The encoding merges -0.0 and +0.0; -H is -0.0 whenever H is zero (H = +0.0 then).
      key.value.f64 = v == 0.0 ? -0.0 : v;
      break;
    }
    case fdal::KeyType::UInt64:
      key.type = FDAL_KEY_UINT64;
      key.value.u64 = order;
      break;
  }
  return key;
}

// The earlier positional forward calls as fdal_forward_run's outputs and options.
fdal_status forward_positional(const fdal_model* model, fdal_workspace* workspace, std::int32_t threads,
                               const fdal_images* images, std::int32_t* logits_raw, std::int32_t* score_raw,
                               float* logits, float* score, std::int8_t* embedding) {
  const fdal_forward_outputs out{sizeof(fdal_forward_outputs), logits_raw, score_raw, logits, score, embedding};
  const fdal_forward_options options{sizeof(fdal_forward_options), threads, workspace};
  return fdal_forward_run(model, images, &out, &options);
}

// The options of the positional ranker forms.
fdal_ranker_options ranker_options(int32_t threads, int64_t cap) {
  fdal_ranker_options o;
  fdal_ranker_options_init(&o);
  o.threads = threads;
  o.cap = cap;
  return o;
}

}  // namespace

extern "C" {

const char* fdal_last_error(void) { return fdal::capi::last_error().c_str(); }

const char* fdal_status_name(fdal_status status) {
  switch (status) {
    case FDAL_OK: return "FDAL_OK";
    case FDAL_ERR_INVALID_ARGUMENT: return "FDAL_ERR_INVALID_ARGUMENT";
    case FDAL_ERR_FORMAT: return "FDAL_ERR_FORMAT";
    case FDAL_ERR_NO_MEMORY: return "FDAL_ERR_NO_MEMORY";
    case FDAL_ERR_INTERNAL: return "FDAL_ERR_INTERNAL";
  }
  return "FDAL_ERR_UNKNOWN";
}

fdal_status fdal_model_load_memory(const void* data, size_t size, fdal_model** out) {
  return fdal_model_load_memory_kernels(data, size, "auto", out);
}

fdal_status fdal_model_load_memory_kernels(const void* data, size_t size, const char* kernels,
                                           fdal_model** out) {
  return guarded([&] {
    require(out != nullptr, "out is NULL");
    require(kernels != nullptr, "kernels is NULL");
    *out = nullptr;
    auto handle = std::make_unique<fdal_model>();
    handle->model = fdal::load_model(data, size, kernels);
    *out = handle.release();
  });
}

fdal_status fdal_model_load_memory_in_place(const void* data, size_t size, const char* kernels, fdal_model** out) {
  return guarded([&] {
    require(out != nullptr, "out is NULL");
    require(kernels != nullptr, "kernels is NULL");
    *out = nullptr;
    auto handle = std::make_unique<fdal_model>();
    handle->model = fdal::load_model_in_place(data, size, kernels);
    *out = handle.release();
  });
}

const char* fdal_kernel_paths(void) {
  static const std::string joined = [] {
    std::string s;
    for (const std::string& name : fdal::available_kernel_paths()) s += (s.empty() ? "" : ",") + name;
    return s;
  }();
  return joined.c_str();
}

fdal_status fdal_model_load_file(const char* path, fdal_model** out) {
  return guarded([&] {
    require(out != nullptr, "out is NULL");
    require(path != nullptr, "path is NULL");
    *out = nullptr;
    auto handle = std::make_unique<fdal_model>();
    handle->model = fdal::load_model_file(path);
    *out = handle.release();
  });
}

void fdal_model_free(fdal_model* model) { delete model; }

fdal_status fdal_model_get_info(const fdal_model* model, fdal_model_info* info) {
  return guarded([&] {
    require(model != nullptr && info != nullptr, "model or info is NULL");
    const fdal::Model& m = *model->model;
    info->input_h = m.input_shape.h;
    info->input_w = m.input_shape.w;
    info->input_c = m.input_shape.c;
    info->num_classes = m.num_classes;
    info->num_layers = std::int32_t(m.layers.size());
    info->has_sampler = m.has_sampler() ? 1 : 0;
    info->version_major = m.version_major;
    info->version_minor = m.version_minor;
    info->weight_bytes = m.weight_bytes;
    info->arena_bytes = m.arena_bytes();
    info->file_bytes = m.file_bytes();
    info->kernels = m.kernels->name;
  });
}

void fdal_forward_outputs_init(fdal_forward_outputs* outputs) {
  if (!outputs) return;
  std::memset(outputs, 0, sizeof(*outputs));
  outputs->size = sizeof(*outputs);
}

void fdal_forward_options_init(fdal_forward_options* options) {
  if (!options) return;
  std::memset(options, 0, sizeof(*options));
  options->size = sizeof(*options);
  options->threads = 1;
}

fdal_status fdal_forward_run(const fdal_model* model, const fdal_images* images, const fdal_forward_outputs* outputs,
                             const fdal_forward_options* options) {
  return guarded([&] {
    require(outputs != nullptr, "outputs is NULL");
    fdal::capi::require_struct_size(outputs, outputs->size, sizeof(fdal_forward_outputs), "fdal_forward_outputs");
    fdal_forward_options o;
    fdal_forward_options_init(&o);
    if (options != nullptr) {
      fdal::capi::require_struct_size(options, options->size, sizeof(fdal_forward_options), "fdal_forward_options");
      o = *options;
    }
    const fdal_forward_outputs& out = *outputs;
    if (o.workspace != nullptr) {
      fdal_workspace& ws = *o.workspace;
      require(model == nullptr || model->model.get() == ws.model, "the workspace was made for another model");
      forward_checked(*ws.model, to_view(images), ws.threads, &ws.arenas, ws.score_scratch.data(),
                      std::int64_t(ws.score_scratch.size()), out.logits_raw, out.score_raw, out.logits, out.score,
                      out.embedding);
      return;
    }
    require(o.threads >= 1, "threads must be at least 1");
    require(model != nullptr, "model is NULL");
    const fdal::ImageView view = to_view(images);
    std::vector<std::int32_t> scratch;  // this call's score_raw when only float scores are asked for
    if (out.score != nullptr && out.score_raw == nullptr) scratch.resize(std::size_t(std::max<std::int64_t>(view.n, 1)));
    // No workspaces: forward_raw_threads makes one per thread for this call.
    forward_checked(*model->model, view, o.threads, nullptr, scratch.data(), std::int64_t(scratch.size()),
                    out.logits_raw, out.score_raw, out.logits, out.score, out.embedding);
  });
}

fdal_status fdal_forward(const fdal_model* model, const fdal_images* images, int32_t* logits_raw,
                         int32_t* score_raw, float* logits, float* score) {
  return forward_positional(model, nullptr, 1, images, logits_raw, score_raw, logits, score, nullptr);
}

fdal_status fdal_forward_threads(const fdal_model* model, const fdal_images* images,
                                 int32_t threads, int32_t* logits_raw, int32_t* score_raw,
                                 float* logits, float* score) {
  return forward_positional(model, nullptr, threads, images, logits_raw, score_raw, logits, score, nullptr);
}

fdal_status fdal_model_get_embedding_info(const fdal_model* model, fdal_embedding_info* info) {
  return guarded([&] {
    require(model != nullptr && info != nullptr, "model or info is NULL");
    const fdal::Model& m = *model->model;
    *info = fdal_embedding_info{};
    info->has_embedding = m.has_embedding() ? 1 : 0;
    info->layer = m.embedding_layer;
    info->dim = m.embedding_dim();
    if (m.has_embedding()) {
      const fdal::Layer& L = m.layers[std::size_t(m.embedding_layer)];
      info->scale = L.out_scale;
      info->zero_point = L.params.out_zero_point;
    }
  });
}

fdal_status fdal_forward_embedding(const fdal_model* model, const fdal_images* images, int32_t threads,
                                   int32_t* logits_raw, int32_t* score_raw, float* logits, float* score,
                                   int8_t* embedding) {
  return forward_positional(model, nullptr, threads, images, logits_raw, score_raw, logits, score, embedding);
}

fdal_status fdal_workspace_create(const fdal_model* model, int32_t threads, fdal_workspace** out) {
  return guarded([&] {
    require(out != nullptr, "out is NULL");
    *out = nullptr;
    require(model != nullptr, "model is NULL");
    require(threads >= 1, "threads must be at least 1");
    auto handle = std::make_unique<fdal_workspace>();
    handle->model = model->model.get();
    handle->threads = threads;
    handle->arenas.reserve(std::size_t(threads));
    for (std::int32_t t = 0; t < threads; ++t) handle->arenas.emplace_back(*handle->model);
    if (handle->model->has_sampler()) {
      handle->score_scratch.resize(std::size_t(fdal_workspace::kScoreChunk * threads));
    }
    *out = handle.release();
  });
}

void fdal_workspace_free(fdal_workspace* workspace) { delete workspace; }

fdal_status fdal_forward_ws(fdal_workspace* workspace, const fdal_images* images,
                            int32_t* logits_raw, int32_t* score_raw, float* logits, float* score) {
  return fdal_forward_ws_embedding(workspace, images, logits_raw, score_raw, logits, score, nullptr);
}

fdal_status fdal_forward_ws_embedding(fdal_workspace* workspace, const fdal_images* images,
                                      int32_t* logits_raw, int32_t* score_raw, float* logits,
                                      float* score, int8_t* embedding) {
  if (workspace == nullptr) return guarded([] { require(false, "workspace is NULL"); });
  return forward_positional(nullptr, workspace, 1, images, logits_raw, score_raw, logits, score, embedding);
}

int32_t fdal_strategy_count(void) { return fdal::kNumStrategies; }

const char* fdal_strategy_name(int32_t index) {
  return index >= 0 && index < fdal::kNumStrategies ? fdal::kStrategyTable[index].name : nullptr;
}

void fdal_ranker_options_init(fdal_ranker_options* options) {
  if (!options) return;
  std::memset(options, 0, sizeof(*options));
  options->size = sizeof(*options);
  options->threads = 1;
  options->cap = FDAL_DEFAULT_CAP;
}

fdal_status fdal_ranker_create_with(const fdal_model* model, const char* strategy, int64_t k, uint64_t seed,
                                    const fdal_ranker_options* options, fdal_ranker** out) {
  static_assert(FDAL_DEFAULT_CAP == fdal::Ranker::kDefaultCap, "fdal.h and ranker.h disagree on the cap");
  return guarded([&] {
    require(out != nullptr, "out is NULL");
    *out = nullptr;
    require(model != nullptr, "model is NULL");
    require(strategy != nullptr, "strategy is NULL");
    fdal_ranker_options o;
    fdal_ranker_options_init(&o);
    if (options != nullptr) {
      fdal::capi::require_struct_size(options, options->size, sizeof(fdal_ranker_options), "fdal_ranker_options");
      o = *options;
    }
    auto handle = std::make_unique<fdal_ranker>();
    // fdal::Ranker checks strategy (its sampler or embedding), k, threads, cap, start_index and the
    // labeled counts, with messages that name them.
    handle->ranker = std::make_unique<fdal::Ranker>(*model->model, fdal::parse_strategy(strategy), k, seed,
                                                    o.threads, o.cap, o.start_index);
    if (o.labeled_counts != nullptr || o.num_labeled_counts != 0) {
      handle->ranker->set_labeled_counts(o.labeled_counts, o.num_labeled_counts);
    }
    *out = handle.release();
  });
}

fdal_status fdal_ranker_create(const fdal_model* model, const char* strategy, int64_t k,
                               uint64_t seed, fdal_ranker** out) {
  return fdal_ranker_create_with(model, strategy, k, seed, nullptr, out);
}

fdal_status fdal_ranker_create_threads(const fdal_model* model, const char* strategy, int64_t k,
                                       uint64_t seed, int32_t threads, fdal_ranker** out) {
  return fdal_ranker_create_cap(model, strategy, k, seed, threads, FDAL_DEFAULT_CAP, out);
}

fdal_status fdal_ranker_create_cap(const fdal_model* model, const char* strategy, int64_t k,
                                   uint64_t seed, int32_t threads, int64_t cap, fdal_ranker** out) {
  const fdal_ranker_options options = ranker_options(threads, cap);
  return fdal_ranker_create_with(model, strategy, k, seed, &options, out);
}

fdal_status fdal_ranker_set_labeled_counts(fdal_ranker* ranker, const int64_t* counts, int64_t n) {
  return guarded([&] {
    require(ranker != nullptr, "ranker is NULL");
    ranker->ranker->set_labeled_counts(counts, n);
  });
}

fdal_status fdal_ranker_push(fdal_ranker* ranker, const fdal_images* images) {
  return fdal_ranker_push_indices(ranker, images, nullptr);
}

fdal_status fdal_ranker_push_indices(fdal_ranker* ranker, const fdal_images* images, const int64_t* pool_indices) {
  return guarded([&] {
    require(ranker != nullptr, "ranker is NULL");
    const fdal::ImageView view = to_view(images);
    ranker->ranker->push(view, pool_indices);
  });
}

fdal_status fdal_ranker_finish(fdal_ranker* ranker, int64_t* indices, int64_t k) {
  return fdal_ranker_finish_keys(ranker, indices, nullptr, k);
}

fdal_status fdal_ranker_finish_keys(fdal_ranker* ranker, int64_t* indices, fdal_rank_key* keys,
                                    int64_t k) {
  return guarded([&] {
    require(ranker != nullptr && indices != nullptr, "ranker or indices is NULL");
    const std::vector<fdal::TopK::Entry> best = ranker->ranker->finish_entries();
    require(std::int64_t(best.size()) == k, "k does not match the k the ranker was created with");
    const fdal::Strategy strategy = ranker->ranker->strategy();
    for (std::size_t i = 0; i < best.size(); ++i) {
      indices[i] = best[i].second;
      if (keys != nullptr) keys[i] = decode_key(strategy, best[i].first);
    }
  });
}

void fdal_ranker_free(fdal_ranker* ranker) { delete ranker; }

}  // extern "C"
