#include "rank/keys.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "runtime/det_math.h"

namespace fdal {

std::uint64_t encode_int64(std::int64_t v) {
  return static_cast<std::uint64_t>(v) ^ (std::uint64_t(1) << 63);
}

std::uint64_t encode_double(double v) {
  if (std::isnan(v)) throw std::domain_error("ranking key is NaN");
  if (v == 0.0) v = 0.0;  // -0.0 and +0.0 compare equal, so they must encode equally
  std::uint64_t bits;
  std::memcpy(&bits, &v, 8);
  // Negative doubles order reversed by magnitude: flip all bits; positive: set the sign bit.
  return (bits >> 63) ? ~bits : bits | (std::uint64_t(1) << 63);
}

std::int64_t decode_int64(std::uint64_t key) {
  return static_cast<std::int64_t>(key ^ (std::uint64_t(1) << 63));
}

double decode_double(std::uint64_t key) {
  const std::uint64_t bits = (key >> 63) ? key & ~(std::uint64_t(1) << 63) : ~key;
  double v;
  std::memcpy(&v, &bits, 8);
  return v;
}

std::int64_t margin(const std::int32_t* acc, std::int32_t classes) {
  std::int64_t top1 = acc[0] >= acc[1] ? acc[0] : acc[1];
  std::int64_t top2 = acc[0] >= acc[1] ? acc[1] : acc[0];
  for (std::int32_t c = 2; c < classes; ++c) {
    const std::int64_t v = acc[c];
    if (v > top1) {
      top2 = top1;
      top1 = v;
    } else if (v > top2) {
      top2 = v;
    }
  }
  return top1 - top2;
}

std::int32_t predicted_class(const std::int32_t* acc, std::int32_t classes) {
  std::int32_t best = 0;
  for (std::int32_t c = 1; c < classes; ++c) {
    if (acc[c] > acc[best]) best = c;  // strictly greater: ties stay with the lower class
  }
  return best;
}

double negative_entropy(const std::int32_t* acc, std::int32_t classes, float unit) {
  const double u = double(unit);
  double max_x = double(acc[0]) * u;
  for (std::int32_t c = 1; c < classes; ++c) max_x = std::fmax(max_x, double(acc[c]) * u);
  // s = e_0 + e_1 + ..., t = e_0*d_0 + e_1*d_1 + ..., left to right from class 0 (as the oracle).
  double d = double(acc[0]) * u - max_x;
  double e = det_exp(d);
  double s = e, t = e * d;
  for (std::int32_t c = 1; c < classes; ++c) {
    d = double(acc[c]) * u - max_x;
    e = det_exp(d);
    s = s + e;
    t = t + e * d;
  }
  const double h = det_log(s) - t / s;
  return -h;
}

std::uint64_t random_key(std::uint64_t seed, std::int64_t pool_index) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(pool_index) + 1);
  z ^= z >> 30;
  z *= 0xBF58476D1CE4E5B9ull;
  z ^= z >> 27;
  z *= 0x94D049BB133111EBull;
  z ^= z >> 31;
  return z;
}

}  // namespace fdal
