// Fuzz target: load any byte string; when it loads, run a few images derived from the bytes and
// rank a tiny pool. Checks, besides "no crash / no sanitizer report":
//  - forward of a batch equals forward of each image alone and of a reversed (negative-stride) view
//  - with an embedding output: each image's int8 embedding alone equals its row of the batch's
//  - every ranking returns k distinct pool indices in range, the same for one push or two pushes
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fdal/fdal.h"
#include "repair.h"

namespace {

constexpr std::int64_t kPool = 5;          // images in the tiny pool
constexpr std::int64_t kMaxArena = 4 << 20;  // skip huge (slow) models; the loader is fuzzed alone
constexpr std::int64_t kMaxImageBytes = 1 << 16;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "fuzz_load_run: %s (%s)\n", what, fdal_last_error());
  std::abort();
}

void check(fdal_status st, const char* what) {
  if (st != FDAL_OK) die(what);
}

fdal_images contiguous(const std::uint8_t* data, std::int64_t n, const fdal_model_info& info) {
  const std::int64_t c = info.input_c, w = info.input_w, h = info.input_h;
  return fdal_images{data, n, h, w, c, h * w * c, w * c, c, 1};
}

// fdal_forward_run on one thread into logits_raw (+ score_raw, embedding when not NULL).
fdal_status run(const fdal_model* model, const fdal_images* images, std::int32_t* logits_raw, std::int32_t* score_raw,
                std::int8_t* embedding) {
  fdal_forward_outputs out;
  fdal_forward_outputs_init(&out);
  out.logits_raw = logits_raw;
  out.score_raw = score_raw;
  out.embedding = embedding;
  return fdal_forward_run(model, images, &out, nullptr);
}

std::vector<std::int32_t> forward(const fdal_model* model, const fdal_images& images,
                                  const fdal_model_info& info) {
  std::vector<std::int32_t> out(std::size_t(images.n) * (info.num_classes + 1));
  std::int32_t* score = info.has_sampler ? out.data() + images.n * info.num_classes : nullptr;
  check(run(model, &images, out.data(), score, nullptr), "forward failed on a loaded model");
  return out;
}

void embedding_checks(const fdal_model* model, const fdal_model_info& info, const std::uint8_t* pool,
                      std::int64_t image_bytes) {
  fdal_embedding_info e;
  check(fdal_model_get_embedding_info(model, &e), "embedding_info failed on a loaded model");
  if (!e.has_embedding) return;
  if (e.dim < 1 || e.dim > 4096 || e.layer < 0 || e.layer >= info.num_layers) die("embedding info out of range");
  const std::size_t dim = std::size_t(e.dim);
  std::vector<std::int32_t> logits(std::size_t(kPool * info.num_classes));
  std::vector<std::int8_t> batch(kPool * dim), one(dim);
  const fdal_images all = contiguous(pool, kPool, info);
  check(run(model, &all, logits.data(), nullptr, batch.data()),
        "forward_embedding failed on a loaded model");
  for (std::int64_t n = 0; n < kPool; ++n) {
    const fdal_images image = contiguous(pool + n * image_bytes, 1, info);
    check(run(model, &image, logits.data(), nullptr, one.data()),
          "forward_embedding failed on one image");
    if (std::memcmp(one.data(), batch.data() + n * dim, dim) != 0) {
      die("the embedding of one image differs from its row in the batch");
    }
  }
}

