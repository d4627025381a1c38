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

/* ==== status: every call returns one; the message of the last failure ==== */

typedef enum fdal_status {
  FDAL_OK = 0,
  FDAL_ERR_INVALID_ARGUMENT = 1, /* bad argument: null pointer, wrong shape, k > pool size ... */
  FDAL_ERR_FORMAT = 2,           /* the model file breaks a rule of docs/format.md, or is missing */
  FDAL_ERR_NO_MEMORY = 3,
  FDAL_ERR_INTERNAL = 4
} fdal_status;

/* Message of the last failed call on this thread ("" if none). Valid until the next call. */
const char* fdal_last_error(void);
const char* fdal_status_name(fdal_status status);

/* ==== model: load, describe, free (read-only after load, shared by threads) ==== */

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

fdal_status fdal_model_load_memory(const void* data, size_t size, fdal_model** out);
fdal_status fdal_model_load_file(const char* path, fdal_model** out);
void fdal_model_free(fdal_model* model);
fdal_status fdal_model_get_info(const fdal_model* model, fdal_model_info* info);

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

/* ==== forward: raw uint8 images in, int32 accumulators / float outputs / int8 embedding out ==== */

/* Raw uint8 images, n x h x w x c, with byte strides (may be negative or zero). */
typedef struct fdal_images {
  const uint8_t* data; /* address of element [0][0][0][0] */
  int64_t n, h, w, c;
  int64_t stride_n, stride_h, stride_w, stride_c;
} fdal_images;

/* Where a forward writes; grows by fields (`size` as fdal_pool_request's: fdal_forward_outputs_init
 * sets it). logits_raw: n*num_classes int32 (required). score_raw: n int32 or NULL. logits:
 * n*num_classes float or NULL. score: n float or NULL (NULL without a sampler). embedding: n*dim
 * int8 (fdal_model_get_embedding_info) or NULL (NULL without an embedding). */
typedef struct fdal_forward_outputs {
  size_t size;
  int32_t* logits_raw;
  int32_t* score_raw;
  float* logits;
  float* score;
  int8_t* embedding;
} fdal_forward_outputs;

/* How a forward runs (`size` likewise; fdal_forward_options_init sets the defaults). */
typedef struct fdal_forward_options {
  size_t size;
  int32_t threads;           /* the images split across this many threads (>= 1; same results) (1);
                                not read with a workspace, whose own thread count applies */
  fdal_workspace* workspace; /* NULL: arenas made for this call; else fdal_workspace_create's, and the
                                call allocates nothing with one thread (model: NULL or its model) */
} fdal_forward_options;

void fdal_forward_outputs_init(fdal_forward_outputs* outputs);
void fdal_forward_options_init(fdal_forward_options* options);
/* Runs n images into `outputs`; options NULL: the defaults. */
fdal_status fdal_forward_run(const fdal_model* model, const fdal_images* images, const fdal_forward_outputs* outputs,
                             const fdal_forward_options* options);

/* The earlier forms, kept for ABI: each is fdal_forward_run with its arguments as outputs and
 * options. */
/* Runs n images. logits_raw: n*num_classes int32 (required). score_raw: n int32 or NULL.
 * logits: n*num_classes float or NULL. score: n float or NULL (must be NULL without a sampler). */
fdal_status fdal_forward(const fdal_model* model, const fdal_images* images, int32_t* logits_raw,
                         int32_t* score_raw, float* logits, float* score);

/* fdal_forward with the images split across `threads` threads (>= 1); results are identical for
 * any thread count. */
fdal_status fdal_forward_threads(const fdal_model* model, const fdal_images* images,
                                 int32_t threads, int32_t* logits_raw, int32_t* score_raw,
                                 float* logits, float* score);

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

/* ==== workspace: a forward made once, so that calls allocate nothing ==== */

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

/* ==== ranker: stream a pool, keep the k best (or the pool-level candidates) ==== */

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

/* The default number of candidates of a pool-level strategy (the paper scores 10,000 images). */
#define FDAL_DEFAULT_CAP 10000

/* How a ranker runs; grows by fields (`size`, as fdal_pool_request's: fdal_ranker_options_init sets
 * it, a smaller one is FDAL_ERR_INVALID_ARGUMENT, a larger one needs its unknown bytes zero). */
typedef struct fdal_ranker_options {
  size_t size;            /* sizeof(fdal_ranker_options) (fdal_ranker_options_init) */
  int32_t threads;        /* each push split across this many threads (>= 1; same result for any) (1) */
  int64_t cap;            /* pool-level strategies: at most this many candidates (>= 1) (FDAL_DEFAULT_CAP) */
  int64_t start_index;    /* the pool index of the first pushed image (0..2^62; a shard of a larger pool) (0) */
  /* "classbalanced" only: the images already labeled per class (num_labeled_counts = the model's
   * number of classes, each 0..2^62; copied), so that finish balances the whole labeled set. */
  const int64_t* labeled_counts;
  int64_t num_labeled_counts;
} fdal_ranker_options;

/* Zeroes the options, sets size and the defaults above. */
void fdal_ranker_options_init(fdal_ranker_options* options);
/* strategy: one of the names above; options NULL: the defaults. FDAL_ERR_INVALID_ARGUMENT, with a
 * message naming the problem, for an unknown strategy, "fdal" on a model without a sampler, an
 * embedding rule on a model without an embedding (the message names the fix: re-export with `fdal
 * export`), k < 1, or a bad option. */
fdal_status fdal_ranker_create_with(const fdal_model* model, const char* strategy, int64_t k, uint64_t seed,
                                    const fdal_ranker_options* options, fdal_ranker** out);
