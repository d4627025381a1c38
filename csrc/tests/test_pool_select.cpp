// Pool selection through the C API (its request family, fdal_pool_request_*, and the positional
// forms kept as wrappers) and the C++ kernels: known answers, the
// pool_dot slots of every kernel path this CPU runs agree, a caller's scratch gives the same picks, errors are
// FDAL_ERR_INVALID_ARGUMENT. Bit-exactness to the numpy oracle: tests/runtime/test_pool_select.py.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "fdal/fdal.h"
#include "kernels/kernel_paths.h"
#include "rank/keys.h"
#include "rank/pool_select.h"

namespace {

std::uint64_t lcg(std::uint64_t& s) {
  s = s * 6364136223846793005ull + 1442695040888963407ull;
  return s >> 33;
}

// The cases below as a request of fdal.h's pool selection family (params NULL: the defaults).
fdal_pool_request request(const char* rule, const std::int8_t* embeddings, std::int64_t n, std::int64_t d,
                          std::int64_t row_stride, const std::int64_t* pool_indices, const std::int64_t* scores,
                          const std::int64_t* classes, const std::int64_t* labeled_counts,
                          std::int64_t num_labeled_counts, const fdal_pool_params* params) {
  fdal_pool_request r;
  fdal_pool_request_init(&r);  // the size, NULL everywhere, the default params; then the case's fields
  r.rule = rule, r.embeddings = embeddings, r.n = n, r.d = d, r.row_stride = row_stride;
  r.pool_indices = pool_indices, r.scores = scores, r.classes = classes;
  r.labeled_counts = labeled_counts, r.num_labeled_counts = num_labeled_counts;
  if (params != nullptr) r.params = *params;
  return r;
}

fdal_status select(const char* rule, const std::int8_t* embeddings, std::int64_t n, std::int64_t d,
                   std::int64_t row_stride, const std::int64_t* pool_indices, const std::int64_t* scores,
                   const std::int64_t* classes, const std::int64_t* labeled_counts, std::int64_t num_labeled_counts,
                   std::int64_t k, std::uint64_t seed, const fdal_pool_params* params, void* scratch,
                   std::size_t scratch_bytes, std::int64_t* picks) {
  const fdal_pool_request r = request(rule, embeddings, n, d, row_stride, pool_indices, scores, classes,
                                      labeled_counts, num_labeled_counts, params);
  return fdal_pool_request_select(&r, k, seed, scratch, scratch_bytes, picks);
}

fdal_status scratch_bytes(const char* rule, std::int64_t n, std::int64_t d, std::int64_t k,
                          const fdal_pool_params* params, std::size_t* bytes) {
  const fdal_pool_request r = request(rule, nullptr, n, d, 0, nullptr, nullptr, nullptr, nullptr, 0, params);
  return fdal_pool_request_scratch_bytes(&r, k, bytes);
}

// An LCG case with many ties whose picks come from the numpy oracle (fdal.oracle.pool_select);
// tests/runtime/test_pool_select.py::test_ctest_goldens_match_oracle recomputes them from this
// file, so under qemu this checks ARM against the x86 oracle bit for bit (power's det_log too).
// BEGIN GOLDEN
constexpr std::int64_t kGoldenN = 40, kGoldenD = 5, kGoldenK = 12;
constexpr std::uint64_t kGoldenSeed = 0x0123456789ABCDEFull;
const std::int64_t kGoldenKcenter[] = {17, 5, 19, 25, 37, 31, 9, 8, 24, 2, 39, 0};
const std::int64_t kGoldenTypiclust[] = {23, 18, 29, 25, 28, 3, 17, 33, 35, 32, 22, 7};
const std::int64_t kGoldenProbcover[] = {11, 2, 19, 24, 35, 8, 31, 32, 9, 10, 37, 39};
const std::int64_t kGoldenPower[] = {17, 4, 30, 9, 16, 37, 2, 5, 24, 0, 35, 29};  // beta 1.5, unit 0.25
const std::int64_t kGoldenClassbalanced[] = {17, 9, 30, 0, 4, 2, 37, 33, 16, 5, 24, 14};  // the same
// END GOLDEN

void test_golden() {
  std::uint64_t s = 2024;
  std::vector<std::int8_t> e(std::size_t(kGoldenN * kGoldenD));
  std::vector<std::int64_t> scores(static_cast<std::size_t>(kGoldenN));
  for (auto& v : e) v = std::int8_t(std::int64_t(lcg(s) % 9) - 4);
  for (auto& v : scores) v = std::int64_t(lcg(s) % 11) - 5;
  std::vector<std::int64_t> classes(static_cast<std::size_t>(kGoldenN));
  for (auto& v : classes) v = std::int64_t(lcg(s) % 4);
  const char* rules[] = {"kcenter", "typiclust", "probcover", "power", "classbalanced"};
  const std::int64_t* want[] = {kGoldenKcenter, kGoldenTypiclust, kGoldenProbcover, kGoldenPower,
                                kGoldenClassbalanced};
  for (int r = 0; r < 5; ++r) {
    fdal_pool_params p;
    fdal_pool_params_default(&p);
    p.beta = 1.5;
    p.unit = 0.25;
    const bool keys = r >= 3;  // power, classbalanced: scores, no embeddings
    std::int64_t picks[kGoldenK];
    CHECK_EQ(select(rules[r], keys ? nullptr : e.data(), kGoldenN, kGoldenD, kGoldenD, nullptr, keys ? scores.data() : nullptr, r == 4 ? classes.data() : nullptr, nullptr, 0, kGoldenK, kGoldenSeed, &p, nullptr, 0, picks),
             FDAL_OK);
    for (std::int64_t t = 0; t < kGoldenK; ++t) CHECK_EQ(picks[t], want[r][t]);
  }
}

void test_kcenter_line() {
  // Points 0, 10, ..., 100 on a line: from the middle, the ends (0 first: ties to the lower
  // position); from an end, the other end then the middle.
  std::vector<std::int8_t> x(11);
  for (int i = 0; i < 11; ++i) x[i] = std::int8_t(10 * i);
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    std::int64_t picks[3] = {-1, -1, -1};
    CHECK_EQ(select("kcenter", x.data(), 11, 1, 1, nullptr, nullptr, nullptr, nullptr, 0, 3, seed, nullptr, nullptr, 0, picks), FDAL_OK);
    if (picks[0] == 5) {
      CHECK_EQ(picks[1], 0);
      CHECK_EQ(picks[2], 10);
    } else if (picks[0] == 0) {
      CHECK_EQ(picks[1], 10);
      CHECK_EQ(picks[2], 5);
    }
  }
}

