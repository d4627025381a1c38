// The loader through the C API: a valid file loads with the right info; truncated files, a bad
// CRC, a bad magic and a future version are rejected with FDAL_ERR_FORMAT and a message that
// names the rule (docs/format.md: size, magic and version are checked before the CRC); a model
// loaded in place runs as the copied one.
//   test_loader GOLDEN_DIR
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "forward_call.h"
#include "fdal/fdal.h"
#include "format/crc32.h"
#include "golden.h"

namespace {

using Bytes = std::vector<std::uint8_t>;

void put_u16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = std::uint8_t(v);
  b[at + 1] = std::uint8_t(v >> 8);
}

void fix_crc(Bytes& b) {
  const std::uint32_t crc = fdal::crc32(b.data(), b.size() - 4);
  for (int i = 0; i < 4; ++i) b[b.size() - 4 + std::size_t(i)] = std::uint8_t(crc >> (8 * i));
}

// Loads `b` and expects FDAL_ERR_FORMAT with `needle` in the message.
void expect_rejected(const Bytes& b, const char* needle, const char* what) {
  fdal_model* m = reinterpret_cast<fdal_model*>(0x1);
  const fdal_status s = fdal_model_load_memory(b.data(), b.size(), &m);
  if (s != FDAL_ERR_FORMAT || m != nullptr || std::strstr(fdal_last_error(), needle) == nullptr) {
    std::fprintf(stderr, "  case '%s': status %s, message \"%s\", expected FDAL_ERR_FORMAT and \"%s\"\n",
                 what, fdal_status_name(s), fdal_last_error(), needle);
    fdal_test::report(__FILE__, __LINE__, what);
  }
  if (s == FDAL_OK) fdal_model_free(m);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: test_loader GOLDEN_DIR\n");
    return 2;
  }
  const std::string path = fdal_test::golden_path(argv[1], "alexnet_lite.fdal");
  const Bytes valid = fdal_test::read_file(path);

  // A valid file loads, from memory and from disk, with the header's values.
  fdal_model* model = nullptr;
  CHECK_EQ(fdal_model_load_memory(valid.data(), valid.size(), &model), FDAL_OK);
  CHECK(model != nullptr);
  if (model != nullptr) {
    fdal_model_info info;
    CHECK_EQ(fdal_model_get_info(model, &info), FDAL_OK);
    CHECK_EQ(info.input_h, 16);
    CHECK_EQ(info.input_w, 16);
    CHECK_EQ(info.input_c, 3);
    CHECK_EQ(info.num_classes, 10);
    CHECK_EQ(info.has_sampler, 1);
    CHECK_EQ(info.version_major, 1);
    CHECK_EQ(info.file_bytes, std::int64_t(valid.size()));
    CHECK(info.arena_bytes > 0);
    CHECK(info.weight_bytes > 0 && info.weight_bytes < info.file_bytes);
    fdal_model_free(model);
  }
  model = nullptr;
  CHECK_EQ(fdal_model_load_file(path.c_str(), &model), FDAL_OK);
  fdal_model_free(model);

  // In place (a model in flash): the same results as the copy, from a 64-byte aligned buffer;
  // a misaligned buffer is an argument error, a damaged one a format error as with the copy.
  {
    Bytes storage(valid.size() + 128);
    const std::uintptr_t at = reinterpret_cast<std::uintptr_t>(storage.data());
    std::uint8_t* aligned = storage.data() + (64 - at % 64) % 64;
    std::memcpy(aligned, valid.data(), valid.size());
    fdal_model* copied = nullptr;
    fdal_model* in_place = nullptr;
    CHECK_EQ(fdal_model_load_memory(valid.data(), valid.size(), &copied), FDAL_OK);
    CHECK_EQ(fdal_model_load_memory_in_place(aligned, valid.size(), "auto", &in_place), FDAL_OK);
    if (copied != nullptr && in_place != nullptr) {
      fdal_model_info info;
      CHECK_EQ(fdal_model_get_info(in_place, &info), FDAL_OK);
      CHECK_EQ(info.file_bytes, std::int64_t(valid.size()));
      const std::int64_t n = 4, image = std::int64_t(info.input_h) * info.input_w * info.input_c;
      Bytes pixels(std::size_t(n * image));
      for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = std::uint8_t(i * 37 + 11);
      const fdal_images images{pixels.data(), n, info.input_h, info.input_w, info.input_c,
                               image, std::int64_t(info.input_w) * info.input_c, info.input_c, 1};
      std::vector<std::int32_t> logits_a(std::size_t(n * info.num_classes)), logits_b(logits_a.size());
      std::vector<std::int32_t> score_a(static_cast<std::size_t>(n)), score_b(score_a.size());
      CHECK_EQ(fdal_test::forward_run(copied, &images, 1, nullptr, logits_a.data(), score_a.data(), nullptr, nullptr, nullptr), FDAL_OK);
      CHECK_EQ(fdal_test::forward_run(in_place, &images, 1, nullptr, logits_b.data(), score_b.data(), nullptr, nullptr, nullptr), FDAL_OK);
      CHECK(logits_a == logits_b);
      CHECK(score_a == score_b);
    }
    fdal_model_free(copied);
    fdal_model_free(in_place);

    model = reinterpret_cast<fdal_model*>(0x1);
    std::memmove(aligned + 1, aligned, valid.size());
    CHECK_EQ(fdal_model_load_memory_in_place(aligned + 1, valid.size(), "auto", &model), FDAL_ERR_INVALID_ARGUMENT);
    CHECK(model == nullptr);
    CHECK_CONTAINS(fdal_last_error(), "64-byte aligned");
    std::memmove(aligned, aligned + 1, valid.size());
    aligned[valid.size() - 10] ^= 0x01;
    CHECK_EQ(fdal_model_load_memory_in_place(aligned, valid.size(), "auto", &model), FDAL_ERR_FORMAT);
    CHECK_CONTAINS(fdal_last_error(), "CRC mismatch");
    CHECK_EQ(fdal_model_load_memory_in_place(aligned, valid.size(), "auto", nullptr), FDAL_ERR_INVALID_ARGUMENT);
  }

  // A format 2.0 file (with an embedding) loads next to the 1.0 ones.
  model = nullptr;
  CHECK_EQ(fdal_model_load_file(fdal_test::golden_path(argv[1], "embedding_branch.fdal").c_str(), &model), FDAL_OK);
  if (model != nullptr) {
    fdal_model_info info;
    fdal_embedding_info embedding;
    CHECK_EQ(fdal_model_get_info(model, &info), FDAL_OK);
    CHECK_EQ(fdal_model_get_embedding_info(model, &embedding), FDAL_OK);
    CHECK_EQ(info.version_major, 2);
    CHECK_EQ(embedding.has_embedding, 1);
    CHECK_EQ(embedding.layer, info.num_layers - 1);
    CHECK_EQ(embedding.dim, 40);
    fdal_model_free(model);
  }

  // Truncation at several points, including inside the header and the empty file.
  for (std::size_t keep : {valid.size() - 1, valid.size() / 2, std::size_t(100), std::size_t(64),
                           std::size_t(20), std::size_t(9)}) {
    const Bytes cut(valid.begin(), valid.begin() + std::ptrdiff_t(keep));
    expect_rejected(cut, keep >= 68 ? "does not match the actual size" : "truncated", "truncated file");
  }
  expect_rejected(Bytes(), "truncated: 0 bytes", "empty file");

  Bytes bad_crc = valid;
  bad_crc[bad_crc.size() - 10] ^= 0x01;  // a flipped bit in the last blob array
  expect_rejected(bad_crc, "CRC mismatch", "flipped blob bit");
  Bytes bad_stored_crc = valid;
  bad_stored_crc.back() ^= 0x80;
  expect_rejected(bad_stored_crc, "CRC mismatch", "flipped CRC bit");

  Bytes bad_magic = valid;
  bad_magic[1] = 'G';
  fix_crc(bad_magic);
  expect_rejected(bad_magic, "bad magic", "bad magic");
  Bytes text_mode = valid;  // the \r\n of the magic turned into \n by a text-mode copy
  text_mode.erase(text_mode.begin() + 5);
  expect_rejected(text_mode, "bad magic", "text-mode damaged magic");

  Bytes future = valid;
  put_u16(future, 8, 3);
  fix_crc(future);
  expect_rejected(future, "future version 3", "future major version");
  Bytes future_bad_crc = valid;  // version is checked before the CRC
  put_u16(future_bad_crc, 8, 4);
  expect_rejected(future_bad_crc, "future version 4", "future version reported before CRC");
  Bytes minor = valid;  // a later minor version of 1.x is readable
  put_u16(minor, 10, 7);
  fix_crc(minor);
  model = nullptr;
  CHECK_EQ(fdal_model_load_memory(minor.data(), minor.size(), &model), FDAL_OK);
  if (model != nullptr) {
    fdal_model_info info;
    fdal_model_get_info(model, &info);
    CHECK_EQ(info.version_minor, 7);
    fdal_model_free(model);
  }

  // A missing file is a format error naming the path; bad arguments are argument errors.
  model = nullptr;
  CHECK_EQ(fdal_model_load_file((std::string(argv[1]) + "/no-such.fdal").c_str(), &model), FDAL_ERR_FORMAT);
  CHECK_CONTAINS(fdal_last_error(), "no-such.fdal");
  CHECK_EQ(fdal_model_load_memory(valid.data(), valid.size(), nullptr), FDAL_ERR_INVALID_ARGUMENT);
  CHECK_EQ(fdal_model_load_file(nullptr, &model), FDAL_ERR_INVALID_ARGUMENT);
  return fdal_test::finish("test_loader");
}
