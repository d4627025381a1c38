/* fdal C API: load a .fdal int8 model, run it on raw uint8 images, rank a pool.
 * Every function returns an fdal_status; on failure fdal_last_error() holds a message for the
 * calling thread. No C++ exception crosses this API. Handles are opaque; a model is read-only
 * after load and may be shared by threads; a ranker belongs to one thread. */
#ifndef FDAL_FDAL_H
#define FDAL_FDAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fdal_status {
  FDAL_OK = 0,
  FDAL_ERR_INVALID_ARGUMENT = 1, /* bad argument: null pointer, wrong shape, k > pool size ... */
  FDAL_ERR_FORMAT = 2,           /* the model file breaks a rule of docs/format.md, or is missing */
  FDAL_ERR_NO_MEMORY = 3,
  FDAL_ERR_INTERNAL = 4
} fdal_status;

typedef struct fdal_model fdal_model;
typedef struct fdal_ranker fdal_ranker;
typedef struct fdal_workspace fdal_workspace;

typedef struct fdal_model_info {
  int32_t input_h, input_w, input_c;
  int32_t num_classes;
  int32_t num_layers;
  int32_t has_sampler;      /* 1 when the model has a score layer */
  int32_t version_major, version_minor;
  int64_t weight_bytes;     /* int8 weights + int32 biases, multipliers, shifts */
  int64_t arena_bytes;      /* activation arena for one image */
  int64_t file_bytes;
  const char* kernels;      /* the kernel path chosen at load, e.g. "reference" */
} fdal_model_info;

/* Raw uint8 images, n x h x w x c, with byte strides (may be negative or zero). */
typedef struct fdal_images {
  const uint8_t* data; /* address of element [0][0][0][0] */
  int64_t n, h, w, c;
  int64_t stride_n, stride_h, stride_w, stride_c;
} fdal_images;

/* Message of the last failed call on this thread ("" if none). Valid until the next call. */
const char* fdal_last_error(void);
const char* fdal_status_name(fdal_status status);

fdal_status fdal_model_load_memory(const void* data, size_t size, fdal_model** out);
fdal_status fdal_model_load_file(const char* path, fdal_model** out);
void fdal_model_free(fdal_model* model);
fdal_status fdal_model_get_info(const fdal_model* model, fdal_model_info* info);

/* Runs n images. logits_raw: n*num_classes int32 (required). score_raw: n int32 or NULL.
 * logits: n*num_classes float or NULL. score: n float or NULL (must be NULL without a sampler). */
fdal_status fdal_forward(const fdal_model* model, const fdal_images* images, int32_t* logits_raw,
                         int32_t* score_raw, float* logits, float* score);

/* Like fdal_model_load_memory, on a named kernel path ("auto", "reference", "avx2",
 * "avx512vnni", "neon", "neon-dotprod"); a path this build or CPU cannot run is
 * FDAL_ERR_INVALID_ARGUMENT. "auto" honours the FDAL_KERNELS environment variable. */
fdal_status fdal_model_load_memory_kernels(const void* data, size_t size, const char* kernels,
                                           fdal_model** out);

/* fdal_model_load_memory_kernels without the copy (for a model in a microcontroller's flash: saves
 * `size` bytes of RAM): the model reads its weights from `data`, which must start at a 64-byte
 * aligned address (else FDAL_ERR_INVALID_ARGUMENT) and stay valid and unchanged until
 * fdal_model_free. Every rule of the format is checked, as by fdal_model_load_memory. */
fdal_status fdal_model_load_memory_in_place(const void* data, size_t size, const char* kernels,
                                            fdal_model** out);

/* Kernel paths this build and CPU can run, best first, as one comma-separated string
 * (e.g. "avx512vnni,avx2,reference"); valid for the life of the process. */
const char* fdal_kernel_paths(void);

/* fdal_forward with the images split across `threads` threads (>= 1); results are identical for
 * any thread count. */
fdal_status fdal_forward_threads(const fdal_model* model, const fdal_images* images,
                                 int32_t threads, int32_t* logits_raw, int32_t* score_raw,
                                 float* logits, float* score);

/* The ranking strategies, in a fixed order: fdal_strategy_name(i) for 0 <= i < fdal_strategy_count()
 * ("fdal", "margin", "entropy", "random", "kcenter", "typiclust", "probcover", "power" today); NULL
 * outside that range; valid for the life of the process. "fdal" needs a model with a sampler; keys
 * in docs/quantization.md, "Ranking keys". The last four are pool-level (docs/selection.md,
 * "Strategies"): the ranker keeps the `cap` images with the smallest random keys (those of
 * "random") as candidates, with their int8 embeddings (cap * dim bytes, allocated at creation;
 * "kcenter", "typiclust" and "probcover" need a model with an embedding) and margin keys, and
 * finish runs the rule on them ("power" on the margin keys, unit = the logits unit). */
