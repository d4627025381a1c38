// Ranking keys of docs/quantization.md ("Ranking keys"): smaller key = more informative.
// Each key is encoded as an order-preserving uint64 so one top-k structure serves every strategy.
#pragma once
#include <cstdint>

namespace fdal {

// Order-preserving encodings: a < b  <=>  encode(a) < encode(b).
std::uint64_t encode_int64(std::int64_t v);
std::uint64_t encode_double(double v);  // -0.0 encodes like +0.0; NaN throws std::domain_error
// Their inverses (decode_double(encode_double(v)) == v, except that -0.0 comes back as +0.0).
std::int64_t decode_int64(std::uint64_t key);
double decode_double(std::uint64_t key);

// fdal: the score layer's accumulator.
inline std::uint64_t fdal_key(std::int32_t score_acc) { return encode_int64(score_acc); }
// margin: acc[top1] - acc[top2] of the logits accumulators (classes >= 2).
std::int64_t margin(const std::int32_t* logits_acc, std::int32_t classes);
// The predicted class: argmax of the logits accumulators, the lowest class on ties (classbalanced).
std::int32_t predicted_class(const std::int32_t* logits_acc, std::int32_t classes);
// entropy: -H of softmax(float64(acc) * unit), det_exp/det_log, sums in class order.
double negative_entropy(const std::int32_t* logits_acc, std::int32_t classes, float unit);
// random: SplitMix64's finalizer of seed + golden * (index + 1), wrapping.
std::uint64_t random_key(std::uint64_t seed, std::int64_t pool_index);

}  // namespace fdal