void test_kernels_and_scratch_agree() {
  std::uint64_t s = 42;
  for (int trial = 0; trial < 12; ++trial) {
    const std::int64_t n = 1 + std::int64_t(lcg(s) % 300), d = (trial % 3 == 0) ? 17 : 1 + std::int64_t(lcg(s) % 40);
    const std::int64_t stride = d + std::int64_t(lcg(s) % 5);
    std::vector<std::int8_t> e(std::size_t(n * stride));
    const int distinct = 1 + int(lcg(s) % 8);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::uint64_t row = lcg(s) % std::uint64_t(distinct);  // duplicates: ties
      for (std::int64_t t = 0; t < stride; ++t) e[std::size_t(i * stride + t)] = std::int8_t((row * 37 + std::uint64_t(t) * 11 + lcg(s) % 3) % 256 - 128);
    }
    const std::int64_t k = 1 + std::int64_t(lcg(s) % std::uint64_t(n));
    for (const char* rule : {"kcenter", "typiclust", "probcover"}) {
      const fdal::PoolRule r = fdal::parse_pool_rule(rule);
      fdal::PoolCandidates c;
      c.embeddings = e.data();
      c.n = n;
      c.d = d;
      c.row_stride = stride;
      const std::size_t kk = std::size_t(k);
      std::vector<std::int64_t> a(kk), b(kk), cpi(kk);
      fdal::pool_select(r, c, k, 7, fdal::PoolParams(), a.data(), nullptr, 0, &fdal::reference_kernel_table());
      for (const fdal::KernelPath& path : fdal::kernel_paths_of_this_build()) {
        if (!path.runs_here()) continue;
        fdal::pool_select(r, c, k, 7, fdal::PoolParams(), b.data(), nullptr, 0, &path.table());
        CHECK(a == b);
        if (a != b) std::fprintf(stderr, "  path %s rule %s trial %d\n", path.name, rule, trial);
      }
      size_t bytes = 0;
      CHECK_EQ(scratch_bytes(rule, n, d, k, nullptr, &bytes), FDAL_OK);
      std::vector<unsigned char> scratch(bytes + 1);
      CHECK_EQ(select(rule, e.data(), n, d, stride, nullptr, nullptr, nullptr, nullptr, 0, k, 7, nullptr, scratch.data() + 1, bytes, cpi.data()), FDAL_OK);
      CHECK(a == cpi);
      if (a != cpi) std::fprintf(stderr, "  rule %s trial %d n %lld d %lld k %lld\n", rule, trial, (long long)n, (long long)d, (long long)k);
    }
  }
}

