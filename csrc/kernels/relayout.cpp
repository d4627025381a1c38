#include "kernels/relayout.h"

#include <cstring>

namespace fdal {

std::int64_t padded_conv_input_elements(const OpParams& p, std::int32_t cpad) {
  return std::int64_t(p.in.h + p.pad_top + p.pad_bottom) * (p.in.w + p.pad_left + p.pad_right) *
         cpad;
}

void relayout_conv_input_s8(const OpParams& p, const std::int8_t* in, std::int32_t cpad,
                            std::uint8_t xor_mask, std::uint8_t* dst) {
  const std::int32_t c = p.in.c, wp = p.in.w + p.pad_left + p.pad_right;
  const std::int32_t hp = p.in.h + p.pad_top + p.pad_bottom;
  const std::uint8_t border = std::uint8_t(std::uint8_t(p.in_zero_point) ^ xor_mask);
  for (std::int32_t y = 0; y < hp; ++y) {
    std::uint8_t* row = dst + std::int64_t(y) * wp * cpad;
    const std::int32_t iy = y - p.pad_top;
    if (iy < 0 || iy >= p.in.h) {
      for (std::int32_t x = 0; x < wp; ++x) {
        std::memset(row + std::int64_t(x) * cpad, border, std::size_t(c));
        std::memset(row + std::int64_t(x) * cpad + c, 0, std::size_t(cpad - c));
      }
      continue;
    }
    for (std::int32_t x = 0; x < wp; ++x) {
      std::uint8_t* px = row + std::int64_t(x) * cpad;
      const std::int32_t ix = x - p.pad_left;
      if (ix < 0 || ix >= p.in.w) {
        std::memset(px, border, std::size_t(c));
      } else if (cpad == c) {  // whole interior row in one go (vectorizes)
        const std::uint8_t* src = reinterpret_cast<const std::uint8_t*>(in) + std::int64_t(iy) * p.in.w * c;
        const std::int64_t n = std::int64_t(p.in.w) * c;
        for (std::int64_t i = 0; i < n; ++i) px[i] = std::uint8_t(src[i] ^ xor_mask);
        x += p.in.w - 1;
        continue;
      } else {
        const std::uint8_t* src =
            reinterpret_cast<const std::uint8_t*>(in) + (std::int64_t(iy) * p.in.w + ix) * c;
        for (std::int32_t ch = 0; ch < c; ++ch) px[ch] = std::uint8_t(src[ch] ^ xor_mask);
      }
      std::memset(px + c, 0, std::size_t(cpad - c));
    }
  }
}

void relayout_conv_input_s16(const OpParams& p, const std::int8_t* in, std::int32_t cpad,
                             std::int16_t* dst) {
  const std::int32_t c = p.in.c, wp = p.in.w + p.pad_left + p.pad_right;
  const std::int32_t hp = p.in.h + p.pad_top + p.pad_bottom;
  const std::int16_t zp = std::int16_t(p.in_zero_point);
  std::memset(dst, 0, sizeof(std::int16_t) * std::size_t(std::int64_t(hp) * wp * cpad));
  for (std::int32_t iy = 0; iy < p.in.h; ++iy) {
    std::int16_t* row = dst + (std::int64_t(iy + p.pad_top) * wp + p.pad_left) * cpad;
    const std::int8_t* src = in + std::int64_t(iy) * p.in.w * c;
    if (cpad == c) {
      const std::int64_t n = std::int64_t(p.in.w) * c;
      for (std::int64_t i = 0; i < n; ++i) row[i] = std::int16_t(src[i] - zp);
      continue;
    }
    for (std::int32_t ix = 0; ix < p.in.w; ++ix) {
      for (std::int32_t ch = 0; ch < c; ++ch) {
        row[std::int64_t(ix) * cpad + ch] = std::int16_t(src[std::int64_t(ix) * c + ch] - zp);
      }
    }
  }
}

void relayout_fc_input_s8(std::int64_t k, const std::int8_t* in, std::int64_t kp,
                          std::uint8_t xor_mask, std::uint8_t* dst) {
  const std::uint8_t* src = reinterpret_cast<const std::uint8_t*>(in);
  for (std::int64_t i = 0; i < k; ++i) dst[i] = std::uint8_t(src[i] ^ xor_mask);
  for (std::int64_t i = k; i < kp; ++i) dst[i] = 0;
}

void relayout_fc_input_s16(std::int64_t k, const std::int8_t* in, std::int32_t zero_point,
                           std::int64_t kp, std::int16_t* dst) {
  for (std::int64_t i = 0; i < k; ++i) dst[i] = std::int16_t(in[i] - zero_point);
  for (std::int64_t i = k; i < kp; ++i) dst[i] = 0;
}

}  // namespace fdal
