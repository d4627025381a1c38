"""Issue 16 (API side): bad arguments to rank_pool / Model.forward are one clear ValueError or
TypeError, a list of images is accepted, and Ctrl-C interrupts a long native call promptly."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fdal
from fdal.runtime import MAX_THREADS

BAD_THREADS = [1_000_000, 2**31 - 1, 2**31, 0, -1]


def one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text, text
    return text


@pytest.mark.parametrize("threads", BAD_THREADS)
def test_rank_pool_threads_out_of_range(vgg, pool, threads):
    with pytest.raises(ValueError) as e:
        fdal.rank_pool(vgg.model, pool[:8], 2, threads=threads)
    assert f"threads must be in 1..{MAX_THREADS}, got {threads}" == one_line(e)


@pytest.mark.parametrize("threads", BAD_THREADS)
def test_forward_threads_out_of_range(vgg, pool, threads):
    with pytest.raises(ValueError) as e:
        vgg.model.forward(pool[:2], threads=threads)
    assert f"1..{MAX_THREADS}" in one_line(e)


def test_max_threads_is_accepted(vgg, pool):
    # The bound itself works (the runtime uses at most one thread per image).
    assert len(fdal.rank_pool(vgg.model, pool[:4], 2, strategy="margin", threads=MAX_THREADS)) == 2


def test_list_of_images_is_stacked(vgg, pool):
    want = fdal.rank_pool(vgg.model, pool[:16], 5)
    got = fdal.rank_pool(vgg.model, list(pool[:16]), 5)
    np.testing.assert_array_equal(got, want)
    assert got.max() < 16


def test_ragged_list_of_images(vgg, pool):
    with pytest.raises(ValueError) as e:
        fdal.rank_pool(vgg.model, [pool[0], pool[1][:16]], 1)
    assert "same shape" in one_line(e) and "(16, 32, 3)" in str(e.value)


@pytest.mark.parametrize("path", ["pool.npy", b"pool.npy"])
def test_path_as_pool_is_a_type_error(vgg, path):
    with pytest.raises(TypeError) as e:
        fdal.rank_pool(vgg.model, path, 1)
    assert "pass an array" in one_line(e) and 'np.load(path, mmap_mode="r")' in str(e.value)


def test_path_object_as_pool_is_a_type_error(vgg, tmp_path):
    with pytest.raises(TypeError, match="pass an array"):
        fdal.rank_pool(vgg.model, tmp_path / "pool.npy", 1)
    with pytest.raises(TypeError, match="images must be an array, not a path"):
        vgg.model.forward(str(tmp_path / "pool.npy"))


# A long native call on a pool memory-mapped from disk; stride 0 over one image makes it as long as
# needed without the disk space (the runtime takes any strides).
INTERRUPTED = textwrap.dedent("""
    import sys, time
    import numpy as np
    import fdal
    model = fdal.load(sys.argv[1])
    one = np.memmap(sys.argv[2], dtype=np.uint8, mode="r", shape=(1, 32, 32, 3))
    t0 = time.perf_counter()
    model.forward(np.broadcast_to(one, (256, 32, 32, 3)))
    per_image = (time.perf_counter() - t0) / 256
    n = int(30 / per_image)  # about 30 s of work in a single native call, without the fix
    pool = np.broadcast_to(one, (n, 32, 32, 3))
    print("ready", flush=True)
    if sys.argv[3] == "rank_pool":
        fdal.rank_pool(model, pool, 10, batch_size=n)
    else:
        model.forward(pool)
    print("finished", flush=True)
""")


@pytest.mark.parametrize("call", ["rank_pool", "forward"])
def test_ctrl_c_interrupts_a_long_native_call(vgg, pool, tmp_path, call):
    (tmp_path / "m.fdal").write_bytes(vgg.data)
    pool[:1].tofile(tmp_path / "pool.raw")
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED, str(tmp_path / "m.fdal"),
                             str(tmp_path / "pool.raw"), call],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a run started with `&` passes SIGINT on ignored: Python would then
                            # install no KeyboardInterrupt handler in the child
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(1)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - sent
    finally:
        proc.kill()
        proc.wait()
    assert "KeyboardInterrupt" in err, err
    assert elapsed < 10, f"KeyboardInterrupt came {elapsed:.1f} s after SIGINT"
