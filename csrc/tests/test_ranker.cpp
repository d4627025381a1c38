// The ranker through the C API against the oracle's top-k for every strategy on a 32-image pool
// (read with the tool's .npy reader), pushed in batches of several sizes: the result must not
// depend on batching. Also checks k = pool size (the whole order), the k errors, and the keys of
// fdal_ranker_finish_keys. The pool-level strategies (rank_pool.gold: on embedding_branch.fdal, same
// pool) are checked with the default cap (> the pool) and cap 20 (seeded candidates).
//   test_ranker GOLDEN_DIR
#include <cstdint>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "forward_call.h"
#include "fdal/fdal.h"
#include "golden.h"
#include "pool_reader.h"

namespace {

// The keys fdal_ranker_finish_keys returns: the strategy's type, ascending order encodings, and
// values recomputed here from a separate forward pass (fdal, margin) or the documented formula
// (random); entropy keys are -H <= 0 (their exact digits are checked by fdal-rank's goldens).
void check_keys(const fdal_model* model, const fdal_model_info& info, const std::vector<std::uint8_t>& pool,
                const std::string& strategy, std::uint64_t seed, const std::vector<std::int64_t>& chosen,
                const std::vector<fdal_rank_key>& keys) {
  const std::int64_t h = info.input_h, w = info.input_w, c = info.input_c, classes = info.num_classes;
  // Pool-level strategies report each pick's margin key, in pick order (not ascending).
  const bool pool_level = strategy != "fdal" && strategy != "margin" && strategy != "entropy" && strategy != "random";
  const std::int32_t want_type = strategy == "fdal" ? FDAL_KEY_INT32 : strategy == "margin" || pool_level ? FDAL_KEY_INT64
                                 : strategy == "entropy" ? FDAL_KEY_FLOAT64 : FDAL_KEY_UINT64;
  std::vector<std::int32_t> logits(static_cast<std::size_t>(classes));
  std::int32_t score = 0;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    const fdal_rank_key& key = keys[i];
    CHECK_EQ(key.type, want_type);
    if (i > 0 && !pool_level) CHECK(keys[i - 1].order <= key.order);
    const fdal_images one{pool.data() + chosen[i] * h * w * c, 1, h, w, c, h * w * c, w * c, c, 1};
    CHECK_EQ(fdal_test::forward_run(model, &one, 1, nullptr, logits.data(), &score, nullptr, nullptr, nullptr), FDAL_OK);
    if (strategy == "fdal") {
      CHECK_EQ(key.value.i32, score);
    } else if (strategy == "margin" || pool_level) {
      std::int64_t top1 = INT64_MIN, top2 = INT64_MIN;
      for (std::int32_t v : logits) {
        if (v > top1) {
          top2 = top1;
          top1 = v;
        } else if (v > top2) {
          top2 = v;
        }
      }
      CHECK_EQ(key.value.i64, top1 - top2);
    } else if (strategy == "entropy") {
      CHECK(key.value.f64 <= 0.0);
    } else {
      std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (std::uint64_t(chosen[i]) + 1);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      CHECK(key.value.u64 == (z ^ (z >> 31)));
    }
  }
}

// fdal_ranker_create_with with at most `cap` candidates.
fdal_status create_capped(const fdal_model* model, const char* strategy, std::int64_t k, std::int64_t cap,
                          fdal_ranker** out) {
  fdal_ranker_options options;
  fdal_ranker_options_init(&options);
  options.cap = cap;
  return fdal_ranker_create_with(model, strategy, k, 0, &options, out);
}

std::vector<std::int64_t> rank(const fdal_model* model, const fdal_model_info& info, const std::vector<std::uint8_t>& pool,
                               std::int64_t n, const char* strategy, std::int64_t k, std::uint64_t seed,
                               std::int64_t batch, std::int64_t cap = FDAL_DEFAULT_CAP, std::int32_t threads = 1) {
  const std::int64_t h = info.input_h, w = info.input_w, c = info.input_c;
  fdal_ranker* ranker = nullptr;
  std::vector<std::int64_t> out(std::size_t(k), -1);
  fdal_ranker_options options;
  fdal_ranker_options_init(&options);
  options.threads = threads;
  options.cap = cap;
  if (fdal_ranker_create_with(model, strategy, k, seed, &options, &ranker) != FDAL_OK) {
    std::fprintf(stderr, "  ranker_create(%s): %s\n", strategy, fdal_last_error());
    fdal_test::report(__FILE__, __LINE__, "ranker_create succeeds");
    return out;
  }
  for (std::int64_t s = 0; s < n; s += batch) {
    const std::int64_t m = n - s < batch ? n - s : batch;
    const fdal_images view{pool.data() + s * h * w * c, m, h, w, c, h * w * c, w * c, c, 1};
    CHECK_EQ(fdal_ranker_push(ranker, &view), FDAL_OK);
  }
  std::vector<fdal_rank_key> keys(static_cast<std::size_t>(k));
  CHECK_EQ(fdal_ranker_finish_keys(ranker, out.data(), keys.data(), k), FDAL_OK);
  check_keys(model, info, pool, strategy, seed, out, keys);
  fdal_ranker_free(ranker);
  return out;
}

}  // namespace

