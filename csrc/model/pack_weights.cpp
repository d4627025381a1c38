#include "model/pack_weights.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/relayout.h"

namespace fdal {

namespace {

struct LayerPlan {
  std::int64_t cpad = 0, kp = 0, taps = 0, in_c = 0;  // reduction geometry
  std::int64_t weight_at = 0, bias_at = 0, requant_at = -1, hi32_at = -1;
};

// The hi32 requantization form (kernels/kernel_params.h) needs every shift >= 32. Its blocks
// hold 16 channels (8-lane paths read half a block).
bool hi32_form_applies(const Layer& L, const PackSpec& spec) {
  if (spec.kind == PackKind::Lane16) return false;  // NEON requantizes in scalar code
  for (std::int32_t c = 0; c < L.params.out.c; ++c) {
    if (L.weights.shift[c] < 32) return false;
  }
  return true;
}

std::int64_t align64(std::int64_t v) { return round_up(v, 64); }

template <typename T>
void pack_layer_weights(const Layer& L, const LayerPlan& g, const PackSpec& spec, T* dst) {
  const std::int64_t cg = pack_group(spec.kind), lanes = spec.lanes;
  const std::int64_t out_c = L.params.out.c, oc_pad = round_up(out_c, lanes);
  const std::int64_t groups = g.kp / cg;
  const std::int64_t row = g.taps * g.in_c;  // reference weights per output channel
  for (std::int64_t oc = 0; oc < oc_pad; ++oc) {
    const std::int64_t ob = oc / lanes, lane = oc % lanes;
    for (std::int64_t k = 0; k < g.kp; ++k) {
      const std::int64_t tap = k / g.cpad, ch = k % g.cpad;
      const T v = (oc < out_c && ch < g.in_c) ? T(L.weights.weights[oc * row + tap * g.in_c + ch]) : T(0);
      dst[((ob * groups + k / cg) * lanes + lane) * cg + k % cg] = v;
    }
  }
}

}  // namespace

void pack_weights(Model& m) {
  const PackSpec spec = m.kernels->pack;
  m.packed_bytes = 0;
  m.scratch_bytes = 0;
  m.tile_images = 1;
  if (spec.kind == PackKind::None) {
    // Plain weights: only a conv2d with buffers of its own (portable) needs scratch.
    if (m.kernels->conv2d_s8_scratch_bytes == nullptr) return;
    for (const Layer& L : m.layers) {
      if (L.op == Op::Conv2D) m.scratch_bytes = std::max(m.scratch_bytes, m.kernels->conv2d_s8_scratch_bytes(L.params));
    }
    return;
  }
  const std::int64_t cg = pack_group(spec.kind), esize = pack_elem_bytes(spec.kind);

  std::vector<LayerPlan> plans(m.layers.size());
  std::int64_t total = 0, scratch = 0, fc_scratch = 0;
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const Layer& L = m.layers[i];
    if (L.weights.weights == nullptr) continue;
    const OpParams& p = L.params;
    LayerPlan& g = plans[i];
    if (L.op == Op::Conv2D) {
      g.taps = std::int64_t(p.kernel_h) * p.kernel_w;
      g.in_c = p.in.c;
      g.cpad = round_up(p.in.c, cg);
      scratch = std::max(scratch, padded_conv_input_elements(p, std::int32_t(g.cpad)) * esize);
    } else {
      g.taps = 1;
      g.in_c = p.in.elements();
      g.cpad = round_up(g.in_c, cg);
      scratch = std::max(scratch, g.cpad * esize);
      fc_scratch = std::max(fc_scratch, round_up(g.cpad * esize, 64));
    }
    g.kp = g.taps * g.cpad;
    const std::int64_t oc_pad = round_up(p.out.c, spec.lanes);
    g.weight_at = total;
    total += align64(oc_pad * g.kp * esize);
    g.bias_at = total;
    total += align64(oc_pad * 4);
    if (L.weights.multiplier != nullptr) {
      g.requant_at = total;
      total += align64(3 * oc_pad * 8);
      if (hi32_form_applies(L, spec)) {
        g.hi32_at = total;
        total += round_up(oc_pad, 16) / 16 * 256;
      }
    }
  }
  m.packed = AlignedBuffer(std::size_t(total));
  std::uint8_t* base = m.packed.data();
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    Layer& L = m.layers[i];
    if (L.weights.weights == nullptr) continue;
    const LayerPlan& g = plans[i];
    const std::int64_t out_c = L.params.out.c, oc_pad = round_up(out_c, spec.lanes);
    if (esize == 1) {
      pack_layer_weights(L, g, spec, reinterpret_cast<std::int8_t*>(base + g.weight_at));
    } else {
      pack_layer_weights(L, g, spec, reinterpret_cast<std::int16_t*>(base + g.weight_at));
    }
    // Dot4 reads activations shifted by act_offset with the zero point still in: fold
    // -(act_offset + in_zp) * sum_k w into the bias (fits in int32 by the loader's K*127*255 rule).
    std::int32_t* bias = reinterpret_cast<std::int32_t*>(base + g.bias_at);
    const std::int64_t row = g.taps * g.in_c;
    for (std::int64_t oc = 0; oc < oc_pad; ++oc) {
      if (oc >= out_c) { bias[oc] = 0; continue; }
      std::int64_t b = L.weights.bias[oc];
      if (spec.kind == PackKind::Dot4) {
        std::int64_t sum = 0;
        for (std::int64_t k = 0; k < row; ++k) sum += L.weights.weights[oc * row + k];
        b -= (std::int64_t(spec.act_offset) + L.params.in_zero_point) * sum;
      }
      bias[oc] = std::int32_t(b);
    }
    L.weights.packed = base + g.weight_at;
    L.weights.packed_bias = bias;
    L.weights.oc_pad = std::int32_t(oc_pad);
    if (g.requant_at >= 0) {
      std::int64_t* rq = reinterpret_cast<std::int64_t*>(base + g.requant_at);
      // |acc * multiplier| < 2^62 and |out_zp * 2^shift| <= 2^61 for shift <= 54: no overflow.
      bool fold = true;
      for (std::int64_t oc = 0; oc < out_c; ++oc) fold = fold && L.weights.shift[oc] <= 54;
      const std::int64_t zp = L.params.out_zero_point;
      for (std::int64_t oc = 0; oc < oc_pad; ++oc) {
        const bool real = oc < out_c;
        const std::int32_t shift = real ? L.weights.shift[oc] : 1;
        rq[oc] = real ? L.weights.multiplier[oc] : 0;
        rq[oc_pad + oc] = (std::int64_t(1) << (shift - 1)) + (fold ? zp * (std::int64_t(1) << shift) : 0);
        rq[2 * oc_pad + oc] = shift;
      }
      L.weights.requant64 = rq;
      L.weights.requant_zp = fold ? 0 : std::int32_t(zp);
      if (g.hi32_at >= 0) {
        std::uint8_t* blocks = base + g.hi32_at;
        for (std::int64_t b = 0; b < round_up(oc_pad, 16) / 16; ++b) {
          std::int32_t* mult = reinterpret_cast<std::int32_t*>(blocks + b * 256);
          std::int64_t* even = reinterpret_cast<std::int64_t*>(blocks + b * 256 + 64);
          std::int64_t* odd = reinterpret_cast<std::int64_t*>(blocks + b * 256 + 128);
          std::int32_t* shr = reinterpret_cast<std::int32_t*>(blocks + b * 256 + 192);
          for (std::int64_t i = 0; i < 16; ++i) {
            const std::int64_t c = b * 16 + i;
            const bool real = c < out_c;  // padding channels: multiplier 0, offset 0, shift 0
            mult[i] = real ? std::int32_t(rq[c]) : 0;
            shr[i] = real ? std::int32_t(rq[2 * oc_pad + c]) - 32 : 0;
            (i % 2 == 0 ? even : odd)[i / 2] = real ? rq[oc_pad + c] : 0;
          }
        }
        L.weights.requant_hi32 = blocks;
      }
    }
  }
  m.packed_bytes = total;
  // Tile kernels relayout every image of the tile into the scratch at once.
  m.tile_images = m.kernels->tile_images > 1 ? m.kernels->tile_images : 1;
  m.scratch_bytes = std::max(scratch, fc_scratch * m.tile_images) + 64;
}

}  // namespace fdal
