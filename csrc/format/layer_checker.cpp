#include "format/layer_checker.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace fdal {
namespace detail {

namespace {

// Output shape of a windowed op, or a failure naming the field.
std::int64_t window_out(const std::string& where, const char* axis, std::int64_t in,
                        std::int64_t pad_a, std::int64_t pad_b, std::int64_t kernel,
                        std::int64_t stride) {
  const std::int64_t numerator = in + pad_a + pad_b - kernel;
  if (numerator < 0) {
    fail(where + "kernel_" + axis + " " + str(kernel) + " is larger than the padded input (" +
         str(in + pad_a + pad_b) + ")");
  }
  return numerator / stride + 1;
}

}  // namespace

Layer LayerChecker::check(std::int32_t i) {
  const std::uint64_t base = std::uint64_t(h_.layer_table_offset) + kLayerRecordBytes * i;
  const std::uint8_t op = b_.read<std::uint8_t>(base + 0);
  const char* name = op_name_or_null(op);
  if (name == nullptr) fail("layer " + str(i) + ": op " + str(op) + " is not a known op (1..7)");
  where_ = "layer " + str(i) + " (" + name + "): ";

  Layer L;
  L.op = static_cast<Op>(op);
  const std::uint8_t out_kind = b_.read<std::uint8_t>(base + 1);
  if (out_kind > 1) fail(where_ + "out_kind " + str(out_kind) + " is not 0 or 1");
  L.out_kind = static_cast<OutKind>(out_kind);
  const bool head = (i == h_.logits_layer || i == h_.score_layer);
  if (L.out_kind == OutKind::Int32 && (L.op != Op::FullyConnected || !head)) {
    fail(where_ + "out_kind 1 (int32) is allowed only for the fc logits or score layer");
  }
  if (head && L.out_kind != OutKind::Int32) {
    fail(where_ + "is the " + (i == h_.logits_layer ? "logits" : "score") +
         " layer but out_kind is 0 (must be 1, int32 accumulators)");
  }

  // The producer: shape, zero point and scale chain.
  L.input_layer = b_.read<std::int16_t>(base + 2);
  if (L.input_layer < -1 || L.input_layer >= i) {
    fail(where_ + "input_layer " + str(L.input_layer) + " is not -1 or an earlier layer");
  }
  TensorShape prod_shape = m_.input_shape;
  std::int32_t prod_zp = m_.input_zero_point;
  float prod_scale = m_.input_scale;
  if (L.input_layer >= 0) {
    const Layer& P = m_.layers[std::size_t(L.input_layer)];
    if (P.out_kind != OutKind::Int8) {
      fail(where_ + "input_layer " + str(L.input_layer) + " is an int32 head, which no layer may read");
    }
    prod_shape = P.params.out;
    prod_zp = P.params.out_zero_point;
    prod_scale = P.out_scale;
  }
  OpParams& p = L.params;
  p.in.h = b_.read<std::uint16_t>(base + 4);
  p.in.w = b_.read<std::uint16_t>(base + 6);
  p.in.c = b_.read<std::uint16_t>(base + 8);
  if (p.in.h != prod_shape.h || p.in.w != prod_shape.w || p.in.c != prod_shape.c) {
    fail(where_ + "input shape " + shape_str(p.in) + " does not match its producer's output " +
         shape_str(prod_shape));
  }
  const TensorShape stored_out{b_.read<std::uint16_t>(base + 10), b_.read<std::uint16_t>(base + 12),
                               b_.read<std::uint16_t>(base + 14)};
  p.kernel_h = b_.read<std::uint8_t>(base + 16);
  p.kernel_w = b_.read<std::uint8_t>(base + 17);
  p.stride_h = b_.read<std::uint8_t>(base + 18);
  p.stride_w = b_.read<std::uint8_t>(base + 19);
  p.pad_top = b_.read<std::uint8_t>(base + 20);
  p.pad_left = b_.read<std::uint8_t>(base + 21);
  p.pad_bottom = b_.read<std::uint8_t>(base + 22);
  p.pad_right = b_.read<std::uint8_t>(base + 23);
  p.out = check_geometry_and_shape(L, stored_out);
  if (p.out.c < 1 || p.out.c > 4096) fail(where_ + "out_c " + str(p.out.c) + " is outside 1..4096");
  if (p.out.elements() > kMaxTensorElements) {
    fail(where_ + "output has " + str(p.out.elements()) + " elements, over the limit " +
         str(kMaxTensorElements));
  }

  check_quantization(L, base, prod_zp, prod_scale);
  check_arrays(L, base, i);
  if (!b_.all_zero(base + 72, base + kLayerRecordBytes)) fail(where_ + "reserved bytes 72..127 are not zero");
  return L;
}

std::string LayerChecker::shape_str(const TensorShape& s) {
  return "(" + str(s.h) + ", " + str(s.w) + ", " + str(s.c) + ")";
}

void LayerChecker::in_range(const char* field, std::int64_t v, std::int64_t lo, std::int64_t hi) const {
  check_range(where_, field, v, lo, hi);
}

void LayerChecker::is_zero(const char* field, std::int64_t v, const char* why) const {
  if (v != 0) fail(where_ + field + " " + str(v) + " must be 0 " + why);
}

TensorShape LayerChecker::check_geometry_and_shape(const Layer& L, const TensorShape& stored) const {
  const OpParams& p = L.params;
  TensorShape out = p.in;
  switch (L.op) {
    case Op::Conv2D:
    case Op::MaxPool:
    case Op::AvgPool: {
      in_range("kernel_h", p.kernel_h, 1, 15);
      in_range("kernel_w", p.kernel_w, 1, 15);
      in_range("stride_h", p.stride_h, 1, 15);
      in_range("stride_w", p.stride_w, 1, 15);
      if (L.op == Op::AvgPool) {
        is_zero("pad_top", p.pad_top, "(avgpool has no padding)");
        is_zero("pad_left", p.pad_left, "(avgpool has no padding)");
        is_zero("pad_bottom", p.pad_bottom, "(avgpool has no padding)");
        is_zero("pad_right", p.pad_right, "(avgpool has no padding)");
      } else {
        in_range("pad_top", p.pad_top, 0, p.kernel_h - 1);
        in_range("pad_left", p.pad_left, 0, p.kernel_w - 1);
        in_range("pad_bottom", p.pad_bottom, 0, p.kernel_h - 1);
        in_range("pad_right", p.pad_right, 0, p.kernel_w - 1);
      }
      out.h = std::int32_t(window_out(where_, "h", p.in.h, p.pad_top, p.pad_bottom, p.kernel_h, p.stride_h));
      out.w = std::int32_t(window_out(where_, "w", p.in.w, p.pad_left, p.pad_right, p.kernel_w, p.stride_w));
      out.c = (L.op == Op::Conv2D) ? stored.c : p.in.c;
      break;
    }
    case Op::UpsampleNearest:
      in_range("kernel_h", p.kernel_h, 1, 16);
      in_range("kernel_w", p.kernel_w, 1, 16);
      no_stride_or_pad(p);
      out.h = p.in.h * p.kernel_h;
      out.w = p.in.w * p.kernel_w;
      break;
    case Op::Relu:
    case Op::Flatten:
    case Op::FullyConnected:
      is_zero("kernel_h", p.kernel_h, "for this op");
      is_zero("kernel_w", p.kernel_w, "for this op");
      no_stride_or_pad(p);
      if (L.op == Op::Flatten) out = TensorShape{1, 1, std::int32_t(std::min<std::int64_t>(p.in.elements(), 1 << 30))};
      if (L.op == Op::FullyConnected) out = TensorShape{1, 1, stored.c};
      break;
  }
  if (out.h != stored.h || out.w != stored.w || out.c != stored.c) {
    fail(where_ + "output shape " + shape_str(stored) + " is not the computed " + shape_str(out));
  }
  return out;
}

void LayerChecker::no_stride_or_pad(const OpParams& p) const {
  is_zero("stride_h", p.stride_h, "for this op");
  is_zero("stride_w", p.stride_w, "for this op");
  is_zero("pad_top", p.pad_top, "for this op");
  is_zero("pad_left", p.pad_left, "for this op");
  is_zero("pad_bottom", p.pad_bottom, "for this op");
  is_zero("pad_right", p.pad_right, "for this op");
}

void LayerChecker::check_quantization(Layer& L, std::uint64_t base, std::int32_t prod_zp,
                                      float prod_scale) const {
  OpParams& p = L.params;
  p.in_zero_point = b_.read<std::int32_t>(base + 24);
  p.out_zero_point = b_.read<std::int32_t>(base + 28);
  L.in_scale = b_.read<float>(base + 32);
  L.out_scale = b_.read<float>(base + 36);
  p.act_min = b_.read<std::int32_t>(base + 40);
  p.act_max = b_.read<std::int32_t>(base + 44);
  if (p.in_zero_point != prod_zp) {
    fail(where_ + "in_zero_point " + str(p.in_zero_point) + " does not match its producer's " + str(prod_zp));
  }
  if (float_bits(L.in_scale) != float_bits(prod_scale)) {
    fail(where_ + "in_scale " + str(L.in_scale) + " does not match its producer's " + str(prod_scale) + " bit for bit");
  }
  in_range("out_zero_point", p.out_zero_point, -128, 127);
  if (!std::isfinite(L.out_scale) || !(L.out_scale > 0.f)) {
    fail(where_ + "out_scale " + str(L.out_scale) + " is not finite and > 0");
  }
  if (L.out_kind == OutKind::Int32) {
    is_zero("out_zero_point", p.out_zero_point, "for an int32 head");
    return;  // act_min/act_max do not apply to int32 outputs
  }
  in_range("act_min", p.act_min, -128, 127);
  in_range("act_max", p.act_max, p.act_min, 127);
  if (L.op == Op::Conv2D || L.op == Op::FullyConnected) return;
  if (float_bits(L.out_scale) != float_bits(L.in_scale)) {
    fail(where_ + "out_scale " + str(L.out_scale) + " must equal in_scale " + str(L.in_scale));
  }
  if (p.out_zero_point != p.in_zero_point) {
    fail(where_ + "out_zero_point " + str(p.out_zero_point) + " must equal in_zero_point " + str(p.in_zero_point));
  }
  const std::int32_t want_min = (L.op == Op::Relu) ? p.out_zero_point : -128;
  if (p.act_min != want_min || p.act_max != 127) {
    fail(where_ + "act_min/act_max " + str(p.act_min) + "/" + str(p.act_max) + " must be " +
         str(want_min) + "/127 for this op");
  }
}

// One array of the blob: aligned, inside the blob, recorded for the overlap check.
const std::uint8_t* LayerChecker::array(const char* field, std::uint32_t offset, std::uint64_t bytes,
                                         std::int32_t i) {
  if (offset == 0) fail(where_ + field + " is 0 but the layer needs this array");
  if (offset % 64 != 0) fail(where_ + field + " " + str(offset) + " is not 64-byte aligned");
  const std::uint64_t blob_end = std::uint64_t(h_.blob_offset) + h_.blob_bytes;
  if (offset < h_.blob_offset || offset + bytes > blob_end) {
    fail(where_ + field + " " + str(offset) + " (+" + str(bytes) + " bytes) is outside the blob [" +
         str(h_.blob_offset) + ", " + str(blob_end) + ")");
  }
  arrays_.push_back({offset, offset + bytes, "layer " + str(i) + " " + field});
  return b_.at(offset);
}

void LayerChecker::check_arrays(Layer& L, std::uint64_t base, std::int32_t i) {
  L.weight_offset = b_.read<std::uint32_t>(base + 48);
  L.weight_bytes = b_.read<std::uint32_t>(base + 52);
  L.bias_offset = b_.read<std::uint32_t>(base + 56);
  L.multiplier_offset = b_.read<std::uint32_t>(base + 60);
  L.shift_offset = b_.read<std::uint32_t>(base + 64);
  L.weight_scale_offset = b_.read<std::uint32_t>(base + 68);
  const OpParams& p = L.params;
  if (L.op != Op::Conv2D && L.op != Op::FullyConnected) {
    is_zero("weight_offset", L.weight_offset, "(this op has no weights)");
    is_zero("weight_bytes", L.weight_bytes, "(this op has no weights)");
    is_zero("bias_offset", L.bias_offset, "(this op has no weights)");
    is_zero("multiplier_offset", L.multiplier_offset, "(this op has no weights)");
    is_zero("shift_offset", L.shift_offset, "(this op has no weights)");
    is_zero("weight_scale_offset", L.weight_scale_offset, "(this op has no weights)");
    return;
  }
  const std::int64_t fan_in = (L.op == Op::Conv2D)
                                  ? std::int64_t(p.kernel_h) * p.kernel_w * p.in.c
                                  : p.in.elements();
  const std::int64_t out_c = p.out.c;
  if (std::int64_t(L.weight_bytes) != out_c * fan_in) {
    fail(where_ + "weight_bytes " + str(L.weight_bytes) + " is not out_c*K = " + str(out_c * fan_in));
  }
  if (fan_in * 127 * 255 > kInt32Max) {
    fail(where_ + "fan-in K=" + str(fan_in) + " can overflow the int32 accumulator");
  }
  const auto* w = reinterpret_cast<const std::int8_t*>(array("weight_offset", L.weight_offset, L.weight_bytes, i));
  for (std::int64_t k = 0; k < out_c * fan_in; ++k) {
    if (w[k] == -128) fail(where_ + "weight " + str(k) + " is -128 (weights are in -127..127)");
  }
  const auto* bias = reinterpret_cast<const std::int32_t*>(array("bias_offset", L.bias_offset, 4 * out_c, i));
  std::int64_t max_abs_bias = 0;
  for (std::int64_t c = 0; c < out_c; ++c) max_abs_bias = std::max<std::int64_t>(max_abs_bias, std::llabs(std::int64_t(bias[c])));
  if (fan_in * 127 * 255 + max_abs_bias > kInt32Max) {
    fail(where_ + "K*127*255 + max|bias| = " + str(fan_in * 127 * 255 + max_abs_bias) +
         " exceeds 2^31-1 (fan-in K=" + str(fan_in) + "): the int32 accumulator could overflow");
  }
  L.weights.weights = w;
  L.weights.bias = bias;
  if (L.out_kind == OutKind::Int8) {
    const auto* mult = reinterpret_cast<const std::int32_t*>(array("multiplier_offset", L.multiplier_offset, 4 * out_c, i));
    const auto* shift = reinterpret_cast<const std::int32_t*>(array("shift_offset", L.shift_offset, 4 * out_c, i));
    for (std::int64_t c = 0; c < out_c; ++c) {
      if (mult[c] < (std::int32_t(1) << 30)) {
        fail(where_ + "multiplier[" + str(c) + "] " + str(mult[c]) + " is outside [2^30, 2^31-1]");
      }
      if (shift[c] < 1 || shift[c] > 62) {
        fail(where_ + "shift[" + str(c) + "] " + str(shift[c]) + " is outside 1..62");
      }
    }
    L.weights.multiplier = mult;
    L.weights.shift = shift;
  } else {
    is_zero("multiplier_offset", L.multiplier_offset, "for an int32 head");
    is_zero("shift_offset", L.shift_offset, "for an int32 head");
  }
  const auto* ws = reinterpret_cast<const float*>(array("weight_scale_offset", L.weight_scale_offset, 4 * out_c, i));
  for (std::int64_t c = 0; c < out_c; ++c) {
    if (!std::isfinite(ws[c]) || !(ws[c] > 0.f)) {
      fail(where_ + "weight_scale[" + str(c) + "] " + str(ws[c]) + " is not finite and > 0");
    }
    if (L.out_kind == OutKind::Int32 && float_bits(ws[c]) != float_bits(ws[0])) {
      fail(where_ + "weight_scale[" + str(c) + "] differs from weight_scale[0] (a head has one scale)");
    }
  }
  if (L.out_kind == OutKind::Int32) {
    // The head's unit: in_scale * weight_scale in float64, rounded to f32 (as fdal.format).
    const float unit = float(double(L.in_scale) * double(ws[0]));
    if (float_bits(unit) != float_bits(L.out_scale)) {
      fail(where_ + "out_scale " + str(L.out_scale) +
           " of an int32 head must be in_scale * weight_scale = " + str(unit));
    }
  }
  L.weight_scale = ws;
}
}  // namespace detail
}  // namespace fdal