// The SIMD paths put their own kernel in the int8 dot slot (so test_kernels_and_scratch_agree
// compares it with the reference): AVX2 on x86, SDOT on aarch64; the others keep the reference.
void test_simd_paths_fill_the_pool_dot_slot() {
  const fdal::KernelTable& reference = fdal::reference_kernel_table();
  for (const fdal::KernelPath& path : fdal::kernel_paths_of_this_build()) {
    if (!path.runs_here()) continue;
    const std::string name = path.name;
    const bool simd = name == "avx2" || name == "avx512vnni" || name == "neon-dotprod";
    CHECK((path.table().pool_dot_s8 != reference.pool_dot_s8) == simd);
    CHECK((path.table().pool_dot_s16 != reference.pool_dot_s16) == (name == "avx2" || name == "avx512vnni"));
  }
}

// The request's own rules (its size, the reserved fields) and the positional forms, which must
// give the request's picks.
void test_request_family() {
  std::vector<std::int8_t> e(40);
  for (std::size_t i = 0; i < e.size(); ++i) e[i] = std::int8_t((i * 29) % 17);
  std::vector<std::int64_t> scores = {3, -1, 4, 1, -5, 9, 2, 6, 5, 3}, classes = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0};
  std::int64_t picks[4], again[4];
  fdal_pool_request r = request("kcenter", e.data(), 10, 4, 4, nullptr, nullptr, nullptr, nullptr, 0, nullptr);
  CHECK_EQ(fdal_pool_request_select(&r, 4, 9, nullptr, 0, picks), FDAL_OK);
  CHECK_EQ(fdal_pool_select("kcenter", e.data(), 10, 4, 4, nullptr, nullptr, 4, 9, nullptr, nullptr, 0, again), FDAL_OK);
  for (int t = 0; t < 4; ++t) CHECK_EQ(picks[t], again[t]);
  const std::int64_t counts[3] = {5, 0, 2};
  r = request("classbalanced", nullptr, 10, 0, 0, nullptr, scores.data(), classes.data(), counts, 3, nullptr);
  CHECK_EQ(fdal_pool_request_select(&r, 4, 9, nullptr, 0, picks), FDAL_OK);
  CHECK_EQ(fdal_pool_select_labeled("classbalanced", nullptr, 10, 0, 0, nullptr, scores.data(), classes.data(), counts,
                                    3, 4, 9, nullptr, nullptr, 0, again), FDAL_OK);
  for (int t = 0; t < 4; ++t) CHECK_EQ(picks[t], again[t]);
  std::size_t a = 0, b = 0;
  CHECK_EQ(fdal_pool_request_scratch_bytes(&r, 4, &a), FDAL_OK);
  CHECK_EQ(fdal_pool_select_scratch_bytes("classbalanced", 10, 0, 4, nullptr, &b), FDAL_OK);
  CHECK_EQ(a, b);

  fdal_pool_request bad = r;
  bad.size = sizeof(fdal_pool_request) - 1;  // an older or uninitialised struct
  CHECK_EQ(fdal_pool_request_select(&bad, 4, 9, nullptr, 0, picks), FDAL_ERR_INVALID_ARGUMENT);
  CHECK(std::string(fdal_last_error()).find("fdal_pool_request_init") != std::string::npos);
  struct Newer {  // a caller built against a header with one more field
    fdal_pool_request base;
    std::int64_t extra;
  } newer{r, 0};
  newer.base.size = sizeof(Newer);
  CHECK_EQ(fdal_pool_request_select(&newer.base, 4, 9, nullptr, 0, again), FDAL_OK);  // unknown field zero: fine
  for (int t = 0; t < 4; ++t) CHECK_EQ(picks[t], again[t]);
  newer.extra = 1;
  CHECK_EQ(fdal_pool_request_select(&newer.base, 4, 9, nullptr, 0, again), FDAL_ERR_INVALID_ARGUMENT);
  const std::int64_t labels[1] = {0};
  bad = r;
  bad.labeled_labels = labels;
  bad.num_labeled = 1;
  CHECK_EQ(fdal_pool_request_select(&bad, 4, 9, nullptr, 0, picks), FDAL_ERR_INVALID_ARGUMENT);
  volatile std::int32_t stop = 0;
  bad = r;
  bad.cancel = &stop;
  CHECK_EQ(fdal_pool_request_select(&bad, 4, 9, nullptr, 0, picks), FDAL_ERR_INVALID_ARGUMENT);
  CHECK_EQ(fdal_pool_request_select(nullptr, 4, 9, nullptr, 0, picks), FDAL_ERR_INVALID_ARGUMENT);
}

