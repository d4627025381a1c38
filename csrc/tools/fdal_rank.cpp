// fdal-rank: rank a pool file with a .fdal model and print the k most informative pool indices,
// best first, one per line. Ranking uses only the public C API (fdal/fdal.h).
//
// Memory: the model, the ranker, one chunk buffer (batch images) and the k results are allocated
// before the pool is streamed; streaming allocates nothing, with or without --scores
// (tests/alloc_check.cmake checks this; a pool-level strategy's candidates, cap x embedding dim
// bytes, are allocated with the ranker). --scores prints the keys the ranker ranked by
// (fdal_ranker_finish_keys): no second pass over the pool.
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "fdal/fdal.h"
#include "pool_reader.h"

namespace {

// Distinct exit codes, documented in the usage text and in docs/deploy-arm.md.
enum ExitCode {
  kExitOk = 0,
  kExitUsage = 2,
  kExitModel = 3,
  kExitPool = 4,
  kExitShape = 5,
  kExitBadK = 6,
  kExitRuntime = 7,
};

// %s: the strategy names of the C API, joined by '|' (strategy_choices).
const char kUsage[] =
    "usage: fdal-rank MODEL POOL -k K [--strategy %s] [--seed S]\n"
    "                 [--batch B] [--cap C] [--threads T] [--raw HxWxC] [--scores]\n"
    "                 [--labeled-counts N0,N1,...]\n"
    "  MODEL  a .fdal model file\n"
    "  POOL   raw uint8 images (N*H*W*C bytes) or a .npy uint8 array of shape (N, H, W, C)\n"
    "  prints the k chosen pool indices, best first, one per line\n"
    "  (--scores: index<TAB>ranking key; keys as in docs/quantization.md, smaller = chosen first)\n"
    "  (pool-level strategies kcenter, typiclust, probcover, power, classbalanced: picks in pick\n"
    "   order, each with its margin key; they choose among the C images with the smallest random keys)\n"
    "  --strategy  default fdal;  --seed  for random and pool-level, default 0;  --batch  images per\n"
    "  read, default 256;  --cap  pool-level candidates, default 10000 (memory C x embedding dim bytes)\n"
    "  --threads  1..1024, default 1 (same result);  --raw  shape of each raw-pool image, checked\n"
    "  against the model;  POOL must be a regular file; a name ending .npy must be a valid .npy\n"
    "  --labeled-counts  classbalanced: images already labeled per class (one per class), so the\n"
    "  picks balance the whole labeled set\n"
    "exit codes: 0 ok, 2 usage, 3 model unreadable or malformed, 4 pool unreadable or malformed,\n"
    "            5 pool images do not match the model's input shape, 6 bad k, 7 runtime error\n";

struct Options {
  const char* model = nullptr;
  const char* pool = nullptr;
  const char* k_text = nullptr;
  const char* strategy = "fdal";
  std::uint64_t seed = 0;
  std::int64_t batch = 256;
  std::int64_t cap = FDAL_DEFAULT_CAP;
  bool scores = false;
  std::int64_t threads = 1;
  std::int64_t raw_h = 0, raw_w = 0, raw_c = 0;  // --raw; 0: not given
  std::vector<std::int64_t> labeled_counts;       // --labeled-counts; empty: not given
  bool has_labeled_counts = false;
};

// "12,40,3": comma-separated integers in 0..2^62 (parsed once, before any pool is read).
bool parse_counts(const char* text, std::vector<std::int64_t>* out) {
  if (text == nullptr || *text == '\0') return false;
  out->clear();
  const char* p = text;
  while (true) {
    if (*p < '0' || *p > '9') return false;  // no sign, no empty field
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(p, &end, 10);
    if (errno != 0 || v > (1LL << 62)) return false;
    out->push_back(v);
    if (*end == '\0') return true;
    if (*end != ',') return false;
    p = end + 1;
  }
}

// Same bound as fdal.runtime.MAX_THREADS: beyond it thread creation, not ranking, is the work.
constexpr std::int64_t kMaxThreads = 1024;

// "HxWxC" with three positive integers.
bool parse_shape(const char* text, std::int64_t* h, std::int64_t* w, std::int64_t* c) {
  if (text == nullptr) return false;
  long long a = 0, b = 0, d = 0;
  int used = 0;
  if (std::sscanf(text, "%lldx%lldx%lld%n", &a, &b, &d, &used) != 3 || text[used] != '\0') return false;
  if (a < 1 || b < 1 || d < 1) return false;
  *h = a; *w = b; *c = d;
  return true;
}

int die(int code, const char* format, ...) __attribute__((format(printf, 2, 3)));
int die(int code, const char* format, ...) {
  std::fputs("fdal-rank: ", stderr);
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  return code;
}

// "fdal|margin|..." from fdal_strategy_name, so the usage text lists what the library ranks by.
std::string strategy_choices() {
  std::string out;
  for (std::int32_t i = 0; i < fdal_strategy_count(); ++i) out += std::string(i ? "|" : "") + fdal_strategy_name(i);
  return out;
}

// Whole-string decimal parse; false for empty, trailing junk, sign where not allowed, or overflow.
bool parse_int64(const char* text, std::int64_t* out) {
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool parse_uint64(const char* text, std::uint64_t* out) {
  if (text == nullptr || *text == '\0' || *text == '-') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

// Returns kExitOk, or an exit code after printing the message.
int parse_args(int argc, char** argv, Options* o) {
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const bool has_value = i + 1 < argc;
    if (std::strcmp(a, "-h") == 0 || std::strcmp(a, "--help") == 0) {
      std::printf(kUsage, strategy_choices().c_str());
      std::exit(kExitOk);
    } else if (std::strcmp(a, "-k") == 0 || std::strcmp(a, "--k") == 0) {
      if (!has_value) return die(kExitUsage, "%s needs a value (see fdal-rank --help)", a);
      o->k_text = argv[++i];
    } else if (std::strcmp(a, "--strategy") == 0) {
      if (!has_value) return die(kExitUsage, "--strategy needs a value (see fdal-rank --help)");
      o->strategy = argv[++i];  // checked by fdal_ranker_create_with
    } else if (std::strcmp(a, "--seed") == 0) {
      if (!has_value || !parse_uint64(argv[i + 1], &o->seed)) {
        return die(kExitUsage, "--seed needs an unsigned 64-bit integer");
      }
      ++i;
    } else if (std::strcmp(a, "--batch") == 0) {
      if (!has_value || !parse_int64(argv[i + 1], &o->batch) || o->batch < 1 || o->batch > (1 << 20)) {
        return die(kExitUsage, "--batch needs an integer in 1..1048576");
      }
      ++i;
    } else if (std::strcmp(a, "--cap") == 0) {
      if (!has_value || !parse_int64(argv[i + 1], &o->cap) || o->cap < 1 || o->cap > 2147483647) {
        return die(kExitUsage, "--cap needs an integer in 1..2147483647");
      }
      ++i;
    } else if (std::strcmp(a, "--threads") == 0) {
      if (!has_value || !parse_int64(argv[i + 1], &o->threads) || o->threads < 1 || o->threads > kMaxThreads) {
        return die(kExitUsage, "--threads needs an integer in 1..%lld", (long long)kMaxThreads);
      }
      ++i;
    } else if (std::strcmp(a, "--raw") == 0) {
      if (!has_value || !parse_shape(argv[i + 1], &o->raw_h, &o->raw_w, &o->raw_c)) {
        return die(kExitUsage, "--raw needs HxWxC, such as 32x32x3");
      }
      ++i;
    } else if (std::strcmp(a, "--labeled-counts") == 0) {
      if (!has_value || !parse_counts(argv[i + 1], &o->labeled_counts)) {
        return die(kExitUsage, "--labeled-counts needs comma-separated integers in 0..2^62, one per class");
      }
      o->has_labeled_counts = true;
      ++i;
    } else if (std::strcmp(a, "--scores") == 0) {
      o->scores = true;
    } else if (a[0] == '-' && a[1] != '\0') {
      return die(kExitUsage, "unknown option '%s' (see fdal-rank --help)", a);
    } else if (positional == 0) {
      o->model = a;
      ++positional;
    } else if (positional == 1) {
      o->pool = a;
      ++positional;
    } else {
      return die(kExitUsage, "unexpected argument '%s' (see fdal-rank --help)", a);
    }
  }
  if (o->model == nullptr || o->pool == nullptr) return die(kExitUsage, "MODEL and POOL are required (see fdal-rank --help)");
  if (o->k_text == nullptr) return die(kExitUsage, "-k K is required (see fdal-rank --help)");
  return kExitOk;
}

struct ModelDeleter {
  void operator()(fdal_model* m) const { fdal_model_free(m); }
};
struct RankerDeleter {
  void operator()(fdal_ranker* r) const { fdal_ranker_free(r); }
};

fdal_images contiguous(const std::uint8_t* data, std::int64_t n, const fdal_model_info& info) {
  const std::int64_t c = info.input_c, w = info.input_w, h = info.input_h;
  return fdal_images{data, n, h, w, c, h * w * c, w * c, c, 1};
}

// "index<TAB>key", the key in its strategy's type as the ranker computed it (fdal_rank_key).
void print_scored(std::int64_t index, const fdal_rank_key& key) {
  switch (key.type) {
    case FDAL_KEY_INT32: std::printf("%" PRId64 "\t%" PRId32 "\n", index, key.value.i32); break;
    case FDAL_KEY_INT64: std::printf("%" PRId64 "\t%" PRId64 "\n", index, key.value.i64); break;
    case FDAL_KEY_FLOAT64: std::printf("%" PRId64 "\t%.17g\n", index, key.value.f64); break;
    default: std::printf("%" PRId64 "\t%" PRIu64 "\n", index, key.value.u64); break;
  }
}

int run(const Options& o) {
  struct stat st;
  if (::stat(o.model, &st) == 0 && !S_ISREG(st.st_mode)) {
    return die(kExitModel, "model %s: %s, expected a .fdal file", o.model,
               S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
  }
  fdal_model* raw_model = nullptr;
  if (fdal_model_load_file(o.model, &raw_model) != FDAL_OK) {
    return die(kExitModel, "model %s: %s", o.model, fdal_last_error());
  }
  const std::unique_ptr<fdal_model, ModelDeleter> model(raw_model);
  fdal_model_info info;
  if (fdal_model_get_info(model.get(), &info) != FDAL_OK) return die(kExitRuntime, "%s", fdal_last_error());

  if (o.raw_h != 0 && (o.raw_h != info.input_h || o.raw_w != info.input_w || o.raw_c != info.input_c)) {
    return die(kExitShape, "--raw %lldx%lldx%lld does not match the model's input %lldx%lldx%lld",
               (long long)o.raw_h, (long long)o.raw_w, (long long)o.raw_c, (long long)info.input_h,
               (long long)info.input_w, (long long)info.input_c);
  }
  fdal_tools::PoolReader pool;
  const fdal_tools::PoolStatus status = pool.open(o.pool, info.input_h, info.input_w, info.input_c);
  if (status == fdal_tools::PoolStatus::ShapeMismatch) return die(kExitShape, "%s", pool.error());
  if (status != fdal_tools::PoolStatus::Ok) return die(kExitPool, "%s", pool.error());

  std::int64_t k = 0;
  if (!parse_int64(o.k_text, &k) || k < 1 || k > pool.size()) {
    return die(kExitBadK, "k '%s' must be an integer in 1..%" PRId64 " (the pool size)", o.k_text, pool.size());
  }

  fdal_ranker* raw_ranker = nullptr;
  // The C API checks the strategy (known; a sampler for "fdal", an embedding for kcenter, typiclust
  // and probcover) and k against the cap: a refusal is a usage error.
  fdal_ranker_options options;
  fdal_ranker_options_init(&options);
  options.threads = std::int32_t(o.threads);
  options.cap = o.cap;
  const fdal_status created = fdal_ranker_create_with(model.get(), o.strategy, k, o.seed, &options, &raw_ranker);
  if (created == FDAL_ERR_INVALID_ARGUMENT) return die(kExitUsage, "%s: %s", o.model, fdal_last_error());
  if (created != FDAL_OK) return die(kExitRuntime, "ranker: %s", fdal_last_error());
  const std::unique_ptr<fdal_ranker, RankerDeleter> ranker(raw_ranker);
  if (o.has_labeled_counts &&
      fdal_ranker_set_labeled_counts(ranker.get(), o.labeled_counts.data(), std::int64_t(o.labeled_counts.size())) !=
          FDAL_OK) {
    return die(kExitUsage, "--labeled-counts: %s", fdal_last_error());
  }

  // Every buffer is allocated here, once; the loop below allocates nothing.
  const std::int64_t image_bytes = std::int64_t(info.input_h) * info.input_w * info.input_c;
  const std::int64_t batch = o.batch < pool.size() ? o.batch : pool.size();
  const std::unique_ptr<std::uint8_t[]> chunk(new std::uint8_t[std::size_t(batch * image_bytes)]);
  const std::unique_ptr<std::int64_t[]> chosen(new std::int64_t[std::size_t(k)]);
  const std::unique_ptr<fdal_rank_key[]> keys(o.scores ? new fdal_rank_key[std::size_t(k)] : nullptr);

  for (std::int64_t start = 0; start < pool.size(); start += batch) {
    const std::int64_t n = pool.size() - start < batch ? pool.size() - start : batch;
    if (!pool.read(start, n, chunk.get())) return die(kExitPool, "%s", pool.error());
    const fdal_images images = contiguous(chunk.get(), n, info);
    if (fdal_ranker_push(ranker.get(), &images) != FDAL_OK) return die(kExitRuntime, "%s", fdal_last_error());
  }
  if (fdal_ranker_finish_keys(ranker.get(), chosen.get(), keys.get(), k) != FDAL_OK) {
    return die(kExitRuntime, "%s", fdal_last_error());
  }

  for (std::int64_t i = 0; i < k; ++i) {
    if (o.scores) {
      print_scored(chosen[i], keys[i]);
    } else {
      std::printf("%" PRId64 "\n", chosen[i]);
    }
  }
  if (std::fflush(stdout) != 0) return die(kExitRuntime, "cannot write the output: %s", std::strerror(errno));
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  const int rc = parse_args(argc, argv, &o);
  if (rc != kExitOk) return rc;
  return run(o);
}
