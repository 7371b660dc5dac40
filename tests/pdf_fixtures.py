"""Reading a PDF report back in tests: its text and its embedded images (pypdf)."""

from __future__ import annotations

import io

from PIL import Image
from pypdf import PdfReader


def pdf_text(pdf: bytes) -> tuple[PdfReader, str]:
    """The parsed PDF and the text of all its pages, whitespace collapsed (lines wrap)."""
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    return reader, text


def pdf_image_names(reader: PdfReader) -> set[str]:
    """The embedded images' resource names, without decoding them."""
    return {key for page in reader.pages for key in page.images.keys()}


def pdf_images(reader: PdfReader) -> dict[str, Image.Image]:
    """Every embedded image once, by resource name: WeasyPrint gives each page the whole
    document's image resources, and pypdf takes about 0.1 s to decode one."""
    found: dict[str, Image.Image] = {}
    for page in reader.pages:
        for key in page.images.keys():
            if key not in found:
                found[key] = page.images[key].image
    return found