int32_t fdal_strategy_count(void);
const char* fdal_strategy_name(int32_t index);

/* strategy: one of the names above. FDAL_ERR_INVALID_ARGUMENT, with a message naming the problem,
 * for an unknown strategy, "fdal" on a model without a sampler, k < 1 or threads < 1. */
fdal_status fdal_ranker_create(const fdal_model* model, const char* strategy, int64_t k,
                               uint64_t seed, fdal_ranker** out);
/* fdal_ranker_create whose pushes run on `threads` threads (>= 1); same result for any count. */
fdal_status fdal_ranker_create_threads(const fdal_model* model, const char* strategy, int64_t k,
                                       uint64_t seed, int32_t threads, fdal_ranker** out);
/* The default number of candidates of a pool-level strategy (the paper scores 10,000 images). */
#define FDAL_DEFAULT_CAP 10000
/* fdal_ranker_create_threads with at most `cap` (>= 1) candidates for a pool-level strategy
 * (ignored by the others); FDAL_ERR_INVALID_ARGUMENT also for an embedding rule on a model without
 * an embedding (the message names the fix: re-export with `fdal export`). */
fdal_status fdal_ranker_create_cap(const fdal_model* model, const char* strategy, int64_t k,
                                   uint64_t seed, int32_t threads, int64_t cap, fdal_ranker** out);
/* "classbalanced" only, before the first push or between pushes: the images already labeled per
 * class (n = the model's number of classes, each 0..2^62; copied), so that finish balances the
 * whole labeled set (water-filling, docs/selection.md) instead of only the picks. */
fdal_status fdal_ranker_set_labeled_counts(fdal_ranker* ranker, const int64_t* counts, int64_t n);
fdal_status fdal_ranker_push(fdal_ranker* ranker, const fdal_images* images);
/* Writes k int64 pool indices, best first (pool-level strategies: in pick order); fails when fewer
 * than k images were pushed (pool-level: when k exceeds the number of candidates). */
fdal_status fdal_ranker_finish(fdal_ranker* ranker, int64_t* indices, int64_t k);
void fdal_ranker_free(fdal_ranker* ranker);

/* A forward workspace (activation arenas and scratch) made once, so that fdal_forward_ws allocates
 * nothing per call. It belongs to one thread at a time; the model must outlive it. threads >= 1:
 * fdal_forward_ws splits each call across that many threads (one arena each). */
fdal_status fdal_workspace_create(const fdal_model* model, int32_t threads, fdal_workspace** out);
void fdal_workspace_free(fdal_workspace* workspace);

/* fdal_forward on the workspace's model and thread count; results identical to fdal_forward.
 * Allocates nothing with threads == 1 (threads > 1 start threads, which the C++ runtime may
 * allocate for). score without score_raw runs in chunks through the workspace's own buffer. */
fdal_status fdal_forward_ws(fdal_workspace* workspace, const fdal_images* images,
                            int32_t* logits_raw, int32_t* score_raw, float* logits, float* score);

/* The model's embedding output (docs/format.md, "Embedding"; format 2.x): one int8 vector per image,
 * the output of layer `layer` in NHWC memory order, real value scale * (q - zero_point). A file
 * without one (every 1.x file, or exported with no embedding) has has_embedding 0, layer -1, dim 0. */
typedef struct fdal_embedding_info {
  int32_t has_embedding;
  int32_t layer;
  int64_t dim;        /* int8 values per image */
  float scale;        /* 0 without an embedding */
  int32_t zero_point;
} fdal_embedding_info;

fdal_status fdal_model_get_embedding_info(const fdal_model* model, fdal_embedding_info* info);

/* fdal_forward_threads that also writes the raw embedding: embedding is n*dim int8 (NULL: not
 * wanted); non-NULL on a model without an embedding is FDAL_ERR_INVALID_ARGUMENT. The other
 * outputs are as in fdal_forward. */
fdal_status fdal_forward_embedding(const fdal_model* model, const fdal_images* images, int32_t threads,
                                   int32_t* logits_raw, int32_t* score_raw, float* logits, float* score,
                                   int8_t* embedding);
/* fdal_forward_ws with the embedding output of fdal_forward_embedding; allocates nothing more. */
fdal_status fdal_forward_ws_embedding(fdal_workspace* workspace, const fdal_images* images,
                                      int32_t* logits_raw, int32_t* score_raw, float* logits,
                                      float* score, int8_t* embedding);

/* The type of a ranking key (docs/quantization.md "Ranking keys"), one per strategy. */
typedef enum fdal_key_type {
  FDAL_KEY_INT32 = 1,   /* fdal: the score layer's accumulator */
  FDAL_KEY_INT64 = 2,   /* margin: acc[top1] - acc[top2] of the logits layer */
  FDAL_KEY_FLOAT64 = 3, /* entropy: -H (a zero key is -0.0, exactly as computed) */
  FDAL_KEY_UINT64 = 4   /* random: mix64(seed + golden * (index + 1)) */
} fdal_key_type;

