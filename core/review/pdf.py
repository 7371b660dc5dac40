"""The PDF report of either study: its HTML report, laid out on paper by WeasyPrint.

Radiologists print and archive reports, so each study's HTML report is also offered as a
PDF rendered from **the same HTML string**: nothing is drawn twice, and whatever the HTML
report leaves out (identifiers, unredacted pixels) the PDF leaves out too.

Why WeasyPrint rather than headless Chromium's print-to-PDF: it renders in process from a
pinned PyPI wheel on the machine that runs ``make run`` (Chromium is only installed by
``make test``'s set-up); it reads CSS paged media, so page size, margins and page numbers
are one stylesheet; and its URL fetcher can be limited to ``data:`` URIs, so a report can
never make the renderer read a local file or the network. It needs the system's Pango
(Debian ``libpango-1.0-0``, ``libpangoft2-1.0-0``); where that is missing,
:func:`pdf_unavailable` says so and the pages show that line instead of the button.

The print stylesheet goes on top of the report's own: the page box (A4, or Letter with
``REVIEW_PDF_PAGE=Letter``), page numbers, the report's notice (``.notice``, e.g.
"synthetic — not for clinical use") repeated in every page's footer, images kept inside
the page, wide tables allowed to break long values rather than run off the paper, and no
table row or picture split between pages.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from typing import Literal, cast, get_args

__all__ = ["PAGE_ENV", "PageSize", "PdfUnavailable", "page_size", "pdf_unavailable", "html_to_pdf"]

logger = logging.getLogger(__name__)
# WeasyPrint reports each rendering step at INFO; a log at INFO wants the app's lines.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

PageSize = Literal["A4", "Letter"]
#: Environment variable choosing the paper size of every PDF report (default A4).
PAGE_ENV = "REVIEW_PDF_PAGE"

_PRINT_CSS = """
@page {{
  size: {size};
  margin: 14mm 12mm 16mm;
  @bottom-left {{ content: string(notice); font: 8pt sans-serif; color: #8a5a00; }}
  @bottom-right {{ content: "Page " counter(page) " of " counter(pages);
                   font: 8pt sans-serif; color: #556; }}
}}
html, body {{ margin: 0; max-width: none; }}
.notice {{ string-set: notice content(text); }}
img {{ max-width: 100%; max-height: 200mm; height: auto; }}
table.grid {{ table-layout: fixed; }}
table:has(th:nth-child(9)) td {{ overflow-wrap: anywhere; }}
img, tr, .notice, .bar {{ break-inside: avoid; }}
h1, h2, table.grid tr:not(:has(img)) {{ break-after: avoid; }}
"""

#: WeasyPrint shares Pango's font map within a process: one render at a time.
_RENDER_LOCK = threading.Lock()


class PdfUnavailable(RuntimeError):
    """The PDF renderer cannot run here (WeasyPrint or the system's Pango is missing)."""


@functools.cache
def pdf_unavailable() -> str | None:
    """``None`` when PDFs can be rendered here, else one line saying why not and what to
    install. Checked once per process: importing WeasyPrint loads Pango."""
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        return "PDF reports need WeasyPrint: pip install -r requirements.txt."
    except OSError as exc:  # WeasyPrint is installed but cannot load Pango / GObject
        logger.warning("WeasyPrint cannot load its system libraries: %s", exc)
        return (
            "PDF reports need the system's Pango library "
            "(Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0)."
        )
    finally:
        _keep_truncated_images_refused()
    return None


def _keep_truncated_images_refused() -> None:
    """Undo what importing WeasyPrint does to the whole process.

    ``weasyprint.images`` sets Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES = True`` at
    import. In this app that would make intake decode a truncated upload into a half-grey
    view instead of reporting "the JPEG is truncated". Our reports embed only complete PNGs
    we encoded ourselves, so WeasyPrint never needs the flag."""
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False


def page_size() -> PageSize:
    """The paper size from :data:`PAGE_ENV` (``A4`` or ``Letter``, any case); A4 when it
    is unset, and A4 with a warning when it names something else."""
    raw = os.environ.get(PAGE_ENV, "A4").strip()
    sizes = {s.lower(): s for s in get_args(PageSize)}
    if raw.lower() not in sizes:
        logger.warning("%s=%r is not one of %s: using A4", PAGE_ENV, raw, get_args(PageSize))
        return "A4"
    return cast(PageSize, sizes[raw.lower()])


def html_to_pdf(html: str, page: PageSize | None = None) -> bytes:
    """``html`` (a self-contained report: images as ``data:`` URIs, inline CSS) as PDF
    bytes on ``page``-sized paper (default :func:`page_size`), with page numbers.

    Any URL other than a ``data:`` URI is refused, not fetched. ``PdfUnavailable`` where
    the renderer cannot run; ``ValueError`` for a page size other than A4 or Letter.
    """
    size = page_size() if page is None else page
    if size not in get_args(PageSize):
        raise ValueError(f"page size {size!r}: expected one of {get_args(PageSize)}")
    reason = pdf_unavailable()
    if reason is not None:
        raise PdfUnavailable(reason)
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    with _RENDER_LOCK:
        document = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"}))
        pdf = document.write_pdf(
            stylesheets=[CSS(string=_PRINT_CSS.format(size=size))], presentational_hints=True
        )
    if pdf is None:  # write_pdf returns None only when given a target
        raise PdfUnavailable("WeasyPrint returned no PDF")
    return pdf
