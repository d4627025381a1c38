// Most random mutations break the CRC or file_size, which the loader checks before any field. The
// targets therefore also load a "repaired" copy (file_size set to the length, CRC recomputed) so
// that mutations reach every field check behind them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "format/crc32.h"

inline std::vector<std::uint8_t> repaired(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> out(data, data + size);
  if (size >= 16) {
    const std::uint32_t n = std::uint32_t(size);
    std::memcpy(out.data() + 12, &n, 4);
  }
  if (size >= 4) {
    const std::uint32_t crc = fdal::crc32(out.data(), size - 4);
    std::memcpy(out.data() + size - 4, &crc, 4);
  }
  return out;
}
