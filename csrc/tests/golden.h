// Reader for the .gold archives written by csrc/tests/make_goldens.py: named little-endian
// arrays ("FDALGOLD", u32 count, then per array: u16 name length, name, u8 dtype, u8 ndim,
// u32 dims, data). Also reads whole files (models, expected stdout).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fdal_test {

enum class DType : std::uint8_t { I8 = 1, U8 = 2, I32 = 3, I64 = 4, U64 = 5, F32 = 6, F64 = 7 };

struct GoldArray {
  std::string name;
  DType dtype = DType::U8;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;  // raw little-endian data (every target here is little-endian)
  std::int64_t elements() const;
  template <typename T>
  const T* as() const { return reinterpret_cast<const T*>(bytes.data()); }
};

class GoldFile {
 public:
  // Exits the test with a message when the file is missing or malformed.
  explicit GoldFile(const std::string& path);
  bool has(const std::string& name) const;
  const GoldArray& get(const std::string& name) const;  // exits when absent

 private:
  std::string path_;
  std::vector<GoldArray> arrays_;
};

std::vector<std::uint8_t> read_file(const std::string& path);  // exits when unreadable
std::string golden_path(const char* dir, const std::string& name);

}  // namespace fdal_test
