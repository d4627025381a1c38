// fdal-rank: rank a pool file with a .fdal model and print the k most informative pool indices,
// best first, one per line. Ranking uses only the public C API (fdal/fdal.h).
//
// Memory: the model, the ranker and one chunk buffer (batch images) are allocated before the pool
// is streamed; streaming allocates nothing (tests/alloc_count checks this). --scores re-reads the
// k chosen images afterwards to print their ranking keys.
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "fdal/fdal.h"
#include "pool_reader.h"
#include "rank/keys.h"

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

const char kUsage[] =
    "usage: fdal-rank MODEL POOL -k K [--strategy fdal|margin|entropy|random] [--seed S]\n"
    "                 [--batch B] [--scores]\n"
    "  MODEL  a .fdal model file\n"
    "  POOL   raw uint8 images (N*H*W*C bytes) or a .npy uint8 array of shape (N, H, W, C)\n"
    "  prints the k chosen pool indices, best first, one per line\n"
    "  (--scores: index<TAB>ranking key; keys as in docs/quantization.md, smaller = chosen first)\n"
    "  --strategy  default fdal;  --seed  for random, default 0;  --batch  images per read, default 256\n"
    "exit codes: 0 ok, 2 usage, 3 model unreadable or malformed, 4 pool unreadable or malformed,\n"
    "            5 pool images do not match the model's input shape, 6 bad k, 7 runtime error\n";

struct Options {
  const char* model = nullptr;
  const char* pool = nullptr;
  const char* k_text = nullptr;
  const char* strategy = "fdal";
  std::uint64_t seed = 0;
  std::int64_t batch = 256;
  bool scores = false;
};

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
      std::fputs(kUsage, stdout);
      std::exit(kExitOk);
    } else if (std::strcmp(a, "-k") == 0 || std::strcmp(a, "--k") == 0) {
      if (!has_value) return die(kExitUsage, "%s needs a value (see fdal-rank --help)", a);
      o->k_text = argv[++i];
    } else if (std::strcmp(a, "--strategy") == 0) {
      if (!has_value) return die(kExitUsage, "--strategy needs a value (see fdal-rank --help)");
      o->strategy = argv[++i];
      const char* known[] = {"fdal", "margin", "entropy", "random"};
      bool ok = false;
      for (const char* s : known) ok = ok || std::strcmp(s, o->strategy) == 0;
      if (!ok) return die(kExitUsage, "unknown strategy '%s' (expected fdal, margin, entropy or random)", o->strategy);
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

std::uint32_t le32(const unsigned char* p) {
  return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}

// The entropy key needs the logits unit (the logits layer's out_scale, docs/format.md), which the
// C API does not expose; the loader has already validated the file, so read the two fields.
bool read_logits_unit(const char* path, float* unit) {
  std::FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return false;
  unsigned char header[64], field[4];
  bool ok = std::fread(header, 1, sizeof(header), f) == sizeof(header);
  if (ok) {
    const std::int16_t logits_layer = std::int16_t(header[30] | (header[31] << 8));
    const long at = long(le32(header + 40)) + 128L * logits_layer + 36;
    ok = std::fseek(f, at, SEEK_SET) == 0 && std::fread(field, 1, 4, f) == 4;
  }
  std::fclose(f);
  if (!ok) return false;
  const std::uint32_t bits = le32(field);
  std::memcpy(unit, &bits, sizeof(bits));
  return true;
}

fdal_images contiguous(const std::uint8_t* data, std::int64_t n, const fdal_model_info& info) {
  const std::int64_t c = info.input_c, w = info.input_w, h = info.input_h;
  return fdal_images{data, n, h, w, c, h * w * c, w * c, c, 1};
}

// Prints "index<TAB>key" for the chosen images: re-reads them (in groups of `batch`) into the
// chunk buffer and recomputes the strategy's key exactly as the ranker does.
int print_scores(const Options& o, const fdal_model* model, const fdal_model_info& info,
                 fdal_tools::PoolReader& pool, const std::int64_t* chosen, std::int64_t k,
                 std::uint8_t* chunk, std::int32_t* logits_raw, std::int32_t* score_raw, float unit) {
  const std::int64_t image_bytes = std::int64_t(info.input_h) * info.input_w * info.input_c;
  const bool random = std::strcmp(o.strategy, "random") == 0;
  for (std::int64_t start = 0; start < k; start += o.batch) {
    const std::int64_t n = k - start < o.batch ? k - start : o.batch;
    if (!random) {
      for (std::int64_t i = 0; i < n; ++i) {
        if (!pool.read(chosen[start + i], 1, chunk + i * image_bytes)) return die(kExitPool, "%s", pool.error());
      }
      const fdal_images images = contiguous(chunk, n, info);
      if (fdal_forward(model, &images, logits_raw, info.has_sampler ? score_raw : nullptr, nullptr, nullptr) != FDAL_OK) {
        return die(kExitRuntime, "forward: %s", fdal_last_error());
      }
    }
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t index = chosen[start + i];
      const std::int32_t* logits = logits_raw + i * info.num_classes;
      if (std::strcmp(o.strategy, "fdal") == 0) {
        std::printf("%" PRId64 "\t%" PRId32 "\n", index, score_raw[i]);
      } else if (std::strcmp(o.strategy, "margin") == 0) {
        std::printf("%" PRId64 "\t%" PRId64 "\n", index, fdal::margin(logits, info.num_classes));
      } else if (std::strcmp(o.strategy, "entropy") == 0) {
        std::printf("%" PRId64 "\t%.17g\n", index, fdal::negative_entropy(logits, info.num_classes, unit));
      } else {
        std::printf("%" PRId64 "\t%" PRIu64 "\n", index, fdal::random_key(o.seed, index));
      }
    }
  }
  return kExitOk;
}