void test_power_top_k_and_random_order() {
  const std::int64_t n = 64;
  std::vector<std::int64_t> scores(n), picks(n);
  for (std::int64_t i = 0; i < n; ++i) scores[std::size_t(i)] = (i * 37) % n;  // a permutation
  fdal_pool_params p;
  fdal_pool_params_default(&p);
  p.beta = 1e9;
  CHECK_EQ(select("power", nullptr, n, 0, 0, nullptr, scores.data(), nullptr, nullptr, 0, n, 3, &p, nullptr, 0, picks.data()),
           FDAL_OK);
  for (std::int64_t t = 0; t < n; ++t) CHECK_EQ(scores[std::size_t(picks[std::size_t(t)])], t);
  // Equal scores: the random strategy's order (smallest random key first).
  std::vector<std::int64_t> equal(n, 5);
  p.beta = 1.0;
  CHECK_EQ(select("power", nullptr, n, 0, 0, nullptr, equal.data(), nullptr, nullptr, 0, n, 3, &p, nullptr, 0, picks.data()),
           FDAL_OK);
  for (std::int64_t t = 1; t < n; ++t) {
    CHECK(fdal::random_key(3, picks[std::size_t(t - 1)]) < fdal::random_key(3, picks[std::size_t(t)]));
  }
}

void test_predicted_class_ties_to_the_lowest() {
  const std::int32_t a[] = {3, 7, 7, 1}, b[] = {5, 5}, c[] = {-2, -9, -2}, d[] = {-4, -3, 9, 9, 9};
  CHECK_EQ(fdal::predicted_class(a, 4), 1);
  CHECK_EQ(fdal::predicted_class(b, 2), 0);
  CHECK_EQ(fdal::predicted_class(c, 3), 0);
  CHECK_EQ(fdal::predicted_class(d, 5), 2);
}

void test_classbalanced_known_answer() {
  // beta = inf: classes 0: positions 1, 4, 2, 6 (keys 1, 2, 3, 7); 1: position 3; 2: positions
  // 5, 7, 0 (keys 2, 4, 5); visited class 1, 2, 0 (fewest candidates first), 1 exhausted at once.
  const std::int64_t scores[] = {5, 1, 3, 0, 2, 2, 7, 4};
  const std::int64_t classes[] = {2, 0, 0, 1, 0, 2, 0, 2};
  const std::int64_t want[] = {3, 5, 1, 7, 4, 0, 2, 6};
  fdal_pool_params p;
  fdal_pool_params_default(&p);
  p.beta = INFINITY;
  std::int64_t picks[8];
  CHECK_EQ(select("classbalanced", nullptr, 8, 0, 0, nullptr, scores, classes, nullptr, 0, 8, 0, &p, nullptr, 0, picks),
           FDAL_OK);
  for (int t = 0; t < 8; ++t) CHECK_EQ(picks[t], want[t]);
  // A caller's scratch, unaligned: the same picks, k = 5 a prefix.
  size_t bytes = 0;
  CHECK_EQ(scratch_bytes("classbalanced", 8, 0, 5, &p, &bytes), FDAL_OK);
  std::vector<unsigned char> scratch(bytes + 1);
  CHECK_EQ(select("classbalanced", nullptr, 8, 0, 0, nullptr, scores, classes, nullptr, 0, 5, 0, &p, scratch.data() + 1, bytes, picks),
           FDAL_OK);
  for (int t = 0; t < 5; ++t) CHECK_EQ(picks[t], want[t]);
}

