// Activation re-layouts for the packed kernels (kernels/packed_layout.h), written into the
// kernel's scratch: the input of a convolution with its zero-point border made explicit and
// channels padded to the layout's group, or the input vector of a fully connected layer padded
// to the group. Portable code (no ISA flags), shared by every optimized path.
#pragma once
#include <cstdint>

#include "kernels/kernel_params.h"

namespace fdal {

// Bytes per padded conv input row/image: (in_h + pad_top + pad_bottom) x (in_w + pad_left +
// pad_right) x cpad elements.
std::int64_t padded_conv_input_elements(const OpParams& p, std::int32_t cpad);

// int8 elements: dst = x ^ xor_mask (0x80: the u8 offset form, 0: plain s8); border taps hold
// in_zero_point ^ xor_mask; channel padding holds 0 (its weights are 0).
void relayout_conv_input_s8(const OpParams& p, const std::int8_t* in, std::int32_t cpad,
                            std::uint8_t xor_mask, std::uint8_t* dst);
// int16 elements: dst = x - in_zero_point; border taps and channel padding hold 0.
void relayout_conv_input_s16(const OpParams& p, const std::int8_t* in, std::int32_t cpad,
                             std::int16_t* dst);

// Fully connected input of k values padded to kp (padding 0: its weights are 0).
void relayout_fc_input_s8(std::int64_t k, const std::int8_t* in, std::int64_t kp,
                          std::uint8_t xor_mask, std::uint8_t* dst);
void relayout_fc_input_s16(std::int64_t k, const std::int8_t* in, std::int32_t zero_point,
                           std::int64_t kp, std::int16_t* dst);

}  // namespace fdal