int run(const Options& o) {
  fdal_model* raw_model = nullptr;
  if (fdal_model_load_file(o.model, &raw_model) != FDAL_OK) {
    return die(kExitModel, "model %s: %s", o.model, fdal_last_error());
  }
  const std::unique_ptr<fdal_model, ModelDeleter> model(raw_model);
  fdal_model_info info;
  if (fdal_model_get_info(model.get(), &info) != FDAL_OK) return die(kExitRuntime, "%s", fdal_last_error());
  if (std::strcmp(o.strategy, "fdal") == 0 && !info.has_sampler) {
    return die(kExitUsage, "strategy 'fdal' needs a model with a sampler; %s has none (use margin, entropy or random)", o.model);
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
  if (fdal_ranker_create(model.get(), o.strategy, k, o.seed, &raw_ranker) != FDAL_OK) {
    return die(kExitRuntime, "ranker: %s", fdal_last_error());
  }
  const std::unique_ptr<fdal_ranker, RankerDeleter> ranker(raw_ranker);

  // Every buffer is allocated here, once; the loop below allocates nothing.
  const std::int64_t image_bytes = std::int64_t(info.input_h) * info.input_w * info.input_c;
  const std::int64_t batch = o.batch < pool.size() ? o.batch : pool.size();
  const std::unique_ptr<std::uint8_t[]> chunk(new std::uint8_t[std::size_t(batch * image_bytes)]);
  const std::unique_ptr<std::int64_t[]> chosen(new std::int64_t[std::size_t(k)]);

  for (std::int64_t start = 0; start < pool.size(); start += batch) {
    const std::int64_t n = pool.size() - start < batch ? pool.size() - start : batch;
    if (!pool.read(start, n, chunk.get())) return die(kExitPool, "%s", pool.error());
    const fdal_images images = contiguous(chunk.get(), n, info);
    if (fdal_ranker_push(ranker.get(), &images) != FDAL_OK) return die(kExitRuntime, "%s", fdal_last_error());
  }
  if (fdal_ranker_finish(ranker.get(), chosen.get(), k) != FDAL_OK) {
    return die(kExitRuntime, "%s", fdal_last_error());
  }

  if (!o.scores) {
    for (std::int64_t i = 0; i < k; ++i) std::printf("%" PRId64 "\n", chosen[i]);
  } else {
    const std::unique_ptr<std::int32_t[]> logits_raw(new std::int32_t[std::size_t(batch * info.num_classes)]);
    const std::unique_ptr<std::int32_t[]> score_raw(new std::int32_t[std::size_t(batch)]);
    Options scored = o;
    scored.batch = batch;
    float unit = 0.f;
    if (std::strcmp(o.strategy, "entropy") == 0 && !read_logits_unit(o.model, &unit)) {
      return die(kExitModel, "model %s: cannot read the logits layer's out_scale", o.model);
    }
    const int rc = print_scores(scored, model.get(), info, pool, chosen.get(), k, chunk.get(),
                                logits_raw.get(), score_raw.get(), unit);
    if (rc != kExitOk) return rc;
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
