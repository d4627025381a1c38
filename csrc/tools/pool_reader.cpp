#include "pool_reader.h"

#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <memory>

#include "npy_header.h"

namespace fdal_tools {

namespace {

bool seek(std::FILE* f, std::int64_t offset) { return fseeko(f, off_t(offset), SEEK_SET) == 0; }

// Case-insensitive suffix test: POOL.NPY is a .npy too.
bool ends_with_ci(const char* path, const char* suffix) {
  const std::size_t n = std::strlen(path), m = std::strlen(suffix);
  return n >= m && strcasecmp(path + n - m, suffix) == 0;
}

}  // namespace

PoolReader::~PoolReader() {
  if (file_ != nullptr) std::fclose(file_);
}

PoolStatus PoolReader::fail(PoolStatus status, const char* format, ...) {
  int n = std::snprintf(error_, sizeof(error_), "pool %s: ", path_);
  if (n < 0 || std::size_t(n) >= sizeof(error_)) n = 0;
  va_list args;
  va_start(args, format);
  std::vsnprintf(error_ + n, sizeof(error_) - std::size_t(n), format, args);
  va_end(args);
  return status;
}

PoolStatus PoolReader::open(const char* path, std::int64_t h, std::int64_t w, std::int64_t c) {
  path_ = path;
  // The pool is read by offset (seek) and sized up front: a FIFO, /dev/stdin or a directory cannot be.
  struct stat st;
  if (::stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    return fail(PoolStatus::Unreadable, "%s, not a regular file; save the pool to a file first",
                S_ISDIR(st.st_mode) ? "is a directory" : "is a pipe or device");
  }
  file_ = std::fopen(path, "rb");
  if (file_ == nullptr) return fail(PoolStatus::Unreadable, "cannot open: %s", std::strerror(errno));
  // Unbuffered: stdio would otherwise malloc a buffer on the first read, after the model is loaded.
  std::setvbuf(file_, nullptr, _IONBF, 0);
  if (fseeko(file_, 0, SEEK_END) != 0) return fail(PoolStatus::Unreadable, "cannot seek: %s", std::strerror(errno));
  const std::int64_t file_size = std::int64_t(ftello(file_));
  if (file_size < 0 || !seek(file_, 0)) return fail(PoolStatus::Unreadable, "cannot determine its size");
  position_ = -1;
  image_bytes_ = h * w * c;

  unsigned char preamble[kNpyPreambleBytes] = {0};
  const std::size_t got = std::fread(preamble, 1, sizeof(preamble), file_);
  if (std::ferror(file_)) return fail(PoolStatus::Unreadable, "read error: %s", std::strerror(errno));
  if (fdal_tools::is_npy(preamble, got)) return open_npy(file_size, h, w, c);
  const bool zip = got >= 4 && std::memcmp(preamble, "PK\x03\x04", 4) == 0;
  if (zip || ends_with_ci(path, ".npz")) {
    return fail(PoolStatus::Malformed, "an .npz archive, not a pool; save the array as .npy: "
                "np.save('pool.npy', np.load(f)['x'])");
  }
  // A file named .npy is never read as raw bytes: a bad magic is a broken .npy, not raw pixels.
  if (ends_with_ci(path, ".npy")) {
    return fail(PoolStatus::Malformed, "%s", got == 0 ? "empty file, not a .npy array"
                                                      : "not a .npy file (bad magic); save the pool with np.save");
  }

  if (file_size % image_bytes_ != 0) {
    return fail(PoolStatus::ShapeMismatch,
                "raw pool of %lld bytes is not a whole number of %lldx%lldx%lld images (%lld bytes each)",
                (long long)file_size, (long long)h, (long long)w, (long long)c, (long long)image_bytes_);
  }
  n_ = file_size / image_bytes_;
  data_offset_ = 0;
  return PoolStatus::Ok;
}

PoolStatus PoolReader::open_npy(std::int64_t file_size, std::int64_t h, std::int64_t w, std::int64_t c) {
  npy_ = true;
  unsigned char preamble[kNpyPreambleBytes] = {0};
  if (!seek(file_, 0) || std::fread(preamble, 1, sizeof(preamble), file_) < 10) {
    return fail(PoolStatus::Malformed, ".npy preamble is truncated");
  }
  char message[256];
  std::int64_t header_size = 0;
  if (!npy_header_size(preamble, sizeof(preamble), &header_size, message, sizeof(message))) {
    return fail(PoolStatus::Malformed, "%s", message);
  }
  if (header_size > file_size || header_size > (1 << 20)) {
    return fail(PoolStatus::Malformed, ".npy header of %lld bytes does not fit the file", (long long)header_size);
  }
  // The header is read once at open time, before streaming starts.
  std::unique_ptr<unsigned char[]> header(new unsigned char[std::size_t(header_size)]);
  if (!seek(file_, 0) || std::fread(header.get(), 1, std::size_t(header_size), file_) != std::size_t(header_size)) {
    return fail(PoolStatus::Unreadable, "cannot read the .npy header");
  }
  NpyHeader npy;
  if (!parse_npy_header(header.get(), std::size_t(header_size), &npy, message, sizeof(message))) {
    return fail(PoolStatus::Malformed, "%s", message);
  }
  if (std::strcmp(npy.descr, "|u1") != 0 && std::strcmp(npy.descr, "<u1") != 0 &&
      std::strcmp(npy.descr, ">u1") != 0 && std::strcmp(npy.descr, "u1") != 0) {
    return fail(PoolStatus::Malformed, ".npy dtype '%s' is not uint8 ('|u1')", npy.descr);
  }
  if (npy.fortran_order) {
    return fail(PoolStatus::Malformed, ".npy array is in Fortran order; save np.ascontiguousarray(pool)");
  }
  if (npy.ndim != 4 || npy.shape[1] != h || npy.shape[2] != w || npy.shape[3] != c) {
    char shape[128] = "(";
    for (int i = 0; i < npy.ndim; ++i) {
      const std::size_t len = std::strlen(shape);
      std::snprintf(shape + len, sizeof(shape) - len, i ? ", %lld" : "%lld", (long long)npy.shape[i]);
    }
    std::strncat(shape, ")", sizeof(shape) - std::strlen(shape) - 1);
    return fail(PoolStatus::ShapeMismatch, ".npy shape %s is not (N, %lld, %lld, %lld) as the model expects",
                shape, (long long)h, (long long)w, (long long)c);
  }
  const std::int64_t n = npy.shape[0];
  if (n > (INT64_MAX - header_size) / image_bytes_ || header_size + n * image_bytes_ != file_size) {
    return fail(PoolStatus::Malformed, ".npy data holds %lld bytes but shape (%lld, %lld, %lld, %lld) needs %lld",
                (long long)(file_size - header_size), (long long)n, (long long)h, (long long)w,
                (long long)c, (long long)(n * image_bytes_));
  }
  n_ = n;
  data_offset_ = header_size;
  return PoolStatus::Ok;
}

bool PoolReader::read(std::int64_t index, std::int64_t count, std::uint8_t* dst) {
  if (index < 0 || count < 0 || index + count > n_) {
    fail(PoolStatus::Unreadable, "read of images %lld..%lld is outside the pool of %lld",
         (long long)index, (long long)(index + count), (long long)n_);
    return false;
  }
  if (position_ != index && !seek(file_, data_offset_ + index * image_bytes_)) {
    fail(PoolStatus::Unreadable, "cannot seek: %s", std::strerror(errno));
    return false;
  }
  const std::size_t bytes = std::size_t(count * image_bytes_);
  if (std::fread(dst, 1, bytes, file_) != bytes) {
    position_ = -1;
    fail(PoolStatus::Unreadable, "short read at image %lld (file changed or I/O error)", (long long)index);
    return false;
  }
  position_ = index + count;
  return true;
}

}  // namespace fdal_tools
