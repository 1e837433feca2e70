"""HTML to PDF/A with WeasyPrint: what a PDF worker process runs, and nothing else.

A worker process imports this module alone (WeasyPrint, no database, no storage), so it starts
in half a second, and keeps one font configuration and one parsed stylesheet for every document
it renders (``warm`` builds them as the process starts, before the first document arrives).
The documents' look (``STYLE``) lives here for the same reason.
"""

from __future__ import annotations

import io
from typing import Any

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

VARIANT = "pdf/a-3b"

STYLE = """
@page { size: letter; margin: 16mm 16mm 18mm 16mm;
        @bottom-left { font-size: 8pt; color: #444; }
        @bottom-right { font-size: 9pt; font-weight: bold; } }
html { font-family: "DejaVu Sans", sans-serif; font-size: 9pt; line-height: 1.3; }
body { margin: 0; }
header { border-bottom: 1.5pt solid #000; padding-bottom: 3pt; margin-bottom: 6pt; }
header .agency { font-size: 11pt; font-weight: bold; }
h1 { font-size: 12pt; margin: 4pt 0; }
h2 { font-size: 10.5pt; margin: 10pt 0 4pt; border-bottom: 0.5pt solid #888; }
table.facts { border-collapse: collapse; width: 100%; table-layout: fixed; }
table.facts th { text-align: left; width: 28%; vertical-align: top; padding: 1pt 4pt 1pt 0; font-weight: bold; }
table.facts td { padding: 1pt 0; overflow-wrap: break-word; }
.node, .version, .note { white-space: pre-wrap; overflow-wrap: break-word; }
.node { break-inside: avoid; }
.node { border-left: 1pt solid #bbb; padding: 2pt 0 2pt 5pt; margin: 3pt 0; }
.node.focus { border-left: 3pt solid #000; background: #fff4c2; }
.meta { color: #333; font-size: 8pt; }
.mark { font-weight: bold; color: #a00000; }
.version { border: 0.5pt solid #999; padding: 3pt 5pt; margin: 4pt 0; }
.evidence { font-size: 7.5pt; color: #333; }
.note { font-style: italic; }
.medium { break-inside: avoid; margin: 4pt 0; }
.medium img { display: block; max-width: 100%; max-height: 190mm; width: auto; height: auto; margin: 3pt 0; }
"""
CONTENT_WIDTH_MM, CONTENT_HEIGHT_MM, IMAGE_MAX_HEIGHT_MM = 215.9 - 32, 279.4 - 34, 190  # STYLE's page and images


def image_share(width: int, height: int) -> float:
    """The share of a page's height that STYLE draws an image of ``width`` x ``height`` pixels in:
    CSS pixels (1/96 inch), scaled down to fit the page's width and 190 mm, with its margins.

    >>> round(image_share(800, 600), 2)  # 212 mm wide: drawn at 184 x 138 mm
    0.57
    """
    width_mm, height_mm = max(width, 1) * 25.4 / 96, max(height, 1) * 25.4 / 96
    drawn = height_mm * min(1, CONTENT_WIDTH_MM / width_mm, IMAGE_MAX_HEIGHT_MM / height_mm)
    return (drawn + 6 * 25.4 / 72) / CONTENT_HEIGHT_MM  # 3 pt above and below


def url_fetcher() -> Any:
    """WeasyPrint's fetcher for records: only ``data:`` URLs (captured images) are read, nothing from a network."""
    from weasyprint import urls

    if hasattr(urls, "URLFetcher"):  # WeasyPrint 66 and later
        return urls.URLFetcher(allowed_protocols={"data"})

    def data_only(url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith("data:"):
            return urls.default_url_fetcher(url, *args, **kwargs)
        raise ValueError("a record's PDF is drawn from the archive only; nothing is fetched")

    return data_only


def subsets_fonts_slowly() -> bool:
    """True when WeasyPrint lacks HarfBuzz's subsetter and falls back to fontTools: about 5x the CPU a document
    (subsetting becomes ~80% of the work), so the operator should install ``libharfbuzz-subset0``."""
    from weasyprint.text import ffi

    return getattr(ffi, "harfbuzz_subset", True) is None


_RENDERER: tuple[FontConfiguration, CSS, Any] | None = None


def warm() -> None:
    """Set up fonts, stylesheet and fetcher for this process (once; a worker's initializer)."""
    global _RENDERER
    if _RENDERER is None:
        fonts = FontConfiguration()
        _RENDERER = (fonts, CSS(string=STYLE, font_config=fonts), url_fetcher())


def render(markup: str) -> tuple[bytes, int]:
    """One document's HTML as PDF/A bytes, and its page count."""
    warm()
    assert _RENDERER is not None
    fonts, style, fetcher = _RENDERER
    rendered = HTML(string=markup, url_fetcher=fetcher).render(stylesheets=[style], font_config=fonts)
    out = io.BytesIO()
    rendered.write_pdf(out, pdf_variant=VARIANT)
    return out.getvalue(), len(rendered.pages)
