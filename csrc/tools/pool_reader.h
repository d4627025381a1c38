// PoolReader: a pool of raw uint8 images in a file, read in chunks into a caller's buffer.
// Two layouts: raw N*H*W*C bytes (N = file size / (H*W*C), which must divide exactly) or a .npy
// uint8 array of shape (N, H, W, C) in C order (versions 1.0 and 2.0). Unbuffered stdio: the reader
// allocates nothing after open() (no FILE buffer), so chunks go straight into the caller's memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>

namespace fdal_tools {

enum class PoolStatus {
  Ok,
  Unreadable,     // cannot open, stat or read the file
  Malformed,      // bad .npy header, wrong dtype, Fortran order, truncated data
  ShapeMismatch,  // images are not (H, W, C) of the model
};

class PoolReader {
 public:
  PoolReader() = default;
  ~PoolReader();
  PoolReader(const PoolReader&) = delete;
  PoolReader& operator=(const PoolReader&) = delete;

  // Opens the pool for images of shape (h, w, c); on failure error() says why.
  PoolStatus open(const char* path, std::int64_t h, std::int64_t w, std::int64_t c);
  std::int64_t size() const { return n_; }  // number of images
  bool is_npy() const { return npy_; }
  // Reads images [index, index + count) into dst (count * h*w*c bytes). False on an I/O error.
  bool read(std::int64_t index, std::int64_t count, std::uint8_t* dst);
  const char* error() const { return error_; }

 private:
  PoolStatus fail(PoolStatus status, const char* format, ...);
  PoolStatus open_npy(std::int64_t file_size, std::int64_t h, std::int64_t w, std::int64_t c);

  std::FILE* file_ = nullptr;
  const char* path_ = "";
  bool npy_ = false;
  std::int64_t n_ = 0, image_bytes_ = 0, data_offset_ = 0, position_ = -1;
  char error_[512] = {0};
};

}  // namespace fdal_tools
