"""Text from the patient's record shown in a card is escaped: HTML and Markdown both.

The sandbox renders `detail` as GFM with raw HTML allowed, so report sentences and resource
displays must not be able to inject markup, links or images.
"""

from __future__ import annotations

import html
import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_WHITESPACE = re.compile(r"\s+")


def escape_text(text: str) -> str:
    """One line of patient text, safe inside Markdown and HTML."""
    flat = _WHITESPACE.sub(" ", text).strip()
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", flat), quote=False)