void test_classbalanced_labeled_counts() {
  // tests/runtime/test_pool_select.py's known answers: the same pool with labeled counts.
  const std::int64_t scores[] = {5, 1, 3, 0, 2, 2, 7, 4};
  const std::int64_t classes[] = {2, 0, 0, 1, 0, 2, 0, 2};
  const std::int64_t counts_a[] = {3, 0, 1}, counts_b[] = {0, 0, 5};
  const std::int64_t want_a[] = {3, 5, 7, 0, 1, 4, 2, 6}, want_b[] = {3, 1, 4, 2, 6, 5, 7, 0};
  fdal_pool_params p;
  fdal_pool_params_default(&p);
  p.beta = INFINITY;
  std::int64_t picks[8];
  CHECK_EQ(select("classbalanced", nullptr, 8, 0, 0, nullptr, scores, classes, counts_a, 3, 8, 0, &p, nullptr, 0, picks),
           FDAL_OK);
  for (int t = 0; t < 8; ++t) CHECK_EQ(picks[t], want_a[t]);
  CHECK_EQ(select("classbalanced", nullptr, 8, 0, 0, nullptr, scores, classes, counts_b, 3, 8, 0, &p, nullptr, 0, picks),
           FDAL_OK);
  for (int t = 0; t < 8; ++t) CHECK_EQ(picks[t], want_b[t]);
  const std::int64_t negative[] = {0, -1, 0};
  CHECK_EQ(select("classbalanced", nullptr, 8, 0, 0, nullptr, scores, classes, negative, 3, 8, 0, &p, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "labeled_counts must be in 0..2^62");
  CHECK_EQ(select("classbalanced", nullptr, 8, 0, 0, nullptr, scores, classes, nullptr, 3, 8, 0, &p, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "labeled_counts is NULL");
  CHECK_EQ(select("power", nullptr, 8, 0, 0, nullptr, scores, nullptr, counts_a, 3, 8, 0, &p, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "takes no labeled counts");
}

void test_errors() {
  std::vector<std::int8_t> e(20, 0);
  std::int64_t picks[8];
  size_t bytes = 0;
  CHECK_EQ(select("kcenter", e.data(), 5, 4, 4, nullptr, nullptr, nullptr, nullptr, 0, 6, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "k = 6 must be in 1..5");
  CHECK_EQ(select("kcenter", e.data(), 5, 4, 4, nullptr, nullptr, nullptr, nullptr, 0, 0, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_EQ(select("kcenter", e.data(), 5, 0, 4, nullptr, nullptr, nullptr, nullptr, 0, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "d = 0");
  CHECK_EQ(select("kcenter", e.data(), 5, 4, 3, nullptr, nullptr, nullptr, nullptr, 0, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "row_stride");
  CHECK_EQ(select("kcenter", nullptr, 5, 4, 4, nullptr, nullptr, nullptr, nullptr, 0, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_EQ(select("power", nullptr, 5, 0, 0, nullptr, nullptr, nullptr, nullptr, 0, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "needs scores");
  CHECK_EQ(select("nearest", e.data(), 5, 4, 4, nullptr, nullptr, nullptr, nullptr, 0, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "unknown pool rule");
  CHECK_EQ(scratch_bytes("kcenter", 5, 4, 2, nullptr, &bytes), FDAL_OK);
  CHECK_EQ(select("kcenter", e.data(), 5, 4, 4, nullptr, nullptr, nullptr, nullptr, 0, 2, 0, nullptr, e.data(), bytes - 1, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "scratch");
  fdal_pool_params p;
  fdal_pool_params_default(&p);
  p.k_nn = 0;
  CHECK_EQ(select("typiclust", e.data(), 5, 4, 4, nullptr, nullptr, nullptr, nullptr, 0, 1, 0, &p, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "k_nn");
  const std::int64_t scores[5] = {0, 0, 0, 0, 0}, bad[5] = {0, 1, -1, 0, 0};
  CHECK_EQ(select("classbalanced", nullptr, 5, 0, 0, nullptr, scores, nullptr, nullptr, 0, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "needs classes");
  CHECK_EQ(select("classbalanced", nullptr, 5, 0, 0, nullptr, scores, bad, nullptr, 0, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "classes must be >= 0");
  CHECK_EQ(select("classbalanced", nullptr, 5, 0, 0, nullptr, scores, scores, nullptr, 0, 6, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "k = 6 must be in 1..5");
  CHECK_EQ(select("power", nullptr, 5, 0, 0, nullptr, scores, scores, nullptr, 0, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "takes no classes");
}

}  // namespace

int main() {
  test_golden();
  test_kcenter_line();
  test_predicted_class_ties_to_the_lowest();
  test_classbalanced_known_answer();
  test_classbalanced_labeled_counts();
  test_kernels_and_scratch_agree();
  test_simd_paths_fill_the_pool_dot_slot();
  test_request_family();
  test_power_top_k_and_random_order();
  test_errors();
  return fdal_test::finish("test_pool_select");
}
