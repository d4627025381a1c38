// Checks one 128-byte layer record of a .fdal file against docs/format.md: op, out_kind, the
// producer's shape and quantization chain, geometry, limits and the layer's blob arrays. Internal
// to the loader (format/loader.cpp), which checks the layers in order so producers come first.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "format/load_helpers.h"
#include "model/model.h"

namespace fdal {
namespace detail {

class LayerChecker {
 public:
  // arrays: every blob array a checked layer uses is appended, for the loader's overlap check.
  LayerChecker(const Bytes& b, const Header& h, Model& m, std::vector<ArrayRange>& arrays)
      : b_(b), h_(h), m_(m), arrays_(arrays) {}

  // Layer i, whose producer (if any) is already in m.layers; throws FormatError naming the layer.
  Layer check(std::int32_t i);

 private:
  static std::string shape_str(const TensorShape& s);
  void in_range(const char* field, std::int64_t v, std::int64_t lo, std::int64_t hi) const;
  void is_zero(const char* field, std::int64_t v, const char* why) const;
  TensorShape check_geometry_and_shape(const Layer& L, const TensorShape& stored) const;
  void no_stride_or_pad(const OpParams& p) const;
  void check_quantization(Layer& L, std::uint64_t base, std::int32_t prod_zp, float prod_scale) const;
  const std::uint8_t* array(const char* field, std::uint32_t offset, std::uint64_t bytes, std::int32_t i);
  void check_arrays(Layer& L, std::uint64_t base, std::int32_t i);

  const Bytes& b_;
  const Header& h_;
  Model& m_;
  std::vector<ArrayRange>& arrays_;
  std::string where_;
};

}  // namespace detail
}  // namespace fdal
