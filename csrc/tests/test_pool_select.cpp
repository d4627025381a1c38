// Pool selection through the C API (fdal_pool_select) and the C++ kernels: known answers, the
// pool_dot slots of every kernel path this CPU runs agree, a caller's scratch gives the same picks, errors are
// FDAL_ERR_INVALID_ARGUMENT. Bit-exactness to the numpy oracle: tests/runtime/test_pool_select.py.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
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
    CHECK_EQ(fdal_pool_select_classes(rules[r], keys ? nullptr : e.data(), kGoldenN, kGoldenD, kGoldenD, nullptr,
                                      keys ? scores.data() : nullptr, r == 4 ? classes.data() : nullptr, kGoldenK,
                                      kGoldenSeed, &p, nullptr, 0, picks),
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
    CHECK_EQ(fdal_pool_select("kcenter", x.data(), 11, 1, 1, nullptr, nullptr, 3, seed, nullptr, nullptr, 0,
                              picks), FDAL_OK);
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
      CHECK_EQ(fdal_pool_select_scratch_bytes(rule, n, d, k, nullptr, &bytes), FDAL_OK);
      std::vector<unsigned char> scratch(bytes + 1);
      CHECK_EQ(fdal_pool_select(rule, e.data(), n, d, stride, nullptr, nullptr, k, 7, nullptr, scratch.data() + 1,
                                bytes, cpi.data()), FDAL_OK);
      CHECK(a == cpi);
      if (a != cpi) std::fprintf(stderr, "  rule %s trial %d n %lld d %lld k %lld\n", rule, trial, (long long)n, (long long)d, (long long)k);
    }
  }
}

void test_power_top_k_and_random_order() {
  const std::int64_t n = 64;
  std::vector<std::int64_t> scores(n), picks(n);
  for (std::int64_t i = 0; i < n; ++i) scores[std::size_t(i)] = (i * 37) % n;  // a permutation
  fdal_pool_params p;
  fdal_pool_params_default(&p);
  p.beta = 1e9;
  CHECK_EQ(fdal_pool_select("power", nullptr, n, 0, 0, nullptr, scores.data(), n, 3, &p, nullptr, 0, picks.data()),
           FDAL_OK);
  for (std::int64_t t = 0; t < n; ++t) CHECK_EQ(scores[std::size_t(picks[std::size_t(t)])], t);
  // Equal scores: the random strategy's order (smallest random key first).
  std::vector<std::int64_t> equal(n, 5);
  p.beta = 1.0;
  CHECK_EQ(fdal_pool_select("power", nullptr, n, 0, 0, nullptr, equal.data(), n, 3, &p, nullptr, 0, picks.data()),
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
  CHECK_EQ(fdal_pool_select_classes("classbalanced", nullptr, 8, 0, 0, nullptr, scores, classes, 8, 0, &p,
                                    nullptr, 0, picks),
           FDAL_OK);
  for (int t = 0; t < 8; ++t) CHECK_EQ(picks[t], want[t]);
  // A caller's scratch, unaligned: the same picks, k = 5 a prefix.
  size_t bytes = 0;
  CHECK_EQ(fdal_pool_select_scratch_bytes("classbalanced", 8, 0, 5, &p, &bytes), FDAL_OK);
  std::vector<unsigned char> scratch(bytes + 1);
  CHECK_EQ(fdal_pool_select_classes("classbalanced", nullptr, 8, 0, 0, nullptr, scores, classes, 5, 0, &p,
                                    scratch.data() + 1, bytes, picks),
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
  CHECK_EQ(fdal_pool_select_labeled("classbalanced", nullptr, 8, 0, 0, nullptr, scores, classes, counts_a, 3, 8, 0,
                                    &p, nullptr, 0, picks),
           FDAL_OK);
  for (int t = 0; t < 8; ++t) CHECK_EQ(picks[t], want_a[t]);
  CHECK_EQ(fdal_pool_select_labeled("classbalanced", nullptr, 8, 0, 0, nullptr, scores, classes, counts_b, 3, 8, 0,
                                    &p, nullptr, 0, picks),
           FDAL_OK);
  for (int t = 0; t < 8; ++t) CHECK_EQ(picks[t], want_b[t]);
  const std::int64_t negative[] = {0, -1, 0};
  CHECK_EQ(fdal_pool_select_labeled("classbalanced", nullptr, 8, 0, 0, nullptr, scores, classes, negative, 3, 8, 0,
                                    &p, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "labeled_counts must be in 0..2^62");
  CHECK_EQ(fdal_pool_select_labeled("classbalanced", nullptr, 8, 0, 0, nullptr, scores, classes, nullptr, 3, 8, 0,
                                    &p, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "labeled_counts is NULL");
  CHECK_EQ(fdal_pool_select_labeled("power", nullptr, 8, 0, 0, nullptr, scores, nullptr, counts_a, 3, 8, 0, &p,
                                    nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "takes no labeled counts");
}

void test_errors() {
  std::vector<std::int8_t> e(20, 0);
  std::int64_t picks[8];
  size_t bytes = 0;
  CHECK_EQ(fdal_pool_select("kcenter", e.data(), 5, 4, 4, nullptr, nullptr, 6, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "k = 6 must be in 1..5");
  CHECK_EQ(fdal_pool_select("kcenter", e.data(), 5, 4, 4, nullptr, nullptr, 0, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_EQ(fdal_pool_select("kcenter", e.data(), 5, 0, 4, nullptr, nullptr, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "d = 0");
  CHECK_EQ(fdal_pool_select("kcenter", e.data(), 5, 4, 3, nullptr, nullptr, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "row_stride");
  CHECK_EQ(fdal_pool_select("kcenter", nullptr, 5, 4, 4, nullptr, nullptr, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_EQ(fdal_pool_select("power", nullptr, 5, 0, 0, nullptr, nullptr, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "needs scores");
  CHECK_EQ(fdal_pool_select("nearest", e.data(), 5, 4, 4, nullptr, nullptr, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "unknown pool rule");
  CHECK_EQ(fdal_pool_select_scratch_bytes("kcenter", 5, 4, 2, nullptr, &bytes), FDAL_OK);
  CHECK_EQ(fdal_pool_select("kcenter", e.data(), 5, 4, 4, nullptr, nullptr, 2, 0, nullptr, e.data(), bytes - 1, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "scratch");
  fdal_pool_params p;
  fdal_pool_params_default(&p);
  p.k_nn = 0;
  CHECK_EQ(fdal_pool_select("typiclust", e.data(), 5, 4, 4, nullptr, nullptr, 1, 0, &p, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "k_nn");
  const std::int64_t scores[5] = {0, 0, 0, 0, 0}, bad[5] = {0, 1, -1, 0, 0};
  CHECK_EQ(fdal_pool_select("classbalanced", nullptr, 5, 0, 0, nullptr, scores, 1, 0, nullptr, nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "needs classes");
  CHECK_EQ(fdal_pool_select_classes("classbalanced", nullptr, 5, 0, 0, nullptr, scores, bad, 1, 0, nullptr, nullptr,
                                    0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "classes must be >= 0");
  CHECK_EQ(fdal_pool_select_classes("classbalanced", nullptr, 5, 0, 0, nullptr, scores, scores, 6, 0, nullptr,
                                    nullptr, 0, picks),
           FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "k = 6 must be in 1..5");
  CHECK_EQ(fdal_pool_select_classes("power", nullptr, 5, 0, 0, nullptr, scores, scores, 1, 0, nullptr, nullptr, 0,
                                    picks),
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
  test_power_top_k_and_random_order();
  test_errors();
  return fdal_test::finish("test_pool_select");
}
