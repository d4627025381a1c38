#include "format/loader.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "format/crc32.h"
#include "format/format_error.h"
#include "format/layer_checker.h"
#include "format/load_helpers.h"
#include "model/pack_weights.h"

namespace fdal {

using detail::ArrayRange;
using detail::Bytes;
using detail::check_range;
using detail::fail;
using detail::Header;
using detail::kCrcBytes;
using detail::kHeaderBytes;
using detail::kLayerRecordBytes;
using detail::kLatestMajor;
using detail::kMagic;
using detail::kMaxEmbeddingValues;
using detail::kMaxArenaBytes;
using detail::kMaxTensorElements;
using detail::LayerChecker;
using detail::op_name_or_null;
using detail::str;

namespace {

bool is_little_endian() {
  const std::uint16_t one = 1;
  std::uint8_t first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

void check_identity(const std::uint8_t* data, std::size_t size) {
  const std::size_t magic_bytes = std::min<std::size_t>(size, 8);
  if (std::memcmp(data, kMagic, magic_bytes) != 0) {
    fail("bad magic: not a .fdal file (the first 8 bytes must be 89 46 44 41 4C 0D 0A 1A)");
  }
  if (size < 10) fail("truncated: " + str(size) + " bytes, smaller than the 64-byte header");
  std::uint16_t major;
  std::memcpy(&major, data + 8, 2);
  if (major < 1 || major > kLatestMajor) {
    std::string minor = "?";
    if (size >= 12) {
      std::uint16_t m;
      std::memcpy(&m, data + 10, 2);
      minor = str(m);
    }
    fail(std::string(major > kLatestMajor ? "future version " : "unsupported version ") + str(major) + "." +
         minor + ": this reader reads formats 1.x and 2.x");
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
    char message[80];
    std::snprintf(message, sizeof(message), "CRC mismatch: stored 0x%lx, computed 0x%lx (corrupted file)",
                  static_cast<unsigned long>(stored), static_cast<unsigned long>(actual));
    fail(message);
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
  // 2.x: embedding_layer at 52, bytes 54..63 reserved; 1.x: bytes 52..63 reserved, no embedding.
  const bool v1 = h.version_major == 1;
  h.embedding_layer = v1 ? std::int16_t(-1) : b.read<std::int16_t>(52);
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
  range("embedding_layer", h.embedding_layer, -1, h.num_layers - 1);
  if (h.flags != 0) fail("header: flags " + str(h.flags) + " is not 0 (reserved)");
  if (v1 && !b.all_zero(52, 64)) fail("header: reserved bytes 52..63 of a 1.x file are not zero");
  if (!v1 && !b.all_zero(54, 64)) fail("header: reserved bytes 54..63 are not zero");

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
  if (h.embedding_layer >= 0) {
    const Layer& e = m.layers[std::size_t(h.embedding_layer)];
    const std::string where = "layer " + str(h.embedding_layer) + " (" + op_name(e.op) + "): ";
    if (e.out_kind != OutKind::Int8) {
      fail(where + "the embedding layer must be an int8 tensor (out_kind 0), not an int32 head");
    }
    if (e.params.out.elements() > kMaxEmbeddingValues) {
      fail(where + "the embedding has " + str(e.params.out.elements()) + " values, over the limit " +
           str(kMaxEmbeddingValues));
    }
  }
  std::vector<bool> read(m.layers.size(), false);
  for (const Layer& L : m.layers) {
    if (L.input_layer >= 0) read[std::size_t(L.input_layer)] = true;
  }
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const bool output = std::int32_t(i) == h.logits_layer || std::int32_t(i) == h.score_layer ||
                        std::int32_t(i) == h.embedding_layer;
    if (!output && !read[i]) {
      fail("layer " + str(i) + " (" + op_name(m.layers[i].op) +
           "): its output is read by no layer and is no head nor the embedding (dead layer)");
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
    // The outputs (heads, embedding) are read after the last layer: they live to the end.
    const bool output = (i == m.logits_layer || i == m.score_layer || i == m.embedding_layer);
    tensors[std::size_t(i) + 1] = {L.output_bytes(), i, output ? n : i};
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

namespace {

// The checks before any byte is kept: host, buffer, then size, magic and version (check_identity).
void check_buffer(const void* data, std::size_t size) {
  if (!is_little_endian()) fail("this reader needs a little-endian host");
  if (data == nullptr && size > 0) fail("null buffer");
  if (size > 0xFFFFFFFFu) fail("buffer of " + str(size) + " bytes is larger than any .fdal file (4 GiB)");
  static const std::uint8_t empty = 0;
  check_identity(size == 0 ? &empty : static_cast<const std::uint8_t*>(data), size);
}

// Every other rule, on `bytes` (64-byte aligned: the model's copy or the caller's buffer), which
// the Model's arrays then point into.
std::unique_ptr<const Model> load_checked(std::unique_ptr<Model> model, const std::uint8_t* bytes, std::size_t size,
                                          const std::string& kernels) {
  Model& m = *model;
  m.file_size = std::int64_t(size);
  const Bytes b(bytes, size);
  check_crc(b, size);

  const Header h = read_header(b, size);
  m.version_major = h.version_major;
  m.version_minor = h.version_minor;
  m.input_shape = TensorShape{h.input_h, h.input_w, h.input_c};
  m.num_classes = h.num_classes;
  m.logits_layer = h.logits_layer;
  m.score_layer = h.score_layer;
  m.embedding_layer = h.embedding_layer;
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

}  // namespace

std::unique_ptr<const Model> load_model(const void* data, std::size_t size, const std::string& kernels) {
  check_buffer(data, size);
  auto model = std::make_unique<Model>();
  model->file = AlignedBuffer(size);
  std::memcpy(model->file.data(), data, size);
  const std::uint8_t* bytes = model->file.data();
  return load_checked(std::move(model), bytes, size, kernels);
}

std::unique_ptr<const Model> load_model_in_place(const void* data, std::size_t size, const std::string& kernels) {
  // 64 bytes, as the copy: the format aligns every array to 64 from the start of the file.
  const std::uintptr_t misalignment = reinterpret_cast<std::uintptr_t>(data) % AlignedBuffer::kAlignment;
  if (misalignment != 0) {
    throw std::invalid_argument("an in-place model must start at a 64-byte aligned address; this one is " +
                                std::to_string(misalignment) + " bytes past one (align it, or load with a copy)");
  }
  check_buffer(data, size);
  return load_checked(std::make_unique<Model>(), static_cast<const std::uint8_t*>(data), size, kernels);
}

std::unique_ptr<const Model> load_model_file(const std::string& path, const std::string& kernels) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open model file '" + path + "' (missing or unreadable)");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("error while reading model file '" + path + "'");
  return load_model(bytes.data(), bytes.size(), kernels);
}

}  // namespace fdal
