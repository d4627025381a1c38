// Internal to the .fdal loader (format/loader.cpp, format/layer_checker.cpp): the format's layout
// constants and limits, the bounds-checked byte reader and the message helpers both files share.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>

#include "format/format_error.h"

namespace fdal {
namespace detail {

inline constexpr std::uint8_t kMagic[8] = {0x89, 'F', 'D', 'A', 'L', '\r', '\n', 0x1A};
inline constexpr std::size_t kHeaderBytes = 64;
inline constexpr std::size_t kLayerRecordBytes = 128;
inline constexpr std::size_t kCrcBytes = 4;
inline constexpr std::int64_t kMaxTensorElements = 4194304;
inline constexpr std::int64_t kMaxArenaBytes = std::int64_t(256) << 20;
inline constexpr std::int64_t kInt32Max = 2147483647;
inline constexpr std::uint16_t kLatestMajor = 2;            // readable majors: 1 and 2 (docs/format.md)
inline constexpr std::int64_t kMaxEmbeddingValues = 4096;

[[noreturn]] inline void fail(const std::string& message) { throw FormatError(message); }

// What `std::ostream << +v` printed (+ prints u8/i8 as numbers; floats as %g), without iostreams:
// their locales would be most of a microcontroller firmware's flash (docs/deploy-mcu.md).
template <typename T>
std::string str(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    char text[32];
    std::snprintf(text, sizeof(text), "%g", double(v));
    return text;
  } else {
    return std::to_string(+v);
  }
}

inline std::uint32_t float_bits(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// Bounds-checked little-endian reads from the owned copy. Every offset passed here was already
// checked, so a failure means a loader bug, reported as a FormatError instead of reading outside.
class Bytes {
 public:
  Bytes(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  template <typename T>
  T read(std::uint64_t offset) const {
    if (offset > size_ || size_ - offset < sizeof(T)) {
      fail("internal: read of " + str(sizeof(T)) + " bytes at offset " + str(offset) +
           " outside the " + str(size_) + "-byte buffer");
    }
    T v;
    std::memcpy(&v, data_ + offset, sizeof(T));  // the host is little-endian (load_model checks)
    return v;
  }
  bool all_zero(std::uint64_t begin, std::uint64_t end) const {
    for (std::uint64_t i = begin; i < end && i < size_; ++i) {
      if (data_[i] != 0) return false;
    }
    return true;
  }
  const std::uint8_t* at(std::uint64_t offset) const { return data_ + offset; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
};

// where: the message prefix naming the section or layer ("header: ", "layer 3 (conv2d): ").
inline void check_range(const std::string& where, const char* field, std::int64_t v, std::int64_t lo,
                        std::int64_t hi) {
  if (v < lo || v > hi) fail(where + field + " " + str(v) + " is outside " + str(lo) + ".." + str(hi));
}

inline const char* op_name_or_null(std::uint8_t op) {
  switch (op) {
    case 1: return "conv2d";
    case 2: return "maxpool";
    case 3: return "avgpool";
    case 4: return "relu";
    case 5: return "flatten";
    case 6: return "fc";
    case 7: return "upsample";
    default: return nullptr;
  }
}

// A blob array one layer uses, recorded for the overlap and padding checks.
struct ArrayRange {
  std::uint64_t begin, end;
  std::string name;
};

struct Header {
  std::uint16_t version_major, version_minor;
  std::uint32_t file_size, header_bytes;
  std::uint16_t input_h, input_w, input_c, num_classes, num_layers;
  std::int16_t logits_layer, score_layer;
  std::int16_t embedding_layer;  // format 2.x; -1 (none) in a 1.x file
  std::uint16_t flags;
  std::uint32_t lut_offset, layer_table_offset, blob_offset, blob_bytes;
};

}  // namespace detail
}  // namespace fdal
