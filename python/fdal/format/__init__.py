"""The .fdal model file (docs/format.md): ModelSpec/LayerSpec, the writer, an independent reader.

One concept per module, imported in this order (each imports only those above it):
    errors.py        FormatError (a ValueError) and the range check that words its messages
    layout.py        sizes, limits, op codes, the header and layer-record field tables
    float32.py       float32 rounding and bit patterns (scales are compared as f32 bits)
    crc.py           the trailing CRC-32, and crc32_fixup for deliberately edited files
    spec.py          ModelSpec and LayerSpec, the model in memory
    shapes.py        layer_output_shape: what each op computes from its input shape
    layer_reader.py  the checks of one layer record and its blob arrays
    reader.py        read_model: every rule, in the documented order
    writer.py        write_model and validate: encode, then re-read with read_model's checks
    diff.py          model_differences / models_equal, for round-trip tests
"""
from .crc import crc32_fixup
from .diff import model_differences, models_equal
from .errors import FormatError
from .layout import (ALIGN, ARRAY_FIELDS, CRC_BYTES, HEADER_BYTES, HEADER_FIELDS, INPUT_MEAN_OFFSET,
                     INPUT_SCALE_OFFSET, INPUT_ZERO_POINT_OFFSET, INT32_MAX, MAGIC, MAX_EMBEDDING_VALUES, MAX_LAYERS,
                     MAX_TENSOR_ELEMENTS, READABLE_MAJORS,
                     OP_NAMES, OPS, OUT_KIND_NAMES, OUT_KINDS, RECORD_BYTES, RECORD_FIELDS, VERSION_MAJOR,
                     VERSION_MINOR, Field, record_field_offset)
from .reader import read_model
from .shapes import layer_output_shape
from .spec import LayerSpec, ModelSpec
from .writer import validate, write_model

__all__ = [
    # the model in memory, reading and writing it
    "ModelSpec", "LayerSpec", "read_model", "write_model", "validate", "FormatError",
    "layer_output_shape", "model_differences", "models_equal",
    # the byte layout, for tools and tests that edit files
    "MAGIC", "VERSION_MAJOR", "VERSION_MINOR", "HEADER_BYTES", "RECORD_BYTES", "ALIGN", "CRC_BYTES",
    "READABLE_MAJORS", "MAX_LAYERS", "MAX_TENSOR_ELEMENTS", "MAX_EMBEDDING_VALUES", "INT32_MAX", "OPS", "OP_NAMES", "OUT_KINDS", "OUT_KIND_NAMES",
    "Field", "HEADER_FIELDS", "RECORD_FIELDS", "ARRAY_FIELDS",
    "INPUT_SCALE_OFFSET", "INPUT_ZERO_POINT_OFFSET", "INPUT_MEAN_OFFSET",
    "record_field_offset", "crc32_fixup",
]
