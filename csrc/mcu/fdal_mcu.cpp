// fdal-mcu: the firmware's main. Loads the model embedded in flash in place (no copy in RAM),
// ranks the embedded .npy pool with the strategy, k, seed, cap and kernel path chosen at build
// time, and prints the k chosen pool indices, best first, one per line on stdout, as fdal-rank
// prints them; then the memory it used on stderr, each line starting "fdal-mcu:". Only the public
// C API (fdal/fdal.h) ranks.
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <malloc.h>  // newlib's mallinfo: bytes in use, for the memory report

#include "fdal/fdal.h"
#include "memory_usage.h"
#include "npy_header.h"

extern "C" const std::uint8_t fdal_mcu_model[], fdal_mcu_model_end[];
extern "C" const std::uint8_t fdal_mcu_pool[], fdal_mcu_pool_end[];

namespace {

// The exit codes of fdal-rank, so that a failure reads the same on a board and on Linux.
enum ExitCode { kExitOk = 0, kExitUsage = 2, kExitModel = 3, kExitPool = 4, kExitShape = 5, kExitBadK = 6, kExitRuntime = 7 };

int die(int code, const char* what, const char* message) {
  std::fprintf(stderr, "fdal-mcu: %s: %s\n", what, message);
  return code;
}

// A failed call of the C API; out of memory says which build settings give the ranker more.
int die_status(fdal_status status, const char* what) {
  if (status == FDAL_ERR_NO_MEMORY) {
    std::fprintf(stderr, "fdal-mcu: %s: out of memory (heap %lu bytes: raise FDAL_MCU_RAM_KB or lower FDAL_MCU_CAP)\n",
                 what, (unsigned long)fdal_mcu_heap_size());
    return kExitRuntime;
  }
  return die(status == FDAL_ERR_INVALID_ARGUMENT ? kExitUsage : kExitRuntime, what, fdal_last_error());
}

// The embedded pool: a C-order uint8 .npy of shape (N, H, W, C) matching the model's input.
int open_pool(const fdal_model_info& info, fdal_images* images) {
  const std::size_t size = std::size_t(fdal_mcu_pool_end - fdal_mcu_pool);
  char error[160] = "";
  std::int64_t header_size = 0;
  fdal_tools::NpyHeader npy;
  if (size < fdal_tools::kNpyPreambleBytes || !fdal_tools::is_npy(fdal_mcu_pool, size)) {
    return die(kExitPool, "pool", "the embedded FDAL_MCU_POOL is not a .npy file");
  }
  if (!fdal_tools::npy_header_size(fdal_mcu_pool, size, &header_size, error, sizeof(error)) ||
      std::uint64_t(header_size) > size ||
      !fdal_tools::parse_npy_header(fdal_mcu_pool, std::size_t(header_size), &npy, error, sizeof(error))) {
    return die(kExitPool, "pool", error[0] ? error : "the .npy header is longer than the file");
  }
  if (std::strcmp(npy.descr, "|u1") != 0 && std::strcmp(npy.descr, "<u1") != 0 && std::strcmp(npy.descr, "u1") != 0) {
    std::snprintf(error, sizeof(error), ".npy dtype '%s' is not uint8 ('|u1')", npy.descr);
    return die(kExitPool, "pool", error);
  }
  if (npy.fortran_order) return die(kExitPool, "pool", ".npy is in Fortran order; save it C-contiguous");
  if (npy.ndim != 4 || npy.shape[1] != info.input_h || npy.shape[2] != info.input_w || npy.shape[3] != info.input_c) {
    char shape[96] = "(";
    for (int i = 0; i < npy.ndim; ++i) {
      const std::size_t used = std::strlen(shape);
      std::snprintf(shape + used, sizeof(shape) - used, i ? ", %lld" : "%lld", (long long)npy.shape[i]);
    }
    std::snprintf(error, sizeof(error), ".npy shape %s) is not (N, %d, %d, %d) as the model expects", shape,
                  int(info.input_h), int(info.input_w), int(info.input_c));
    return die(kExitShape, "pool", error);
  }
  const std::int64_t image_bytes = std::int64_t(info.input_h) * info.input_w * info.input_c;
  const std::int64_t n = npy.shape[0];
  if (n < 1 || std::uint64_t(n) * std::uint64_t(image_bytes) != size - std::uint64_t(header_size)) {
    std::snprintf(error, sizeof(error), ".npy data holds %lu bytes, not %lld images of %lld bytes",
                  (unsigned long)(size - std::size_t(header_size)), (long long)n, (long long)image_bytes);
    return die(kExitPool, "pool", error);
  }
  const std::int64_t c = info.input_c, w = info.input_w, h = info.input_h;
  *images = fdal_images{fdal_mcu_pool + header_size, n, h, w, c, h * w * c, w * c, c, 1};
  return kExitOk;
}

int run() {
  fdal_model* model = nullptr;
  // In place: the weights stay in flash, where the linker put them 64-byte aligned (embed.S.in).
  const fdal_status loaded = fdal_model_load_memory_in_place(
      fdal_mcu_model, std::size_t(fdal_mcu_model_end - fdal_mcu_model), FDAL_MCU_KERNELS, &model);
  if (loaded == FDAL_ERR_FORMAT) return die(kExitModel, "model", fdal_last_error());
  if (loaded != FDAL_OK) return die_status(loaded, "model");
  const std::size_t heap_model = std::size_t(mallinfo().uordblks);
  fdal_model_info info;
  if (const fdal_status got = fdal_model_get_info(model, &info); got != FDAL_OK) return die_status(got, "model");
  fdal_images images;
  if (const int rc = open_pool(info, &images); rc != kExitOk) return rc;

  const std::int64_t k = FDAL_MCU_K;
  if (k > images.n) {
    char error[96];
    std::snprintf(error, sizeof(error), "FDAL_MCU_K=%lld is over the pool size %lld", (long long)k, (long long)images.n);
    return die(kExitBadK, "k", error);
  }
  // Candidates of a pool-level strategy: the FDAL_MCU_CAP smallest random keys, as fdal-rank
  // --cap; capped at the pool size, which keeps the same images and allocates only what they need.
  const std::int64_t cap = FDAL_MCU_CAP < images.n ? FDAL_MCU_CAP : images.n;
  fdal_ranker* ranker = nullptr;
  fdal_ranker_options options;
  fdal_ranker_options_init(&options);
  options.cap = cap;
  const fdal_status created = fdal_ranker_create_with(model, FDAL_MCU_STRATEGY, k, FDAL_MCU_SEED, &options, &ranker);
  if (created != FDAL_OK) return die_status(created, "ranker " FDAL_MCU_STRATEGY);
  const std::size_t heap_ranker = std::size_t(mallinfo().uordblks) - heap_model;
  // The pool is in flash already: one push reads it in place (the ranker runs it in chunks).
  static std::int64_t chosen[FDAL_MCU_K];
  if (const fdal_status pushed = fdal_ranker_push(ranker, &images); pushed != FDAL_OK) return die_status(pushed, "ranking");
  if (const fdal_status done = fdal_ranker_finish(ranker, chosen, k); done != FDAL_OK) return die_status(done, "ranking");
  // No MPU guard: a stack that ran past its limit wrote into free heap (stack_paint.c sees it
  // there), or worse; no pick can be trusted.
  if (fdal_mcu_stack_high_water() > fdal_mcu_stack_size()) {
    std::fprintf(stderr, "fdal-mcu: stack overflow: the ranking used more than the %lu-byte stack (raise FDAL_MCU_STACK_BYTES)\n",
                 (unsigned long)fdal_mcu_stack_size());
    return kExitRuntime;
  }
  for (std::int64_t i = 0; i < k; ++i) std::printf("%lld\n", (long long)chosen[i]);
  std::fflush(stdout);

  std::fprintf(stderr, "fdal-mcu: ranked %lld images of %dx%dx%d with %s, k %lld, kernels %s\n",
               (long long)images.n, int(info.input_h), int(info.input_w), int(info.input_c), FDAL_MCU_STRATEGY,
               (long long)k, info.kernels);
  std::fprintf(stderr, "fdal-mcu: model arena %lld bytes, weights %lld bytes\n", (long long)info.arena_bytes,
               (long long)info.weight_bytes);
  std::fprintf(stderr, "fdal-mcu: heap in use: %lu bytes after loading the model, %lu more for the ranker\n", (unsigned long)heap_model,
               (unsigned long)heap_ranker);
  std::fprintf(stderr, "fdal-mcu: heap high-water %lu of %lu bytes, stack high-water %lu of %lu bytes\n",
               (unsigned long)fdal_mcu_heap_high_water(), (unsigned long)fdal_mcu_heap_size(),
               (unsigned long)fdal_mcu_stack_high_water(), (unsigned long)fdal_mcu_stack_size());
  fdal_ranker_free(ranker);
  fdal_model_free(model);
  return kExitOk;
}

}  // namespace

int main() { return run(); }