/* The earlier forms, kept for ABI: fdal_ranker_create_with with threads (1) and cap (FDAL_DEFAULT_CAP). */
fdal_status fdal_ranker_create(const fdal_model* model, const char* strategy, int64_t k,
                               uint64_t seed, fdal_ranker** out);
fdal_status fdal_ranker_create_threads(const fdal_model* model, const char* strategy, int64_t k,
                                       uint64_t seed, int32_t threads, fdal_ranker** out);
fdal_status fdal_ranker_create_cap(const fdal_model* model, const char* strategy, int64_t k,
                                   uint64_t seed, int32_t threads, int64_t cap, fdal_ranker** out);
/* fdal_ranker_options' labeled_counts, set later: before the first push or between pushes. */
fdal_status fdal_ranker_set_labeled_counts(fdal_ranker* ranker, const int64_t* counts, int64_t n);
fdal_status fdal_ranker_push(fdal_ranker* ranker, const fdal_images* images);
/* fdal_ranker_push with each image's pool index (images->n int64, 0..2^62), strictly ascending over
 * all pushes (e.g. rows chosen ahead by random key); NULL: the next indices, as fdal_ranker_push. */
fdal_status fdal_ranker_push_indices(fdal_ranker* ranker, const fdal_images* images, const int64_t* pool_indices);
/* Writes k int64 pool indices, best first (pool-level strategies: in pick order); fails when fewer
 * than k images were pushed (pool-level: when k exceeds the number of candidates). */
fdal_status fdal_ranker_finish(fdal_ranker* ranker, int64_t* indices, int64_t k);
void fdal_ranker_free(fdal_ranker* ranker);

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

/* ==== pool selection: a pool-level rule over a caller's candidates ==== */

/* Pool-level selection over a caller's candidates (docs/selection.md). One request struct holds
 * every input, so the family grows by fields, not by new function names: `size` is
 * sizeof(fdal_pool_request) as the caller compiled it (fdal_pool_request_init sets it); a smaller
 * size is FDAL_ERR_INVALID_ARGUMENT, a larger one (a newer header) is accepted when every byte past
 * this struct is zero. The selection throws nothing and, given scratch, allocates nothing. */
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

typedef struct fdal_pool_request {
  size_t size;                 /* sizeof(fdal_pool_request) (fdal_pool_request_init) */
  const char* rule;            /* "kcenter", "typiclust", "probcover", "power", "classbalanced" */
  /* n candidates; embeddings: rows of d int8 (1 <= d <= 65536), row r at embeddings + r * row_stride
   * (row_stride >= d); read by kcenter, typiclust and probcover only (NULL, d = 0 for the others). */
  const int8_t* embeddings;
  int64_t n, d, row_stride;
  const int64_t* pool_indices; /* n int64 >= 0 seeding the random keys, or NULL (the row position) */
  const int64_t* scores;       /* n int64 keys, smaller = more informative (power, classbalanced) */
  const int64_t* classes;      /* n predicted classes >= 0 (classbalanced), else NULL */
  /* classbalanced: labeled_counts[c] images of class c are labeled already (c past the end: 0),
   * each 0..2^62; each pick goes to the class with the fewest labeled + picked. Others: NULL, 0. */
  const int64_t* labeled_counts;
  int64_t num_labeled_counts;
  /* Reserved for rules that read the labeled images themselves (their keys and labels, e.g. a
   * per-class threshold search): no rule reads them yet, so they must be NULL / 0 (else
   * FDAL_ERR_INVALID_ARGUMENT), and a later rule adds its meaning without a new call. */
  const int64_t* labeled_scores;
  const int64_t* labeled_labels;
  int64_t num_labeled;
  /* Reserved for a cancel flag that the selection loops poll (set non-zero from another thread or
   * a signal handler to stop early); must be NULL until a release says the loops poll it. */
  const volatile int32_t* cancel;
  fdal_pool_params params;     /* fdal_pool_request_init: the defaults */
} fdal_pool_request;

/* Zeroes the request, sets size and the default params. */
void fdal_pool_request_init(fdal_pool_request* request);
/* Bytes of scratch fdal_pool_request_select needs for k picks (any alignment). */
fdal_status fdal_pool_request_scratch_bytes(const fdal_pool_request* request, int64_t k, size_t* bytes);
/* Writes k (1 <= k <= n) distinct row positions to picks, in pick order; ties go to the lowest
 * position. scratch: fdal_pool_request_scratch_bytes bytes (then nothing is allocated), or NULL
 * (allocated here, once). Bad arguments: FDAL_ERR_INVALID_ARGUMENT with a message naming them. */
fdal_status fdal_pool_request_select(const fdal_pool_request* request, int64_t k, uint64_t seed, void* scratch,
                                     size_t scratch_bytes, int64_t* picks);

/* The earlier positional forms, kept for ABI: each fills a request and calls the functions above.
 * params NULL: the defaults. fdal_pool_select passes no classes, fdal_pool_select_classes no labeled
 * counts. */
fdal_status fdal_pool_select_scratch_bytes(const char* rule, int64_t n, int64_t d, int64_t k,
                                           const fdal_pool_params* params, size_t* bytes);
fdal_status fdal_pool_select(const char* rule, const int8_t* embeddings, int64_t n, int64_t d,
                             int64_t row_stride, const int64_t* pool_indices, const int64_t* scores,
                             int64_t k, uint64_t seed, const fdal_pool_params* params, void* scratch,
                             size_t scratch_bytes, int64_t* picks);
fdal_status fdal_pool_select_classes(const char* rule, const int8_t* embeddings, int64_t n, int64_t d,
                                     int64_t row_stride, const int64_t* pool_indices,
                                     const int64_t* scores, const int64_t* classes, int64_t k,
                                     uint64_t seed, const fdal_pool_params* params, void* scratch,
                                     size_t scratch_bytes, int64_t* picks);
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
