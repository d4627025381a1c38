// Whole models through the C API against the oracle: raw int32 logits and score accumulators and
// their float32 values, bit for bit, for vgg11_lite and alexnet_lite random models (format 1.0),
// through fdal_forward_run (and its older positional wrappers), with and without a reusable
// fdal_workspace; and the int8 embedding of embedding_branch (format 2.0).
//   test_forward GOLDEN_DIR
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "forward_call.h"
#include "fdal/fdal.h"
#include "golden.h"

namespace {

// The embedding output: info, and the int8 vectors through both entry points (1 and 3 threads)
// against the oracle's; a model without one reports none and refuses an embedding buffer.
void check_embedding(fdal_model* model, const fdal_test::GoldFile& gold, const fdal_images& view, std::int64_t n,
                     std::int64_t classes) {
  fdal_embedding_info e;
  CHECK_EQ(fdal_model_get_embedding_info(model, &e), FDAL_OK);
  CHECK_EQ(fdal_model_get_embedding_info(nullptr, &e), FDAL_ERR_INVALID_ARGUMENT);
  std::vector<std::int32_t> logits_raw(std::size_t(n * classes));
  if (!gold.has("embedding_q")) {
    CHECK(e.has_embedding == 0 && e.layer == -1 && e.dim == 0);
    std::int8_t unused[1];
    CHECK_EQ(fdal_test::forward_run(model, &view, 1, nullptr, logits_raw.data(), nullptr, nullptr, nullptr, unused),
             FDAL_ERR_INVALID_ARGUMENT);
    CHECK(std::strstr(fdal_last_error(), "has no embedding") != nullptr);
    return;
  }
  const fdal_test::GoldArray& want_q = gold.get("embedding_q");
  const fdal_test::GoldArray& want = gold.get("embedding");
  CHECK(e.has_embedding == 1 && e.layer >= 0 && e.scale > 0.f);
  CHECK_EQ(e.dim, want_q.shape[1]);
  std::printf("  embedding: layer %d, %lld int8 values, scale %g, zero point %d\n", e.layer, (long long)e.dim,
              double(e.scale), e.zero_point);
  const std::size_t values = std::size_t(n * e.dim);
  for (std::int32_t threads : {1, 3}) {
    std::vector<std::int8_t> q(values, 0x5A);
    CHECK_EQ(fdal_test::forward_run(model, &view, threads, nullptr, logits_raw.data(), nullptr, nullptr, nullptr, q.data()),
             FDAL_OK);
    CHECK(std::memcmp(q.data(), want_q.bytes.data(), values) == 0);
    // The documented dequantization, float32(q - zero_point) * scale, is the oracle's float embedding.
    bool same = true;
    for (std::size_t i = 0; i < values; ++i) {
      const float real = static_cast<float>(std::int32_t(q[i]) - e.zero_point) * e.scale;
      same = same && std::memcmp(&real, want.as<float>() + i, 4) == 0;
    }
    CHECK(same);
    fdal_workspace* ws = nullptr;
    CHECK_EQ(fdal_workspace_create(model, threads, &ws), FDAL_OK);
    std::vector<std::int8_t> q_ws(values, 0x5A);
    std::vector<float> score(static_cast<std::size_t>(n));
    CHECK_EQ(fdal_test::forward_run(nullptr, &view, 1, ws, logits_raw.data(), nullptr, nullptr, score.data(), q_ws.data()),
             FDAL_OK);
    CHECK(q_ws == q);
    CHECK(std::memcmp(score.data(), gold.get("score").bytes.data(), score.size() * 4) == 0);
    fdal_workspace_free(ws);
  }
}

void check_model(const char* dir, const std::string& name) {
  fdal_model* model = nullptr;
  const std::string path = fdal_test::golden_path(dir, name + ".fdal");
  if (fdal_model_load_file(path.c_str(), &model) != FDAL_OK) {
    std::fprintf(stderr, "  %s: %s\n", path.c_str(), fdal_last_error());
    fdal_test::report(__FILE__, __LINE__, "golden model loads");
    return;
  }
  fdal_model_info info;
  fdal_model_get_info(model, &info);
  const fdal_test::GoldFile gold(fdal_test::golden_path(dir, name + ".forward.gold"));
  const fdal_test::GoldArray& images = gold.get("images");
  const std::int64_t n = images.shape[0], h = images.shape[1], w = images.shape[2], c = images.shape[3];
  const std::int64_t classes = info.num_classes;
  std::printf("%s: %lld images, kernels %s\n", name.c_str(), (long long)n, info.kernels);

  std::vector<std::int32_t> logits_raw(std::size_t(n * classes)), score_raw(static_cast<std::size_t>(n));
  std::vector<float> logits(std::size_t(n * classes)), score(static_cast<std::size_t>(n));
  const fdal_images view{images.as<std::uint8_t>(), n, h, w, c, h * w * c, w * c, c, 1};
  CHECK_EQ(fdal_test::forward_run(model, &view, 1, nullptr, logits_raw.data(), score_raw.data(), logits.data(), score.data(), nullptr), FDAL_OK);
  CHECK(std::memcmp(logits_raw.data(), gold.get("logits_raw").bytes.data(), logits_raw.size() * 4) == 0);
  CHECK(std::memcmp(logits.data(), gold.get("logits").bytes.data(), logits.size() * 4) == 0);
  CHECK(std::memcmp(score_raw.data(), gold.get("score_raw").bytes.data(), score_raw.size() * 4) == 0);
  CHECK(std::memcmp(score.data(), gold.get("score").bytes.data(), score.size() * 4) == 0);

  // The earlier positional form (an ABI wrapper) gives the same numbers; the structs' size is checked.
  std::vector<std::int32_t> old_raw(logits_raw.size());
  std::vector<float> old_score(score.size());
  CHECK_EQ(fdal_forward(model, &view, old_raw.data(), nullptr, nullptr, old_score.data()), FDAL_OK);
  CHECK(old_raw == logits_raw && std::memcmp(old_score.data(), score.data(), score.size() * 4) == 0);
  fdal_forward_outputs outputs;
  fdal_forward_outputs_init(&outputs);
  outputs.logits_raw = old_raw.data();
  fdal_forward_options options;
  fdal_forward_options_init(&options);
  options.size = 0;  // never initialised
  CHECK_EQ(fdal_forward_run(model, &view, &outputs, &options), FDAL_ERR_INVALID_ARGUMENT);
  CHECK_CONTAINS(fdal_last_error(), "fdal_forward_options_init");
  outputs.size = sizeof(outputs) - 1;
  CHECK_EQ(fdal_forward_run(model, &view, &outputs, nullptr), FDAL_ERR_INVALID_ARGUMENT);

  // Image by image, through a reversed view (negative stride): same numbers.
  const fdal_images reversed{images.as<std::uint8_t>() + (n - 1) * h * w * c, n, h, w, c, -h * w * c, w * c, c, 1};
  std::vector<std::int32_t> rev(std::size_t(n * classes));
  CHECK_EQ(fdal_test::forward_run(model, &reversed, 1, nullptr, rev.data(), nullptr, nullptr, nullptr, nullptr), FDAL_OK);
  for (std::int64_t i = 0; i < n; ++i) {
    CHECK(std::memcmp(rev.data() + (n - 1 - i) * classes, logits_raw.data() + i * classes, std::size_t(classes) * 4) == 0);
  }

  // A reusable workspace, 1 and 3 threads, used twice each: the same numbers as fdal_forward.
  for (std::int32_t threads : {1, 3}) {
    fdal_workspace* ws = nullptr;
    CHECK_EQ(fdal_workspace_create(model, threads, &ws), FDAL_OK);
    for (int call = 0; call < 2 && ws != nullptr; ++call) {
      std::vector<std::int32_t> lr(logits_raw.size(), -1), sr(score_raw.size(), -1);
      std::vector<float> lf(logits.size(), -1.f), sf(score.size(), -1.f);
      CHECK_EQ(fdal_test::forward_run(nullptr, &view, 1, ws, lr.data(), sr.data(), lf.data(), sf.data(), nullptr), FDAL_OK);
      CHECK(lr == logits_raw && sr == score_raw);
      CHECK(std::memcmp(lf.data(), logits.data(), lf.size() * 4) == 0);
      CHECK(std::memcmp(sf.data(), score.data(), sf.size() * 4) == 0);
    }
    // Float scores without score_raw go through the workspace's buffer in chunks: 600 copies of
    // image 1 (stride 0) span several chunks and must all score like image 1.
    const std::int64_t many = 600;
    const fdal_images copies{images.as<std::uint8_t>() + h * w * c, many, h, w, c, 0, w * c, c, 1};
    std::vector<std::int32_t> lr(std::size_t(many * classes));
    std::vector<float> sf(std::size_t(many), -1.f);
    CHECK_EQ(fdal_test::forward_run(nullptr, &copies, 1, ws, lr.data(), nullptr, nullptr, sf.data(), nullptr), FDAL_OK);
    bool same = true;
    for (std::int64_t i = 0; i < many; ++i) {
      same = same && std::memcmp(&sf[std::size_t(i)], &score[1], 4) == 0 &&
             std::memcmp(lr.data() + i * classes, logits_raw.data() + classes, std::size_t(classes) * 4) == 0;
    }
    CHECK(same);
    fdal_workspace_free(ws);
  }
  fdal_workspace* none = nullptr;
  CHECK_EQ(fdal_workspace_create(model, 0, &none), FDAL_ERR_INVALID_ARGUMENT);
  CHECK(none == nullptr);
  CHECK_EQ(fdal_test::forward_run(nullptr, &view, 1, nullptr, logits_raw.data(), nullptr, nullptr, nullptr, nullptr), FDAL_ERR_INVALID_ARGUMENT);

  // A batch whose images have the wrong shape is an argument error.
  const fdal_images wrong{images.as<std::uint8_t>(), n, h - 1, w, c, h * w * c, w * c, c, 1};
  CHECK_EQ(fdal_test::forward_run(model, &wrong, 1, nullptr, logits_raw.data(), nullptr, nullptr, nullptr, nullptr), FDAL_ERR_INVALID_ARGUMENT);
  check_embedding(model, gold, view, n, classes);
  fdal_model_free(model);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: test_forward GOLDEN_DIR\n");
    return 2;
  }
  check_model(argv[1], "vgg11_lite");
  check_model(argv[1], "alexnet_lite");
  check_model(argv[1], "embedding_branch");
  return fdal_test::finish("test_forward");
}
