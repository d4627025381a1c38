"""The trailing CRC-32 of a file image: bytes [0, file_size-4)."""
import struct
import zlib

from .layout import CRC_BYTES


def body_crc(buf: bytes) -> int:
    """CRC-32 of everything before the trailing CRC field."""
    return zlib.crc32(buf[:-CRC_BYTES]) & 0xFFFFFFFF


def crc32_fixup(buf: bytes) -> bytes:
    """Recompute the trailing CRC-32 of a (deliberately edited) file image."""
    buf = bytes(buf)
    if len(buf) < CRC_BYTES:
        raise ValueError("crc32_fixup: buffer shorter than the CRC")
    return buf[:-CRC_BYTES] + struct.pack("<I", body_crc(buf))
