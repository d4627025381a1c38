// The C API's pool selection family (fdal.h, "pool selection"): one request struct with a size
// field, the scratch size and the selection; the earlier positional calls fill a request.
#include <cstring>

#include "capi/capi_guard.h"
#include "fdal/fdal.h"
#include "rank/pool_select.h"

using fdal::capi::guarded;
using fdal::capi::require;

namespace {

fdal::PoolParams pool_params(const fdal_pool_params& p) {
  return fdal::PoolParams{p.min_cluster_size, p.k_nn, p.max_cells, p.delta, p.beta, p.unit};
}

// The request's checks that the C++ selection cannot make: its size, the rule name, the fields
// no rule reads yet.
const fdal_pool_request& checked(const fdal_pool_request* r) {
  require(r != nullptr, "request is NULL");
  fdal::capi::require_struct_size(r, r->size, sizeof(fdal_pool_request), "fdal_pool_request");
  require(r->rule != nullptr, "rule is NULL");
  require(r->labeled_scores == nullptr && r->labeled_labels == nullptr && r->num_labeled == 0,
          "labeled_scores / labeled_labels: no pool rule reads them yet (pass NULL and 0)");
  require(r->cancel == nullptr, "cancel: the selection loops do not poll a cancel flag yet (pass NULL)");
  return *r;
}

fdal::PoolCandidates candidates(const fdal_pool_request& r) {
  return fdal::PoolCandidates{r.embeddings, r.n,       r.d,       r.row_stride,     r.pool_indices,
                              r.scores,     r.classes, r.labeled_counts, r.num_labeled_counts};
}

// A request from the positional forms' arguments (params NULL: the defaults).
fdal_pool_request positional(const char* rule, const int8_t* embeddings, int64_t n, int64_t d, int64_t row_stride,
                             const int64_t* pool_indices, const int64_t* scores, const int64_t* classes,
                             const int64_t* labeled_counts, int64_t num_labeled_counts,
                             const fdal_pool_params* params) {
  fdal_pool_params p;
  fdal_pool_params_default(&p);
  if (params != nullptr) p = *params;
  // Every field in declaration order (fdal.h); the reserved ones NULL / 0.
  return fdal_pool_request{sizeof(fdal_pool_request), rule, embeddings, n, d, row_stride, pool_indices, scores,
                           classes, labeled_counts, num_labeled_counts, nullptr, nullptr, 0, nullptr, p};
}

}  // namespace

extern "C" {

void fdal_pool_params_default(fdal_pool_params* params) {
  if (!params) return;
  const fdal::PoolParams d;
  params->min_cluster_size = d.min_cluster_size;
  params->k_nn = d.k_nn;
  params->max_cells = d.max_cells;
  params->delta = d.delta;
  params->beta = d.beta;
  params->unit = d.unit;
}

void fdal_pool_request_init(fdal_pool_request* request) {
  if (!request) return;
  std::memset(request, 0, sizeof(*request));
  request->size = sizeof(*request);
  fdal_pool_params_default(&request->params);
}

fdal_status fdal_pool_request_scratch_bytes(const fdal_pool_request* request, int64_t k, size_t* bytes) {
  return guarded([&] {
    const fdal_pool_request& r = checked(request);
    require(bytes != nullptr, "bytes is NULL");
    *bytes = fdal::pool_select_scratch_bytes(fdal::parse_pool_rule(r.rule), r.n, r.d, k, pool_params(r.params));
  });
}

fdal_status fdal_pool_request_select(const fdal_pool_request* request, int64_t k, uint64_t seed, void* scratch,
                                     size_t scratch_bytes, int64_t* picks) {
  return guarded([&] {
    const fdal_pool_request& r = checked(request);
    fdal::pool_select(fdal::parse_pool_rule(r.rule), candidates(r), k, seed, pool_params(r.params), picks, scratch,
                      scratch_bytes);
  });
}

fdal_status fdal_pool_select_scratch_bytes(const char* rule, int64_t n, int64_t d, int64_t k,
                                           const fdal_pool_params* params, size_t* bytes) {
  const fdal_pool_request r = positional(rule, nullptr, n, d, 0, nullptr, nullptr, nullptr, nullptr, 0, params);
  return fdal_pool_request_scratch_bytes(&r, k, bytes);
}

fdal_status fdal_pool_select_labeled(const char* rule, const int8_t* embeddings, int64_t n, int64_t d,
                                     int64_t row_stride, const int64_t* pool_indices, const int64_t* scores,
                                     const int64_t* classes, const int64_t* labeled_counts,
                                     int64_t num_labeled_counts, int64_t k, uint64_t seed,
                                     const fdal_pool_params* params, void* scratch, size_t scratch_bytes,
                                     int64_t* picks) {
  const fdal_pool_request r = positional(rule, embeddings, n, d, row_stride, pool_indices, scores, classes,
                                         labeled_counts, num_labeled_counts, params);
  return fdal_pool_request_select(&r, k, seed, scratch, scratch_bytes, picks);
}

fdal_status fdal_pool_select_classes(const char* rule, const int8_t* embeddings, int64_t n, int64_t d,
                                     int64_t row_stride, const int64_t* pool_indices, const int64_t* scores,
                                     const int64_t* classes, int64_t k, uint64_t seed,
                                     const fdal_pool_params* params, void* scratch, size_t scratch_bytes,
                                     int64_t* picks) {
  return fdal_pool_select_labeled(rule, embeddings, n, d, row_stride, pool_indices, scores, classes, nullptr, 0,
                                  k, seed, params, scratch, scratch_bytes, picks);
}

fdal_status fdal_pool_select(const char* rule, const int8_t* embeddings, int64_t n, int64_t d, int64_t row_stride,
                             const int64_t* pool_indices, const int64_t* scores, int64_t k, uint64_t seed,
                             const fdal_pool_params* params, void* scratch, size_t scratch_bytes, int64_t* picks) {
  return fdal_pool_select_labeled(rule, embeddings, n, d, row_stride, pool_indices, scores, nullptr, nullptr, 0,
                                  k, seed, params, scratch, scratch_bytes, picks);
}

}  // extern "C"