// fdal_ranker_options and fdal_ranker_push_indices: a start index equals explicit indices, the old
// positional form equals the options form, indices must ascend, the options' size is checked.
void test_options_and_indices(const fdal_model* model, const fdal_model_info& info,
                              const std::vector<std::uint8_t>& pool, std::int64_t n) {
  const std::int64_t image = std::int64_t(info.input_h) * info.input_w * info.input_c;
  const fdal_images all{pool.data(), n, info.input_h, info.input_w, info.input_c, image,
                        std::int64_t(info.input_w) * info.input_c, info.input_c, 1};
  const std::int64_t k = n < 5 ? n : 5;
  std::vector<std::int64_t> a(static_cast<std::size_t>(k)), b(a.size()), c(a.size());
  fdal_ranker_options options;
  fdal_ranker_options_init(&options);
  options.start_index = 1000;
  fdal_ranker* ranker = nullptr;
  CHECK_EQ(fdal_ranker_create_with(model, "random", k, 3, &options, &ranker), FDAL_OK);
  CHECK_EQ(fdal_ranker_push(ranker, &all), FDAL_OK);
  CHECK_EQ(fdal_ranker_finish(ranker, a.data(), k), FDAL_OK);
  fdal_ranker_free(ranker);
  std::vector<std::int64_t> indices(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) indices[std::size_t(i)] = 1000 + i;
  CHECK_EQ(fdal_ranker_create_with(model, "random", k, 3, nullptr, &ranker), FDAL_OK);
  CHECK_EQ(fdal_ranker_push_indices(ranker, &all, indices.data()), FDAL_OK);
  CHECK_EQ(fdal_ranker_finish(ranker, b.data(), k), FDAL_OK);
  CHECK(a == b);
  CHECK_EQ(fdal_ranker_push_indices(ranker, &all, indices.data()), FDAL_ERR_INVALID_ARGUMENT);  // not ascending
  CHECK_CONTAINS(fdal_last_error(), "ascend strictly");
  fdal_ranker_free(ranker);
  CHECK_EQ(fdal_ranker_create_cap(model, "margin", k, 3, 2, 7, &ranker), FDAL_OK);  // the ABI wrapper
  CHECK_EQ(fdal_ranker_push(ranker, &all), FDAL_OK);
  CHECK_EQ(fdal_ranker_finish(ranker, a.data(), k), FDAL_OK);
  fdal_ranker_free(ranker);
  fdal_ranker_options_init(&options);
  options.threads = 2;
  options.cap = 7;
  CHECK_EQ(fdal_ranker_create_with(model, "margin", k, 3, &options, &ranker), FDAL_OK);
  CHECK_EQ(fdal_ranker_push(ranker, &all), FDAL_OK);
  CHECK_EQ(fdal_ranker_finish(ranker, c.data(), k), FDAL_OK);
  CHECK(a == c);
  fdal_ranker_free(ranker);
  ranker = nullptr;
  options.size = sizeof(options) - 1;
  CHECK_EQ(fdal_ranker_create_with(model, "margin", k, 3, &options, &ranker), FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "fdal_ranker_options_init");
  CHECK(ranker == nullptr);
  fdal_ranker_options_init(&options);
  const std::int64_t counts[1] = {3};
  options.labeled_counts = counts;
  options.num_labeled_counts = 1;
  CHECK_EQ(fdal_ranker_create_with(model, "margin", k, 3, &options, &ranker), FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "only classbalanced");
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: test_ranker GOLDEN_DIR\n");
    return 2;
  }
  fdal_model* model = nullptr;
  CHECK_EQ(fdal_model_load_file(fdal_test::golden_path(argv[1], "alexnet_lite.fdal").c_str(), &model), FDAL_OK);
  if (model == nullptr) return fdal_test::finish("test_ranker");
  fdal_model_info info;
  fdal_model_get_info(model, &info);

  fdal_tools::PoolReader reader;
  const std::string pool_path = fdal_test::golden_path(argv[1], "pool.npy");
  CHECK(reader.open(pool_path.c_str(), info.input_h, info.input_w, info.input_c) == fdal_tools::PoolStatus::Ok);
  const std::int64_t n = reader.size();
  std::vector<std::uint8_t> pool(std::size_t(n * info.input_h * info.input_w * info.input_c));
  CHECK(reader.read(0, n, pool.data()));

  const fdal_test::GoldFile gold(fdal_test::golden_path(argv[1], "rank.gold"));
  const std::uint64_t seed = gold.get("random_seed").as<std::uint64_t>()[0];
  // Every strategy the library knows must have its oracle goldens (make_goldens.py writes them).
  CHECK(fdal_strategy_count() >= 1);
  CHECK(fdal_strategy_name(-1) == nullptr && fdal_strategy_name(fdal_strategy_count()) == nullptr);
  const fdal_test::GoldFile pool_gold(fdal_test::golden_path(argv[1], "rank_pool.gold"));
  fdal_model* emb_model = nullptr;
  CHECK_EQ(fdal_model_load_file(fdal_test::golden_path(argv[1], "embedding_branch.fdal").c_str(), &emb_model), FDAL_OK);
  if (emb_model == nullptr) return fdal_test::finish("test_ranker");
  fdal_model_info emb_info{};
  CHECK_EQ(fdal_model_get_info(emb_model, &emb_info), FDAL_OK);
  const std::int64_t pool_cap = pool_gold.get("cap").as<std::int64_t>()[0];
  for (std::int32_t s = 0; s < fdal_strategy_count(); ++s) {
    const char* strategy = fdal_strategy_name(s);
    if (!gold.has(strategy)) {  // a pool-level strategy: its goldens are in rank_pool.gold
      for (const bool capped : {false, true}) {
        const fdal_test::GoldArray& want = pool_gold.get(std::string(strategy) + (capped ? "_cap" : ""));
        for (std::int64_t batch : {std::int64_t(1), std::int64_t(7), std::int64_t(64)}) {
          for (std::int32_t threads : {1, 3}) {
            const auto got = rank(emb_model, emb_info, pool, n, strategy, want.elements(), seed, batch,
                                  capped ? pool_cap : FDAL_DEFAULT_CAP, threads);
            if (std::memcmp(got.data(), want.bytes.data(), want.bytes.size()) != 0) {
              std::fprintf(stderr, "  strategy %s, cap %s, batch %lld, threads %d: picks differ from the oracle\n",
                           strategy, capped ? "20" : "default", (long long)batch, threads);
              fdal_test::report(__FILE__, __LINE__, "pool-level picks match the oracle");
            }
          }
        }
      }
      continue;
    }
    const fdal_test::GoldArray& top = gold.get(strategy);
    const fdal_test::GoldArray& all = gold.get(std::string(strategy) + "_all");
    for (std::int64_t batch : {std::int64_t(1), std::int64_t(5), std::int64_t(32), std::int64_t(64)}) {
      const auto got = rank(model, info, pool, n, strategy, top.elements(), seed, batch);
      if (std::memcmp(got.data(), top.bytes.data(), top.bytes.size()) != 0) {
        std::fprintf(stderr, "  strategy %s, batch %lld: top-k differs from the oracle\n", strategy, (long long)batch);
        fdal_test::report(__FILE__, __LINE__, "top-k matches the oracle");
      }
    }
    const auto whole = rank(model, info, pool, n, strategy, n, seed, 7);
    CHECK(std::memcmp(whole.data(), all.bytes.data(), all.bytes.size()) == 0);
  }

  // k larger than the images pushed fails at finish; k <= 0 and unknown strategies at create.
  fdal_ranker* ranker = nullptr;
  CHECK_EQ(fdal_ranker_create_with(model, "margin", n + 1, 0, nullptr, &ranker), FDAL_OK);
  const fdal_images view{pool.data(), n, info.input_h, info.input_w, info.input_c,
                         std::int64_t(info.input_h) * info.input_w * info.input_c,
                         std::int64_t(info.input_w) * info.input_c, info.input_c, 1};
  CHECK_EQ(fdal_ranker_push(ranker, &view), FDAL_OK);
  std::vector<std::int64_t> out(std::size_t(n + 1));
  CHECK_EQ(fdal_ranker_finish(ranker, out.data(), n + 1), FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "pool size");
  fdal_ranker_free(ranker);
  ranker = nullptr;
  CHECK_EQ(fdal_ranker_create_with(model, "margin", 0, 0, nullptr, &ranker), FDAL_ERR_INVALID_ARGUMENT);
  CHECK_EQ(fdal_ranker_create_with(model, "least-confidence", 3, 0, nullptr, &ranker), FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "least-confidence");
  // Pool-level: k above the cap fails at create; an embedding rule needs an embedding (the message
  // names the fix); cap < 1 is refused.
  CHECK_EQ(create_capped(emb_model, "kcenter", 21, 20, &ranker), FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "larger than the number of candidates");
  CHECK_EQ(create_capped(emb_model, "power", 5, 0, &ranker), FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "cap must be at least 1");
  CHECK_EQ(fdal_ranker_create_with(model, "kcenter", 5, 0, nullptr, &ranker), FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "fdal export");
  CHECK_EQ(fdal_ranker_create_with(model, "power", 5, 0, nullptr, &ranker), FDAL_OK);  // power needs no embedding
  fdal_ranker_free(ranker);
  ranker = nullptr;
  CHECK_EQ(fdal_ranker_create_with(model, "classbalanced", 5, 0, nullptr, &ranker), FDAL_OK);  // nor does classbalanced
  fdal_ranker_free(ranker);
  ranker = nullptr;
  CHECK_EQ(create_capped(emb_model, "classbalanced", 21, 20, &ranker), FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "larger than the number of candidates");
  test_options_and_indices(model, info, pool, n);
  fdal_model_free(emb_model);
  fdal_model_free(model);
  return fdal_test::finish("test_ranker");
}
