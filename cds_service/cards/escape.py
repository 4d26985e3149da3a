"""Text from the patient's record shown in a card is escaped: HTML and Markdown both.

The sandbox renders `detail` as GFM with raw HTML allowed, so report sentences and resource
displays must not be able to inject markup, links or images.
"""

from __future__ import annotations

# One table for both: a Markdown special gets a backslash, an HTML special its entity (the two
# sets share no character, so one pass equals escaping Markdown first and HTML after).
_ESCAPES = str.maketrans(
    {**{special: "\\" + special for special in "\\`*_{}[]()#+!|~"}, "&": "&amp;", "<": "&lt;", ">": "&gt;"}
)


def escape_text(text: str) -> str:
    """One line of patient text, safe inside Markdown and HTML."""
    return " ".join(text.split()).translate(_ESCAPES)
