#include "format/loader.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "format/crc32.h"
#include "format/format_error.h"
#include "model/pack_weights.h"

namespace fdal {

namespace {

constexpr std::uint8_t kMagic[8] = {0x89, 'F', 'D', 'A', 'L', '\r', '\n', 0x1A};
constexpr std::size_t kHeaderBytes = 64;
constexpr std::size_t kLayerRecordBytes = 128;
constexpr std::size_t kCrcBytes = 4;
constexpr std::int64_t kMaxTensorElements = 4194304;
constexpr std::int64_t kMaxArenaBytes = std::int64_t(256) << 20;
constexpr std::int64_t kInt32Max = 2147483647;

[[noreturn]] void fail(const std::string& message) { throw FormatError(message); }

template <typename T>
std::string str(T v) {
  std::ostringstream s;
  s << +v;  // + prints u8/i8 as numbers
  return s.str();
}

std::uint32_t float_bits(float f) {
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
    std::memcpy(&v, data_ + offset, sizeof(T));  // the host is little-endian (checked below)
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
void check_range(const std::string& where, const char* field, std::int64_t v, std::int64_t lo,
                 std::int64_t hi) {
  if (v < lo || v > hi) fail(where + field + " " + str(v) + " is outside " + str(lo) + ".." + str(hi));
}

bool is_little_endian() {
  const std::uint16_t one = 1;
  std::uint8_t first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

const char* op_name_or_null(std::uint8_t op) {
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

struct ArrayRange {
  std::uint64_t begin, end;
  std::string name;
};

struct Header {
  std::uint16_t version_major, version_minor;
  std::uint32_t file_size, header_bytes;
  std::uint16_t input_h, input_w, input_c, num_classes, num_layers;
  std::int16_t logits_layer, score_layer;
  std::uint16_t flags;
  std::uint32_t lut_offset, layer_table_offset, blob_offset, blob_bytes;
};

void check_identity(const std::uint8_t* data, std::size_t size) {
  const std::size_t magic_bytes = std::min<std::size_t>(size, 8);
  if (std::memcmp(data, kMagic, magic_bytes) != 0) {
    fail("bad magic: not a .fdal file (the first 8 bytes must be 89 46 44 41 4C 0D 0A 1A)");
  }
  if (size < 10) fail("truncated: " + str(size) + " bytes, smaller than the 64-byte header");
  std::uint16_t major;
  std::memcpy(&major, data + 8, 2);
  if (major != 1) {
    std::string minor = "?";
    if (size >= 12) {
      std::uint16_t m;
      std::memcpy(&m, data + 10, 2);
      minor = str(m);
    }
    fail(std::string(major > 1 ? "future version " : "unsupported version ") + str(major) + "." +
         minor + ": this reader reads format 1.x");
  }
  if (size < kHeaderBytes + kCrcBytes) {
    fail("truncated: " + str(size) + " bytes, smaller than the 64-byte header and the CRC");
  }
  std::uint32_t file_size;
  std::memcpy(&file_size, data + 12, 4);
  if (file_size != size) {
    fail("file_size " + str(file_size) + " does not match the actual size " + str(size) +
         " (truncated or padded file)");
  }
}

void check_crc(const Bytes& b, std::size_t size) {
  const std::uint32_t stored = b.read<std::uint32_t>(size - kCrcBytes);
  const std::uint32_t actual = crc32(b.at(0), size - kCrcBytes);
  if (stored != actual) {
    std::ostringstream s;
    s << "CRC mismatch: stored 0x" << std::hex << stored << ", computed 0x" << actual
      << " (corrupted file)";
    fail(s.str());
  }
}

Header read_header(const Bytes& b, std::size_t size) {
  Header h{};
  h.version_major = b.read<std::uint16_t>(8);
  h.version_minor = b.read<std::uint16_t>(10);
  h.file_size = b.read<std::uint32_t>(12);
  h.header_bytes = b.read<std::uint32_t>(16);
  h.input_h = b.read<std::uint16_t>(20);
  h.input_w = b.read<std::uint16_t>(22);
  h.input_c = b.read<std::uint16_t>(24);
  h.num_classes = b.read<std::uint16_t>(26);
  h.num_layers = b.read<std::uint16_t>(28);
  h.logits_layer = b.read<std::int16_t>(30);
  h.score_layer = b.read<std::int16_t>(32);
  h.flags = b.read<std::uint16_t>(34);
  h.lut_offset = b.read<std::uint32_t>(36);
  h.layer_table_offset = b.read<std::uint32_t>(40);
  h.blob_offset = b.read<std::uint32_t>(44);
  h.blob_bytes = b.read<std::uint32_t>(48);

  auto range = [](const char* field, std::int64_t v, std::int64_t lo, std::int64_t hi) {
    check_range("header: ", field, v, lo, hi);
  };
  if (h.header_bytes != kHeaderBytes) fail("header: header_bytes " + str(h.header_bytes) + " is not 64");
  range("input_h", h.input_h, 1, 1024);
  range("input_w", h.input_w, 1, 1024);
  range("input_c", h.input_c, 1, 16);
  range("num_classes", h.num_classes, 2, 4096);
  range("num_layers", h.num_layers, 1, 64);
  range("logits_layer", h.logits_layer, 0, h.num_layers - 1);
  range("score_layer", h.score_layer, -1, h.num_layers - 1);
  if (h.score_layer == h.logits_layer) {
    fail("header: score_layer " + str(h.score_layer) + " is also the logits_layer");
  }
  if (h.flags != 0) fail("header: flags " + str(h.flags) + " is not 0 (reserved)");
  if (!b.all_zero(52, 64)) fail("header: reserved bytes 52..63 are not zero");

  // Sections in order, zero padding between them; all arithmetic in 64 bits.
  const std::uint64_t data_end = size - kCrcBytes;
  const std::uint64_t input_end = 72 + 8 * std::uint64_t(h.input_c);
  const std::uint64_t lut_end = std::uint64_t(h.lut_offset) + 256 * std::uint64_t(h.input_c);
  const std::uint64_t table_end =
      std::uint64_t(h.layer_table_offset) + kLayerRecordBytes * std::uint64_t(h.num_layers);
  const std::uint64_t blob_end = std::uint64_t(h.blob_offset) + h.blob_bytes;
  if (h.lut_offset < input_end) {
    fail("header: lut_offset " + str(h.lut_offset) + " overlaps the input section (ends at " +
         str(input_end) + ")");
  }
  if (h.layer_table_offset < lut_end) {
    fail("header: layer_table_offset " + str(h.layer_table_offset) +
         " overlaps the input lookup table (ends at " + str(lut_end) + ")");
  }
  if (h.blob_offset % 64 != 0) {
    fail("header: blob_offset " + str(h.blob_offset) + " is not a multiple of 64");
  }
  if (h.blob_offset < table_end) {
    fail("header: blob_offset " + str(h.blob_offset) + " overlaps the layer table (ends at " +
         str(table_end) + ")");
  }
  if (blob_end != data_end) {
    fail("header: blob [" + str(h.blob_offset) + ", " + str(blob_end) +
         ") must end where the CRC starts (" + str(data_end) + ")");
  }
  if (!b.all_zero(input_end, h.lut_offset) || !b.all_zero(lut_end, h.layer_table_offset) ||
      !b.all_zero(table_end, h.blob_offset) || !b.all_zero(blob_end, data_end)) {
    fail("padding between sections is not zero");
  }
  return h;
}

void check_input_section(const Bytes& b, const Header& h, Model& m) {
  m.input_scale = b.read<float>(64);
  m.input_zero_point = b.read<std::int32_t>(68);
  if (!std::isfinite(m.input_scale) || !(m.input_scale > 0.f)) {
    fail("input: input_scale " + str(m.input_scale) + " is not finite and > 0");
  }
  if (m.input_zero_point < -128 || m.input_zero_point > 127) {
    fail("input: input_zero_point " + str(m.input_zero_point) + " is outside -128..127");
  }
  for (std::uint32_t c = 0; c < h.input_c; ++c) {
    const float mean = b.read<float>(72 + 4 * std::uint64_t(c));
    const float std_dev = b.read<float>(72 + 4 * std::uint64_t(h.input_c) + 4 * c);
    if (!std::isfinite(mean)) fail("input: mean[" + str(c) + "] is not finite");
    if (!std::isfinite(std_dev) || !(std_dev > 0.f)) {
      fail("input: std[" + str(c) + "] " + str(std_dev) + " is not finite and > 0");
    }
    m.mean.push_back(mean);
    m.std.push_back(std_dev);
  }
  m.lut = reinterpret_cast<const std::int8_t*>(b.at(h.lut_offset));
}

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

class LayerChecker {
 public:
  LayerChecker(const Bytes& b, const Header& h, Model& m, std::vector<ArrayRange>& arrays)
      : b_(b), h_(h), m_(m), arrays_(arrays) {}

  Layer check(std::int32_t i) {
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

 private:
  static std::string shape_str(const TensorShape& s) {
    return "(" + str(s.h) + ", " + str(s.w) + ", " + str(s.c) + ")";
  }

  void in_range(const char* field, std::int64_t v, std::int64_t lo, std::int64_t hi) const {
    check_range(where_, field, v, lo, hi);
  }
  void is_zero(const char* field, std::int64_t v, const char* why) const {
    if (v != 0) fail(where_ + field + " " + str(v) + " must be 0 " + why);
  }

  TensorShape check_geometry_and_shape(const Layer& L, const TensorShape& stored) const {
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

  void no_stride_or_pad(const OpParams& p) const {
    is_zero("stride_h", p.stride_h, "for this op");
    is_zero("stride_w", p.stride_w, "for this op");
    is_zero("pad_top", p.pad_top, "for this op");
    is_zero("pad_left", p.pad_left, "for this op");
    is_zero("pad_bottom", p.pad_bottom, "for this op");
    is_zero("pad_right", p.pad_right, "for this op");
  }

  void check_quantization(Layer& L, std::uint64_t base, std::int32_t prod_zp, float prod_scale) const {
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
  const std::uint8_t* array(const char* field, std::uint32_t offset, std::uint64_t bytes, std::int32_t i) {
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

  void check_arrays(Layer& L, std::uint64_t base, std::int32_t i) {
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

  const Bytes& b_;
  const Header& h_;
  Model& m_;
  std::vector<ArrayRange>& arrays_;
  std::string where_;
};

void check_graph(const Header& h, const Model& m) {
  const Layer& logits = m.layers[std::size_t(h.logits_layer)];
  if (logits.params.out.c != h.num_classes) {
    fail("layer " + str(h.logits_layer) + " (logits): out_c " + str(logits.params.out.c) +
         " does not equal num_classes " + str(h.num_classes));
  }
  if (h.score_layer >= 0 && m.layers[std::size_t(h.score_layer)].params.out.c != 1) {
    fail("layer " + str(h.score_layer) + " (score): out_c " +
         str(m.layers[std::size_t(h.score_layer)].params.out.c) + " is not 1");
  }
  std::vector<bool> read(m.layers.size(), false);
  for (const Layer& L : m.layers) {
    if (L.input_layer >= 0) read[std::size_t(L.input_layer)] = true;
  }
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const bool head = std::int32_t(i) == h.logits_layer || std::int32_t(i) == h.score_layer;
    if (!head && !read[i]) {
      fail("layer " + str(i) + " (" + op_name(m.layers[i].op) + "): its output is read by no layer (dead layer)");
    }
  }
}

// Arrays must not overlap; blob bytes outside every array are padding and must be zero.
void check_blob_layout(const Bytes& b, const Header& h, std::vector<ArrayRange>& arrays) {
  std::sort(arrays.begin(), arrays.end(),
            [](const ArrayRange& x, const ArrayRange& y) { return x.begin < y.begin; });
  for (std::size_t i = 1; i < arrays.size(); ++i) {
    if (arrays[i].begin < arrays[i - 1].end) {
      fail(arrays[i].name + " [" + str(arrays[i].begin) + ", " + str(arrays[i].end) + ") overlaps " +
           arrays[i - 1].name + " [" + str(arrays[i - 1].begin) + ", " + str(arrays[i - 1].end) + ")");
    }
  }
  std::uint64_t cursor = h.blob_offset;
  for (const ArrayRange& a : arrays) {
    if (!b.all_zero(cursor, a.begin)) {
      fail("blob: padding before " + a.name + " (bytes " + str(cursor) + ".." + str(a.begin) + ") is not zero");
    }
    cursor = a.end;
  }
  if (!b.all_zero(cursor, std::uint64_t(h.blob_offset) + h.blob_bytes)) {
    fail("blob: padding after the last array (from byte " + str(cursor) + ") is not zero");
  }
}

void plan_arena(Model& m) {
  const std::int32_t n = std::int32_t(m.layers.size());
  std::vector<PlannedTensor> tensors(std::size_t(n) + 1);
  tensors[0] = {m.input_shape.elements(), -1, -1};
  for (std::int32_t i = 0; i < n; ++i) {
    const Layer& L = m.layers[std::size_t(i)];
    const bool head = (i == m.logits_layer || i == m.score_layer);
    tensors[std::size_t(i) + 1] = {L.output_bytes(), i, head ? n : i};
  }
  for (std::int32_t i = 0; i < n; ++i) {
    PlannedTensor& producer = tensors[std::size_t(m.layers[std::size_t(i)].input_layer + 1)];
    producer.last_step = std::max(producer.last_step, i);
  }
  std::int64_t arena = 0;
  const std::vector<std::int64_t> offsets = plan_greedy_by_size(tensors, &arena);
  if (arena > kMaxArenaBytes) {
    fail("the arena needs " + str(arena) + " bytes, over the limit of 256 MiB");
  }
  m.plan.input_offset = offsets[0];
  m.plan.layer_offsets.assign(offsets.begin() + 1, offsets.end());
  m.plan.arena_bytes = arena;
}

}  // namespace

const char* op_name(Op op) {
  const char* name = op_name_or_null(static_cast<std::uint8_t>(op));
  return name != nullptr ? name : "unknown";
}

std::unique_ptr<const Model> load_model(const void* data, std::size_t size, const std::string& kernels) {
  if (!is_little_endian()) fail("this reader needs a little-endian host");
  if (data == nullptr && size > 0) fail("null buffer");
  if (size > 0xFFFFFFFFu) fail("buffer of " + str(size) + " bytes is larger than any .fdal file (4 GiB)");
  static const std::uint8_t empty = 0;
  check_identity(size == 0 ? &empty : static_cast<const std::uint8_t*>(data), size);

  auto model = std::make_unique<Model>();
  Model& m = *model;
  m.file = AlignedBuffer(size);
  std::memcpy(m.file.data(), data, size);
  const Bytes b(m.file.data(), size);
  check_crc(b, size);

  const Header h = read_header(b, size);
  m.version_major = h.version_major;
  m.version_minor = h.version_minor;
  m.input_shape = TensorShape{h.input_h, h.input_w, h.input_c};
  m.num_classes = h.num_classes;
  m.logits_layer = h.logits_layer;
  m.score_layer = h.score_layer;
  if (m.input_shape.elements() > kMaxTensorElements) {
    fail("header: the input has " + str(m.input_shape.elements()) + " elements, over the limit " +
         str(kMaxTensorElements));
  }
  check_input_section(b, h, m);

  std::vector<ArrayRange> arrays;
  LayerChecker checker(b, h, m, arrays);
  for (std::int32_t i = 0; i < h.num_layers; ++i) m.layers.push_back(checker.check(i));
  check_graph(h, m);
  check_blob_layout(b, h, arrays);
  plan_arena(m);

  for (const Layer& L : m.layers) {
    if (L.weights.weights == nullptr) continue;
    const std::int64_t out_c = L.params.out.c;
    m.weight_bytes += L.weight_bytes + 4 * out_c * (L.weights.multiplier != nullptr ? 3 : 1);
  }
  m.kernels = &kernel_table_by_name(kernels);
  pack_weights(m);
  return model;
}

std::unique_ptr<const Model> load_model_file(const std::string& path, const std::string& kernels) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open model file '" + path + "' (missing or unreadable)");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("error while reading model file '" + path + "'");
  return load_model(bytes.data(), bytes.size(), kernels);
}

}  // namespace fdal