void rank_checks(const fdal_model* model, const fdal_model_info& info, const std::uint8_t* pool,
                 std::int64_t image_bytes, std::uint64_t seed) {
  const std::int64_t k = 3;
  for (std::int32_t s = 0; s < fdal_strategy_count(); ++s) {
    const char* strategy = fdal_strategy_name(s);
    fdal_ranker* probe = nullptr;
    const fdal_status created = fdal_ranker_create_with(model, strategy, k, seed, nullptr, &probe);
    fdal_ranker_free(probe);
    // The refusals a loaded model may earn: a strategy that needs the sampler or the embedding
    // output it lacks.
    fdal_embedding_info e;
    check(fdal_model_get_embedding_info(model, &e), "embedding_info failed on a loaded model");
    if (created == FDAL_ERR_INVALID_ARGUMENT && (!info.has_sampler || !e.has_embedding)) continue;
    check(created, "ranker_create failed");
    std::int64_t one[k], two[k];
    for (int pushes = 1; pushes <= 2; ++pushes) {
      fdal_ranker* ranker = nullptr;
      check(fdal_ranker_create_with(model, strategy, k, seed, nullptr, &ranker), "ranker_create failed");
      fdal_images all = contiguous(pool, kPool, info);
      if (pushes == 1) {
        check(fdal_ranker_push(ranker, &all), "push failed");
      } else {
        fdal_images first = all, second = all;
        first.n = 2;
        second.n = kPool - 2;
        second.data = pool + 2 * image_bytes;
        check(fdal_ranker_push(ranker, &first), "push failed");
        check(fdal_ranker_push(ranker, &second), "push failed");
      }
      std::int64_t* idx = pushes == 1 ? one : two;
      check(fdal_ranker_finish(ranker, idx, k), "finish failed");
      fdal_ranker_free(ranker);
      for (std::int64_t i = 0; i < k; ++i) {
        if (idx[i] < 0 || idx[i] >= kPool) die("ranked index out of range");
        for (std::int64_t j = 0; j < i; ++j) {
          if (idx[i] == idx[j]) die("ranked index repeated");
        }
      }
    }
    if (std::memcmp(one, two, sizeof(one)) != 0) die("ranking depends on how the pool was split");
  }
}

// Loads data; when it loads, runs the checks above on images derived from the bytes.
void load_and_run(const std::uint8_t* data, std::size_t size) {
  fdal_model* model = nullptr;
  if (fdal_model_load_memory(data, size, &model) != FDAL_OK) return;
  fdal_model_info info;
  check(fdal_model_get_info(model, &info), "get_info failed");
  const std::int64_t image_bytes = std::int64_t(info.input_h) * info.input_w * info.input_c;
  if (info.arena_bytes > kMaxArena || image_bytes > kMaxImageBytes) {
    fdal_model_free(model);
    return;
  }
  // Deterministic pixels derived from the file, so the fuzzer also steers the image content.
  std::vector<std::uint8_t> pool(std::size_t(kPool * image_bytes));
  for (std::size_t i = 0; i < pool.size(); ++i) {
    pool[i] = std::uint8_t(data[(i * 31 + 7) % size] ^ (i * 13));
  }
  const std::vector<std::int32_t> batch = forward(model, contiguous(pool.data(), kPool, info), info);

  // Each image alone gives its row of the batch result.
  const std::int64_t classes = info.num_classes;
  for (std::int64_t n = 0; n < kPool; ++n) {
    const std::vector<std::int32_t> one = forward(model, contiguous(pool.data() + n * image_bytes, 1, info), info);
    if (std::memcmp(one.data(), batch.data() + n * classes, 4 * classes) != 0 ||
        (info.has_sampler && one[classes] != batch[kPool * classes + n])) {
      die("forward of one image differs from its row in the batch");
    }
  }
  // The pool reversed through a negative batch stride gives the rows reversed.
  fdal_images reversed = contiguous(pool.data() + (kPool - 1) * image_bytes, kPool, info);
  reversed.stride_n = -image_bytes;
  const std::vector<std::int32_t> rev = forward(model, reversed, info);
  for (std::int64_t n = 0; n < kPool; ++n) {
    if (std::memcmp(rev.data() + n * classes, batch.data() + (kPool - 1 - n) * classes, 4 * classes) != 0) {
      die("forward through a negative stride differs");
    }
  }
  embedding_checks(model, info, pool.data(), image_bytes);
  std::uint64_t seed = 0;
  std::memcpy(&seed, data, size < 8 ? size : 8);
  rank_checks(model, info, pool.data(), image_bytes, seed);
  fdal_model_free(model);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The raw bytes almost never pass the CRC; the repaired copy reaches the fields and the kernels.
  load_and_run(data, size);
  const std::vector<std::uint8_t> fixed = repaired(data, size);
  load_and_run(fixed.data(), fixed.size());
  return 0;
}
