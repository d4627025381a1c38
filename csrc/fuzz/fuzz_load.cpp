// Fuzz target: any byte string handed to the loader either loads (and then reports sane info) or
// fails with FDAL_ERR_FORMAT and a message; never a crash, a sanitizer report or another status.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fdal/fdal.h"
#include "repair.h"

namespace {

void load_one(const std::uint8_t* data, std::size_t size) {
  fdal_model* model = nullptr;
  const fdal_status st = fdal_model_load_memory(data, size, &model);
  if (st != FDAL_OK) {
    // A hostile file is a format error with a message, not an internal error or a null model leak.
    if (st != FDAL_ERR_FORMAT || model != nullptr || std::strlen(fdal_last_error()) == 0) {
      std::fprintf(stderr, "load returned %s: %s\n", fdal_status_name(st), fdal_last_error());
      std::abort();
    }
    return;
  }
  fdal_model_info info;
  if (fdal_model_get_info(model, &info) != FDAL_OK || info.file_bytes != std::int64_t(size) ||
      info.input_h < 1 || info.input_w < 1 || info.input_c < 1 || info.num_classes < 2 ||
      info.num_layers < 1 || info.arena_bytes <= 0 || info.arena_bytes > (std::int64_t(256) << 20)) {
    std::fprintf(stderr, "a loaded model reports inconsistent info\n");
    std::abort();
  }
  fdal_model_free(model);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  load_one(data, size);
  const std::vector<std::uint8_t> fixed = repaired(data, size);
  load_one(fixed.data(), fixed.size());
  return 0;
}
