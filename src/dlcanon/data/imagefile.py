"""Image files read into memory, their declared size checked against their bytes before they are decoded.

Decoders get an in-memory copy: a chunk length forged to 2³¹ then reads (and allocates) only what the file
holds. A PNG header can declare 65535 × 65535 pixels in 60 bytes. Decoded bytes W·H·C·b may exceed the file's size
only as far as compression allows: deflate (PNG, TIFF) expands at most 1032:1 and JPEG's entropy coding less,
so an image declaring more than `EXPANSION` × its size (beyond `SLACK`, decoded at any ratio) is refused.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from dlcanon.errors import UserError

EXPANSION = 1100  # ≥ deflate's 1032:1, with room for PNG's per-row filter bytes
SLACK = 4 << 20  # 4 MiB (a 1024 × 1024 RGBA image) decodes whatever its size on disk
SAMPLE_BYTES = {"I;16": 2, "I;16B": 2, "I;16L": 2, "I": 4, "F": 4}  # PIL modes with wider samples; others 1


def open_checked(path: Path) -> io.BytesIO:
    """The file's bytes, for a decoder; UserError when unreadable or when its header declares more pixels
    than its bytes can hold (checked on the header only). Files PIL cannot identify pass: their decoder
    reports them."""
    from PIL import Image

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:  # reads the header only
                (w, h), mode, bands = im.size, im.mode, len(im.getbands())
    except Image.DecompressionBombError as e:
        raise UserError(f"{path}: declares more pixels than any image here may have ({e})") from None
    except Exception:  # not an image PIL knows (or a corrupt header): the decoder says which
        return io.BytesIO(data)
    declared = w * h * bands * SAMPLE_BYTES.get(mode, 1)
    if declared > EXPANSION * len(data) + SLACK:
        raise UserError(
            f"{path}: header declares {w}×{h} {mode} pixels ({declared} bytes), more than a file of {len(data)} "
            "bytes can hold (corrupt)"
        )
    return io.BytesIO(data)
