// Every kernel path this CPU can run against the numpy oracle, in one process: for each golden
// model loaded with that path, each layer's kernel runs on the oracle's input to that layer and
// must reproduce the oracle's output byte for byte, and whole models (forward_raw, 1 image at a
// time and in tiles) must reproduce the oracle's int32 heads. Paths come from the one list of
// kernels/kernel_paths.h; the ones this CPU cannot run are printed as skipped, by name.
//   test_kernel_paths GOLDEN_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "format/loader.h"
#include "golden.h"
#include "kernels/kernel_paths.h"
#include "runtime/executor.h"
#include "runtime/workspace.h"

namespace {

using fdal::Layer;
using fdal::Op;

int ops_checked[8] = {0};

void check_layers(const char* dir, const std::string& name, const fdal::KernelPath& path) {
  const auto model = fdal::load_model_file(fdal_test::golden_path(dir, name + ".fdal"), path.name);
  const fdal::KernelTable& table = *model->kernels;
  CHECK(std::strcmp(table.name, path.name) == 0);
  fdal::Workspace workspace(*model);  // the packed kernels' scratch
  std::uint8_t* scratch = workspace.scratch();
  const fdal_test::GoldFile gold(fdal_test::golden_path(dir, name + ".layers.gold"));
  const fdal_test::GoldArray& images = gold.get("images");
  const fdal_test::GoldArray& input_q = gold.get("input_q");
  const std::int64_t n = images.shape[0];
  const fdal::TensorShape& s = model->input_shape;
  const std::int64_t in_elems = s.elements();

  for (std::int64_t i = 0; i < n; ++i) {
    // input lookup: raw pixels -> int8 input tensor
    std::vector<std::int8_t> q(std::size_t(in_elems), 0);
    table.input_lookup_u8(images.as<std::uint8_t>() + i * in_elems, std::int64_t(s.w) * s.c, s.c, 1, s,
                          model->lut, q.data());
    if (std::memcmp(q.data(), input_q.as<std::int8_t>() + i * in_elems, q.size()) != 0) {
      std::fprintf(stderr, "  %s [%s] image %lld: input_lookup_u8 differs\n", name.c_str(), table.name, (long long)i);
      fdal_test::report(__FILE__, __LINE__, "input_lookup_u8 matches the oracle");
    }
    for (std::size_t j = 0; j < model->layers.size(); ++j) {
      const Layer& L = model->layers[j];
      const fdal_test::GoldArray& in_gold =
          L.input_layer < 0 ? input_q : gold.get("layer" + std::to_string(L.input_layer));
      const fdal_test::GoldArray& out_gold = gold.get("layer" + std::to_string(j));
      const std::int64_t in_bytes = L.params.in.elements();
      const std::int64_t out_bytes = L.output_bytes();
      CHECK_EQ(std::int64_t(out_gold.bytes.size()), n * out_bytes);
      const std::int8_t* in = in_gold.as<std::int8_t>() + i * in_bytes;
      // Canary bytes after the output catch kernels that write past their tensor.
      std::vector<std::int8_t> out(std::size_t(out_bytes + 64), std::int8_t(0x5A));
      const char* kernel = "";
      switch (L.op) {
        case Op::Conv2D: kernel = "conv2d_s8"; table.conv2d_s8(L.params, L.weights, in, out.data(), scratch); break;
        case Op::MaxPool: kernel = "max_pool_s8"; table.max_pool_s8(L.params, in, out.data()); break;
        case Op::AvgPool: kernel = "avg_pool_s8"; table.avg_pool_s8(L.params, in, out.data()); break;
        case Op::Relu: kernel = "relu_s8"; table.relu_s8(L.params, in, out.data()); break;
        case Op::Flatten: kernel = "copy_s8"; table.copy_s8(L.params, in, out.data()); break;
        case Op::UpsampleNearest: kernel = "upsample_nearest_s8"; table.upsample_nearest_s8(L.params, in, out.data()); break;
        case Op::FullyConnected:
          if (L.out_kind == fdal::OutKind::Int32) {
            kernel = "fully_connected_s8_s32";
            std::vector<std::int32_t> acc(std::size_t(L.params.out.c) + 16, 0x5A5A5A5A);
            table.fully_connected_s8_s32(L.params, L.weights, in, acc.data(), scratch);
            std::memcpy(out.data(), acc.data(), std::size_t(out_bytes));
            CHECK(acc[std::size_t(L.params.out.c)] == 0x5A5A5A5A);
            out[std::size_t(out_bytes)] = 0x5A;
          } else {
            kernel = "fully_connected_s8";
            table.fully_connected_s8(L.params, L.weights, in, out.data(), scratch);
          }
          break;
      }
      ++ops_checked[int(L.op)];
      const std::uint8_t* want = out_gold.bytes.data() + i * out_bytes;
      if (std::memcmp(out.data(), want, std::size_t(out_bytes)) != 0) {
        std::int64_t first = 0;
        while (std::uint8_t(out[std::size_t(first)]) == want[first]) ++first;
        std::fprintf(stderr, "  %s [%s] image %lld layer %zu (%s): first difference at byte %lld\n",
                     name.c_str(), table.name, (long long)i, j, kernel, (long long)first);
        fdal_test::report(__FILE__, __LINE__, "kernel output matches the oracle");
      }
      CHECK(out[std::size_t(out_bytes)] == 0x5A);
    }
  }
}

// The whole model on the path: the oracle's raw int32 logits and score, and the int8 embedding when
// the model has one, for every image.
void check_forward(const char* dir, const std::string& name, const fdal::KernelPath& path) {
  const auto model = fdal::load_model_file(fdal_test::golden_path(dir, name + ".fdal"), path.name);
  const fdal_test::GoldFile gold(fdal_test::golden_path(dir, name + ".forward.gold"));
  const fdal_test::GoldArray& images = gold.get("images");
  const std::int64_t n = images.shape[0], h = images.shape[1], w = images.shape[2], c = images.shape[3];
  fdal::ImageView view;
  view.data = images.as<std::uint8_t>();
  view.n = n, view.h = h, view.w = w, view.c = c;
  view.stride_n = h * w * c, view.stride_h = w * c, view.stride_w = c, view.stride_c = 1;
  std::vector<std::int32_t> logits(std::size_t(n * model->num_classes)), score(static_cast<std::size_t>(n));
  std::vector<std::int8_t> embedding(std::size_t(n * model->embedding_dim()));
  fdal::Workspace workspace(*model);
  fdal::forward_raw(*model, view, workspace, logits.data(), score.data(), embedding.data());
  if (std::memcmp(logits.data(), gold.get("logits_raw").bytes.data(), logits.size() * 4) != 0 ||
      std::memcmp(score.data(), gold.get("score_raw").bytes.data(), score.size() * 4) != 0) {
    std::fprintf(stderr, "  %s [%s]: forward_raw differs from the oracle\n", name.c_str(), path.name);
    fdal_test::report(__FILE__, __LINE__, "whole model matches the oracle");
  }
  CHECK_EQ(model->has_embedding(), gold.has("embedding_q"));
  if (gold.has("embedding_q") &&
      (std::int64_t(embedding.size()) != gold.get("embedding_q").elements() ||
       std::memcmp(embedding.data(), gold.get("embedding_q").bytes.data(), embedding.size()) != 0)) {
    std::fprintf(stderr, "  %s [%s]: the embedding differs from the oracle\n", name.c_str(), path.name);
    fdal_test::report(__FILE__, __LINE__, "embedding matches the oracle");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: test_kernel_paths GOLDEN_DIR\n");
    return 2;
  }
  std::string ran, skipped;
  for (const fdal::KernelPath& path : fdal::kernel_paths_of_this_build()) {
    if (!path.runs_here()) {
      skipped += std::string(" ") + path.name;
      continue;
    }
    ran += std::string(" ") + path.name;
    for (const char* name : {"ops_mix", "tiny", "alexnet_lite", "vgg11_lite", "embedding_branch", "ties"}) {
      check_layers(argv[1], name, path);
    }
    for (const char* name : {"vgg11_lite", "alexnet_lite", "embedding_branch", "ties"}) check_forward(argv[1], name, path);
  }
  std::printf("kernel paths checked:%s\nkernel paths skipped (this CPU cannot run them):%s\n", ran.c_str(),
              skipped.empty() ? " none" : skipped.c_str());
  // The golden models must exercise every op, or this test proves less than it claims.
  for (int op = 1; op <= 7; ++op) CHECK(ops_checked[op] > 0);
  CHECK(ran.find(" reference") != std::string::npos);
  return fdal_test::finish("test_kernel_paths");
}
