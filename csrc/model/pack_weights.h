// Packs every CONV2D / FULLY_CONNECTED layer's weights at load into the layout the model's kernel
// path wants (kernels/packed_layout.h): one 64-byte aligned buffer owned by the Model, pointers
// in each Layer's QuantWeights, and the scratch size a Workspace must provide.
#pragma once
#include "model/model.h"

namespace fdal {

// Uses model.kernels->pack; a path that reads the plain weights (reference, portable) packs nothing
// (portable: scratch for its conv2d buffers, kernels->conv2d_s8_scratch_bytes).
void pack_weights(Model& model);

}  // namespace fdal
