// The .fdal loader: copies the bytes into an owned 64-byte aligned buffer (or reads them in place),
// checks every rule of
// docs/format.md in the documented order (size, magic, version; CRC; every field; offsets,
// alignment, overlaps; shape chain; overflow rule; limits) and returns an immutable Model.
// Throws FormatError (never reads outside the buffer), std::bad_alloc, or std::invalid_argument
// (FDAL_KERNELS names an unknown kernel path).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "model/model.h"

namespace fdal {

// kernels: a kernel path name (kernels/kernel_table.h); "auto" honours FDAL_KERNELS, else the best.
std::unique_ptr<const Model> load_model(const void* data, std::size_t size,
                                        const std::string& kernels = "auto");
// load_model without the copy: the Model points into `data` (e.g. a microcontroller's flash), which
// must be 64-byte aligned (else std::invalid_argument) and outlive the Model, unchanged.
std::unique_ptr<const Model> load_model_in_place(const void* data, std::size_t size,
                                                 const std::string& kernels = "auto");
// Reads the whole file; a missing or unreadable file is a FormatError naming the path.
std::unique_ptr<const Model> load_model_file(const std::string& path,
                                             const std::string& kernels = "auto");

}  // namespace fdal
