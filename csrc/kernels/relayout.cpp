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
    const bool border_row = iy < 0 || iy >= p.in.h;
    for (std::int32_t x = 0; x < wp; ++x) {
      std::uint8_t* px = row + std::int64_t(x) * cpad;
      const std::int32_t ix = x - p.pad_left;
      if (border_row || ix < 0 || ix >= p.in.w) {
        for (std::int32_t ch = 0; ch < c; ++ch) px[ch] = border;
      } else if (cpad == c) {  // whole interior row in one go (vectorizes)
        const std::uint8_t* src = reinterpret_cast<const std::uint8_t*>(in) + std::int64_t(iy) * p.in.w * c;
        const std::int64_t n = std::int64_t(p.in.w) * c;
        for (std::int64_t i = 0; i < n; ++i) px[i] = std::uint8_t(src[i] ^ xor_mask);
        x += p.in.w - 1;
        continue;
      } else if (c == 3 && cpad == 4) {  // RGB first layer: one 32-bit word per pixel
        const std::uint8_t* src = reinterpret_cast<const std::uint8_t*>(in) + std::int64_t(iy) * p.in.w * 3;
        for (std::int32_t i = 0; i < p.in.w; ++i, src += 3, px += 4) {
          const std::uint32_t word = (std::uint32_t(src[0]) | std::uint32_t(src[1]) << 8 |
                                      std::uint32_t(src[2]) << 16) ^ (std::uint32_t(xor_mask) * 0x010101u);
          std::memcpy(px, &word, 4);
        }
        x += p.in.w - 1;
        continue;
      } else {
        const std::uint8_t* src =
            reinterpret_cast<const std::uint8_t*>(in) + (std::int64_t(iy) * p.in.w + ix) * c;
        for (std::int32_t ch = 0; ch < c; ++ch) px[ch] = std::uint8_t(src[ch] ^ xor_mask);
      }
      for (std::int32_t ch = c; ch < cpad; ++ch) px[ch] = 0;
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
