// CRC-32 (IEEE 802.3, reflected, init and final xor 0xFFFFFFFF): zlib's crc32.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fdal {

std::uint32_t crc32(const std::uint8_t* data, std::size_t size);

}  // namespace fdal
