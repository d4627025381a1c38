// The C API over the C++ classes: every entry point catches everything (including bad_alloc) and
// turns it into an fdal_status plus a thread-local message.
#include <algorithm>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

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

namespace {

#if defined(FDAL_NO_THREADS)
std::string last_error;  // bare metal: one thread, and no thread pointer for thread_local
#else
thread_local std::string last_error;
#endif

template <typename F>
fdal_status guarded(F&& body) {
  try {
    last_error.clear();
    body();
    return FDAL_OK;
  } catch (const fdal::FormatError& e) {
    last_error = e.what();
    return FDAL_ERR_FORMAT;
  } catch (const std::invalid_argument& e) {
    last_error = e.what();
    return FDAL_ERR_INVALID_ARGUMENT;
  } catch (const std::bad_alloc&) {
    last_error = "out of memory";
    return FDAL_ERR_NO_MEMORY;
  } catch (const std::exception& e) {
    last_error = e.what();
    return FDAL_ERR_INTERNAL;
  } catch (...) {
    last_error = "unknown internal error";
    return FDAL_ERR_INTERNAL;
  }
}

void require(bool ok, const char* message) {
  if (!ok) throw std::invalid_argument(message);
}

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

}  // namespace

extern "C" {

const char* fdal_last_error(void) { return last_error.c_str(); }

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

fdal_status fdal_forward(const fdal_model* model, const fdal_images* images, int32_t* logits_raw,
                         int32_t* score_raw, float* logits, float* score) {
  return fdal_forward_threads(model, images, 1, logits_raw, score_raw, logits, score);
}

fdal_status fdal_forward_threads(const fdal_model* model, const fdal_images* images,
                                 int32_t threads, int32_t* logits_raw, int32_t* score_raw,
                                 float* logits, float* score) {
  return fdal_forward_embedding(model, images, threads, logits_raw, score_raw, logits, score, nullptr);
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
  return guarded([&] {
    require(threads >= 1, "threads must be at least 1");
    require(model != nullptr, "model is NULL");
    const fdal::ImageView view = to_view(images);
    std::vector<std::int32_t> scratch;  // this call's score_raw when only float scores are asked for
    if (score != nullptr && score_raw == nullptr) scratch.resize(std::size_t(std::max<std::int64_t>(view.n, 1)));
    // No workspaces: forward_raw_threads makes one per thread for this call.
    forward_checked(*model->model, view, threads, nullptr, scratch.data(), std::int64_t(scratch.size()),
                    logits_raw, score_raw, logits, score, embedding);
  });
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
  return guarded([&] {
    require(workspace != nullptr, "workspace is NULL");
    forward_checked(*workspace->model, to_view(images), workspace->threads, &workspace->arenas,
                    workspace->score_scratch.data(), std::int64_t(workspace->score_scratch.size()),
                    logits_raw, score_raw, logits, score, embedding);
  });
}

int32_t fdal_strategy_count(void) { return fdal::kNumStrategies; }

const char* fdal_strategy_name(int32_t index) {
  return index >= 0 && index < fdal::kNumStrategies ? fdal::kStrategyTable[index].name : nullptr;
}

fdal_status fdal_ranker_create(const fdal_model* model, const char* strategy, int64_t k,
                               uint64_t seed, fdal_ranker** out) {
  return fdal_ranker_create_threads(model, strategy, k, seed, 1, out);
}

fdal_status fdal_ranker_create_threads(const fdal_model* model, const char* strategy, int64_t k,
                                       uint64_t seed, int32_t threads, fdal_ranker** out) {
  return fdal_ranker_create_cap(model, strategy, k, seed, threads, FDAL_DEFAULT_CAP, out);
}

fdal_status fdal_ranker_create_cap(const fdal_model* model, const char* strategy, int64_t k,
                                   uint64_t seed, int32_t threads, int64_t cap, fdal_ranker** out) {
  static_assert(FDAL_DEFAULT_CAP == fdal::Ranker::kDefaultCap, "fdal.h and ranker.h disagree on the cap");
  return guarded([&] {
    require(out != nullptr, "out is NULL");
    *out = nullptr;
    require(model != nullptr, "model is NULL");
    require(strategy != nullptr, "strategy is NULL");
    auto handle = std::make_unique<fdal_ranker>();
    // fdal::Ranker checks strategy (its sampler or embedding), k, threads and cap, with messages
    // that name them.
    handle->ranker =
        std::make_unique<fdal::Ranker>(*model->model, fdal::parse_strategy(strategy), k, seed, threads, cap);
    *out = handle.release();
  });
}

fdal_status fdal_ranker_set_labeled_counts(fdal_ranker* ranker, const int64_t* counts, int64_t n) {
  return guarded([&] {
    require(ranker != nullptr, "ranker is NULL");
    ranker->ranker->set_labeled_counts(counts, n);
  });
}

fdal_status fdal_ranker_push(fdal_ranker* ranker, const fdal_images* images) {
  return guarded([&] {
    require(ranker != nullptr, "ranker is NULL");
    ranker->ranker->push(to_view(images));
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

namespace {

fdal::PoolParams pool_params(const fdal_pool_params* p) {
  fdal::PoolParams out;
  if (p) {
    out.min_cluster_size = p->min_cluster_size;
    out.k_nn = p->k_nn;
    out.max_cells = p->max_cells;
    out.delta = p->delta;
    out.beta = p->beta;
    out.unit = p->unit;
  }
  return out;
}

}  // namespace

extern "C" void fdal_pool_params_default(fdal_pool_params* params) {
  if (!params) return;
  const fdal::PoolParams d;
  params->min_cluster_size = d.min_cluster_size;
  params->k_nn = d.k_nn;
  params->max_cells = d.max_cells;
  params->delta = d.delta;
  params->beta = d.beta;
  params->unit = d.unit;
}

extern "C" fdal_status fdal_pool_select_scratch_bytes(const char* rule, int64_t n, int64_t d, int64_t k,
                                                      const fdal_pool_params* params, size_t* bytes) {
  return guarded([&] {
    require(rule != nullptr, "rule is NULL");
    require(bytes != nullptr, "bytes is NULL");
    *bytes = fdal::pool_select_scratch_bytes(fdal::parse_pool_rule(rule), n, d, k, pool_params(params));
  });
}

extern "C" fdal_status fdal_pool_select_labeled(const char* rule, const int8_t* embeddings, int64_t n,
                                                int64_t d, int64_t row_stride, const int64_t* pool_indices,
                                                const int64_t* scores, const int64_t* classes,
                                                const int64_t* labeled_counts, int64_t num_labeled_counts,
                                                int64_t k, uint64_t seed, const fdal_pool_params* params,
                                                void* scratch, size_t scratch_bytes, int64_t* picks) {
  return guarded([&] {
    require(rule != nullptr, "rule is NULL");
    fdal::PoolCandidates c;
    c.embeddings = embeddings;
    c.n = n;
    c.d = d;
    c.row_stride = row_stride;
    c.pool_index = pool_indices;
    c.scores = scores;
    c.classes = classes;
    c.labeled_counts = labeled_counts;
    c.num_labeled_counts = num_labeled_counts;
    fdal::pool_select(fdal::parse_pool_rule(rule), c, k, seed, pool_params(params), picks, scratch,
                      scratch_bytes);
  });
}

extern "C" fdal_status fdal_pool_select_classes(const char* rule, const int8_t* embeddings, int64_t n,
                                                int64_t d, int64_t row_stride, const int64_t* pool_indices,
                                                const int64_t* scores, const int64_t* classes, int64_t k,
                                                uint64_t seed, const fdal_pool_params* params, void* scratch,
                                                size_t scratch_bytes, int64_t* picks) {
  return fdal_pool_select_labeled(rule, embeddings, n, d, row_stride, pool_indices, scores, classes, nullptr, 0,
                                  k, seed, params, scratch, scratch_bytes, picks);
}

extern "C" fdal_status fdal_pool_select(const char* rule, const int8_t* embeddings, int64_t n, int64_t d,
                                        int64_t row_stride, const int64_t* pool_indices,
                                        const int64_t* scores, int64_t k, uint64_t seed,
                                        const fdal_pool_params* params, void* scratch,
                                        size_t scratch_bytes, int64_t* picks) {
  return fdal_pool_select_classes(rule, embeddings, n, d, row_stride, pool_indices, scores, nullptr, k, seed,
                                  params, scratch, scratch_bytes, picks);
}
