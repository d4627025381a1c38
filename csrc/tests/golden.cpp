#include "golden.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fdal_test {

namespace {

[[noreturn]] void fatal(const std::string& message) {
  std::fprintf(stderr, "golden: %s\n", message.c_str());
  std::exit(2);
}

std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::I8: case DType::U8: return 1;
    case DType::I32: case DType::F32: return 4;
    case DType::I64: case DType::U64: case DType::F64: return 8;
  }
  return 0;
}

}  // namespace

std::int64_t GoldArray::elements() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) fatal("cannot open " + path);
  std::vector<std::uint8_t> bytes;
  std::uint8_t buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  std::fclose(f);
  return bytes;
}

std::string golden_path(const char* dir, const std::string& name) { return std::string(dir) + "/" + name; }

GoldFile::GoldFile(const std::string& path) : path_(path) {
  const std::vector<std::uint8_t> b = read_file(path);
  std::size_t at = 0;
  auto need = [&](std::size_t n) {
    if (b.size() - at < n) fatal(path + " is truncated");
  };
  auto u32 = [&] {
    need(4);
    const std::uint32_t v = std::uint32_t(b[at]) | (std::uint32_t(b[at + 1]) << 8) |
                            (std::uint32_t(b[at + 2]) << 16) | (std::uint32_t(b[at + 3]) << 24);
    at += 4;
    return v;
  };
  need(8);
  if (std::memcmp(b.data(), "FDALGOLD", 8) != 0) fatal(path + " is not a .gold file");
  at = 8;
  const std::uint32_t count = u32();
  for (std::uint32_t i = 0; i < count; ++i) {
    GoldArray a;
    need(2);
    const std::size_t len = b[at] | (b[at + 1] << 8);
    at += 2;
    need(len + 2);
    a.name.assign(reinterpret_cast<const char*>(&b[at]), len);
    at += len;
    a.dtype = DType(b[at]);
    const int ndim = b[at + 1];
    at += 2;
    if (dtype_size(a.dtype) == 0) fatal(path + ": unknown dtype in " + a.name);
    for (int d = 0; d < ndim; ++d) a.shape.push_back(u32());
    const std::size_t bytes = std::size_t(a.elements()) * dtype_size(a.dtype);
    need(bytes);
    a.bytes.assign(b.begin() + std::ptrdiff_t(at), b.begin() + std::ptrdiff_t(at + bytes));
    at += bytes;
    arrays_.push_back(std::move(a));
  }
}

bool GoldFile::has(const std::string& name) const {
  for (const GoldArray& a : arrays_) if (a.name == name) return true;
  return false;
}

const GoldArray& GoldFile::get(const std::string& name) const {
  for (const GoldArray& a : arrays_) if (a.name == name) return a;
  fatal(path_ + " has no array " + name);
}

}  // namespace fdal_test
