// Workspace: the arenas of one tile of images (Model::tile_images copies of the planner's
// layout, arena_bytes apart) and the kernels' scratch, allocated once per call or thread and
// reused for every tile; never allocated per image or per batch.
#pragma once
#include <cstdint>

#include "model/aligned_buffer.h"
#include "model/model.h"

namespace fdal {

class Workspace {
 public:
  explicit Workspace(const Model& model)
      : arena_(std::size_t(model.arena_bytes() * model.tile_images)),
        scratch_(std::size_t(model.scratch_bytes)) {}
  std::int8_t* arena() { return reinterpret_cast<std::int8_t*>(arena_.data()); }
  std::size_t bytes() const { return arena_.size(); }
  // The optimized kernels' re-laid-out activations and portable conv2d's buffers
  // (Model::scratch_bytes; empty on reference).
  std::uint8_t* scratch() { return scratch_.data(); }
  std::size_t scratch_bytes() const { return scratch_.size(); }

 private:
  AlignedBuffer arena_;
  AlignedBuffer scratch_;
};

}  // namespace fdal
