"""Captured images for the readable PDFs: the bytes the WARC holds, never a link to the platform.

A records copy must show what was captured, not what a platform serves today (or no longer
serves), so each image of an item is read from its first capture in storage (a revisit's from
the record holding its payload), checked to be an image that decodes, and handed to the PDF
as a ``data:`` URI; the renderer fetches nothing from the network. A medium that is not an
image (a video), too large, missing, or undecodable is listed with its SHA-256 and the reason
instead. A redacted release shows no images: they are captured bytes the redactor cannot
read (like the native payloads, they stay out unless the package is unredacted).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

from archiver.exports.package.parts import PackageContext
from archiver.exports.payloads import read_payload
from storage.base import StorageError

SHOWN_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # per image; larger ones are listed, not drawn
MAX_IMAGES = 12  # per document; the native part and the WACZ hold every capture


@dataclass(frozen=True)
class CapturedImage:
    url: str
    sha256: str | None  # the payload's SHA-256 as the index recorded it
    data_uri: str | None  # set when the image is shown
    note: str  # what the page says about it
    size: tuple[int, int] | None = None  # width and height in pixels, when shown


def captured_images(context: PackageContext, history: dict[str, Any]) -> list[CapturedImage]:
    """The item's media as the PDF shows them, in the order the history lists them."""
    found = []
    for medium in history.get("media", []):
        captures = medium.get("captures") or []
        url = str(medium.get("url") or "")
        if not captures:
            found.append(CapturedImage(url, None, None, "not captured"))
        elif context.redacting:
            found.append(CapturedImage(url, captures[0].get("sha256"), None,
                                       "captured; not shown in a redacted release"))
        elif sum(1 for image in found if image.data_uri) >= MAX_IMAGES:
            found.append(CapturedImage(url, captures[0].get("sha256"), None,
                                       f"captured; more than {MAX_IMAGES} images, see native/ and wacz/"))
        else:
            found.append(_image(context, url, captures[0]))
    return found


def _image(context: PackageContext, url: str, evidence: dict[str, Any]) -> CapturedImage:
    sha = evidence.get("sha256")
    try:
        payload = read_payload(context.session, context.storage, evidence, limit=MAX_IMAGE_BYTES + 1)
    except StorageError as exc:
        return CapturedImage(url, sha, None, f"captured, but its record cannot be read now ({exc})")
    content_type = payload.content_type.split(";")[0].strip().lower()
    if content_type not in SHOWN_TYPES:
        return CapturedImage(url, sha, None, f"captured ({content_type}); not an image to show")
    if len(payload.body) > MAX_IMAGE_BYTES:
        return CapturedImage(url, sha, None, f"captured; larger than {MAX_IMAGE_BYTES // 2**20} MB, see native/")
    size = _decoded_size(payload.body)
    if size is None:
        return CapturedImage(url, sha, None, f"captured ({content_type}), but the bytes do not decode as an image")
    return CapturedImage(url, sha, f"data:{content_type};base64,{base64.b64encode(payload.body).decode('ascii')}",
                         "captured; shown from the WARC", size)


def _decoded_size(data: bytes) -> tuple[int, int] | None:
    """The image's size in pixels if its bytes decode whole, else None."""
    from PIL import Image  # WeasyPrint's own image library

    try:
        with Image.open(io.BytesIO(data)) as image:
            size = image.size
            image.draft("RGB", (256, 256))  # a JPEG decodes at a fraction of its size: enough to know it is whole
            image.load()
    except Exception:  # Pillow raises many kinds on bad bytes; any means "do not draw it"
        return None
    return size
