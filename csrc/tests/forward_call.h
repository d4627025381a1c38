// The tests' shorthand for fdal_forward_run (fdal.h, "forward"): its outputs and options spelled
// as arguments. workspace NULL: arenas for this call on `threads` threads.
#pragma once
#include <cstdint>

#include "fdal/fdal.h"

namespace fdal_test {

inline fdal_status forward_run(const fdal_model* model, const fdal_images* images, std::int32_t threads,
                               fdal_workspace* workspace, std::int32_t* logits_raw, std::int32_t* score_raw,
                               float* logits, float* score, std::int8_t* embedding) {
  fdal_forward_outputs out;
  fdal_forward_outputs_init(&out);  // every output NULL, then the ones given
  out.logits_raw = logits_raw, out.score_raw = score_raw, out.logits = logits, out.score = score;
  out.embedding = embedding;
  fdal_forward_options options;
  fdal_forward_options_init(&options);
  options.threads = threads, options.workspace = workspace;
  return fdal_forward_run(model, images, &out, &options);
}

}  // namespace fdal_test