/* One chosen image's ranking key: `type` says which member of `value` holds it; `order` is the
 * ranker's order-preserving uint64 encoding (smaller = chosen first; ties to the lower index). */
typedef struct fdal_rank_key {
  int32_t type; /* an fdal_key_type */
  union {
    int32_t i32;
    int64_t i64;
    double f64;
    uint64_t u64;
  } value;
  uint64_t order;
} fdal_rank_key;

/* fdal_ranker_finish that also writes the k chosen images' keys (keys[i] belongs to indices[i]);
 * keys may be NULL. No forward pass: the keys are those the ranker ranked by. Pool-level
 * strategies: each pick's margin key (FDAL_KEY_INT64), in pick order (not sorted by key). */
fdal_status fdal_ranker_finish_keys(fdal_ranker* ranker, int64_t* indices, fdal_rank_key* keys,
                                    int64_t k);

/* Pool-level selection over a caller's int8 embedding matrix (docs/selection.md): rule is
 * "kcenter", "typiclust", "probcover", "power" or "classbalanced" (the last through
 * fdal_pool_select_classes only). embeddings: n rows of d int8 (1 <= d <= 65536), row r at
 * embeddings + r * row_stride (row_stride >= d; not read by "power" and "classbalanced", may be
 * NULL there). pool_indices: n int64 >= 0 seeding the random keys, or NULL (the row position).
 * scores: n int64 keys, smaller = more informative ("power", "classbalanced"; NULL for the
 * others). Writes k (1 <= k <= n) distinct row positions to picks, in pick order; ties go to the lowest position. The selection
 * allocates nothing when scratch is given (fdal_pool_select_scratch_bytes bytes, any alignment);
 * scratch NULL: it allocates that once. Bad arguments: FDAL_ERR_INVALID_ARGUMENT with a message. */
typedef struct fdal_pool_params {
  int32_t min_cluster_size; /* typiclust: cells of at most this many members are visited last (5) */
  int32_t k_nn;             /* typiclust: typicality neighbours; probcover: K of delta (20) */
  int32_t max_cells;        /* typiclust: cells = min(k, max_cells) (500) */
  int64_t delta;            /* probcover: ball radius in squared L2; -1: from the data (-1) */
  double beta;              /* power, classbalanced: exponent >= 0, INFINITY = top-k of scores (1.0) */
  double unit;              /* power, classbalanced: scale of the keys, finite > 0 (1.0) */
} fdal_pool_params;

/* Fills params with the defaults above. */
void fdal_pool_params_default(fdal_pool_params* params);
/* params NULL: the defaults. */
fdal_status fdal_pool_select_scratch_bytes(const char* rule, int64_t n, int64_t d, int64_t k,
                                           const fdal_pool_params* params, size_t* bytes);
fdal_status fdal_pool_select(const char* rule, const int8_t* embeddings, int64_t n, int64_t d,
                             int64_t row_stride, const int64_t* pool_indices, const int64_t* scores,
                             int64_t k, uint64_t seed, const fdal_pool_params* params, void* scratch,
                             size_t scratch_bytes, int64_t* picks);
/* fdal_pool_select with classes: n int64 predicted classes >= 0, read by "classbalanced" only
 * (which needs them) and NULL for every other rule. A separate function so that
 * fdal_pool_select keeps its signature. */
fdal_status fdal_pool_select_classes(const char* rule, const int8_t* embeddings, int64_t n, int64_t d,
                                     int64_t row_stride, const int64_t* pool_indices,
                                     const int64_t* scores, const int64_t* classes, int64_t k,
                                     uint64_t seed, const fdal_pool_params* params, void* scratch,
                                     size_t scratch_bytes, int64_t* picks);
/* fdal_pool_select_classes with labeled counts ("classbalanced" only; NULL and 0 for the others or
 * for none): labeled_counts[c] images of class c are labeled already (c >= num_labeled_counts:
 * 0), each 0..2^62; each pick goes to the class with the fewest labeled + picked so far. */
fdal_status fdal_pool_select_labeled(const char* rule, const int8_t* embeddings, int64_t n, int64_t d,
                                     int64_t row_stride, const int64_t* pool_indices,
                                     const int64_t* scores, const int64_t* classes,
                                     const int64_t* labeled_counts, int64_t num_labeled_counts, int64_t k,
                                     uint64_t seed, const fdal_pool_params* params, void* scratch,
                                     size_t scratch_bytes, int64_t* picks);

#ifdef __cplusplus
}
#endif

#endif /* FDAL_FDAL_H */
