"""Write the fuzz seed corpus: valid models from fdal.testing and the malformed-model catalogue.

    python csrc/fuzz/make_corpus.py OUT_DIR

Valid seeds: every fdal.testing arch (with and without a sampler, plus small-input variants), each
with the student's embedding, a decoder-embedding branch, a format 1.0 file, and the small all-ops
model of the catalogue (which has an embedding); malformed seeds: every file of tests/format/test_malformed_models.py's catalogue (each
breaks one rule, so the fuzzer starts next to every check). Files are named by content hash.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import sys
from pathlib import Path

from fdal import format as fmt
from fdal import testing

ROOT = Path(__file__).resolve().parents[2]


def load_catalogue():
    path = ROOT / "tests" / "format" / "test_malformed_models.py"
    spec = importlib.util.spec_from_file_location("malformed_catalogue", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seeds():
    for arch in testing.ARCHS:
        for with_sampler in (True, False):
            spec = testing.random_model(1, arch, with_sampler=with_sampler, n_calibration=32)
            yield f"{arch}_{'s' if with_sampler else 'ns'}", fmt.write_model(spec)
    # Small inputs and few classes: seeds the fuzzer can mutate and run hundreds of times a second.
    for arch, shape in (("tiny", (8, 8, 3)), ("tiny", (16, 16, 1)), ("alexnet_lite", (8, 8, 3)),
                        ("vgg11_lite", (16, 16, 1))):
        spec = testing.random_model(2, arch, num_classes=4, input_shape=shape, n_calibration=16)
        yield f"{arch}_{shape[0]}x{shape[1]}x{shape[2]}", fmt.write_model(spec)
    # The embedding output (format 2.x): z of each arch, a small decoder branch, and a 1.0 file.
    for arch in testing.ARCHS:
        spec = testing.random_model(3, arch, num_classes=4, input_shape=(16, 16, 3), n_calibration=16,
                                    embedding="student")
        yield f"{arch}_embedding_student", fmt.write_model(spec)
    spec = testing.random_model(3, "vgg11_lite", num_classes=4, input_shape=(16, 16, 3), n_calibration=16,
                                embedding="decoder", decoder_channels=(16, 24))
    yield "vgg11_lite_embedding_decoder", fmt.write_model(spec)
    spec = testing.random_model(3, "vgg11_lite", num_classes=4, input_shape=(16, 16, 3), n_calibration=16)
    yield "vgg11_lite_format_1_0", fmt.write_model(dataclasses.replace(spec, version=(1, 0)))
    cat = load_catalogue()
    small = cat.small_model_bytes()
    yield "small_all_ops", small
    for case in cat.catalogue(small):
        yield case.name, case.data


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for name, data in seeds():
        digest = hashlib.sha1(data).hexdigest()[:12]
        (out / f"{name}-{digest}.fdal").write_bytes(data)
        n += 1
    print(f"wrote {n} seed files to {out}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
