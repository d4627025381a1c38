// The arena planner (TFLite Micro's greedy-by-size): every tensor of one image gets an arena range,
// 64-byte aligned; tensors whose lifetimes overlap get disjoint ranges. Lifetimes come from the
// layer DAG: a tensor lives from the step that writes it to the last step that reads it; the
// model's outputs (the two heads' int32 accumulators and the int8 embedding) live to the end:
// they are read after the last layer.
#pragma once
#include <cstdint>
#include <vector>

namespace fdal {

struct PlannedTensor {
  std::int64_t bytes = 0;
  std::int32_t first_step = 0;  // the step that writes it (-1: the input lookup)
  std::int32_t last_step = 0;   // the last step that reads it (inclusive)
};

struct ArenaPlan {
  std::int64_t input_offset = 0;             // the int8 input tensor
  std::vector<std::int64_t> layer_offsets;   // the output of layer i
  std::int64_t arena_bytes = 0;
};

// Places tensors (index 0 = the input, index i+1 = layer i) and returns one offset per tensor and
// the arena size in *arena_bytes.
std::vector<std::int64_t> plan_greedy_by_size(const std::vector<PlannedTensor>& tensors,
                                              std::int64_t* arena_bytes);

}  // namespace fdal
