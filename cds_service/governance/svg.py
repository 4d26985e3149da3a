"""Small inline-SVG charts, drawn as text: no plotting library, no script, no external asset.

Every chart names what it shows in words (a label beside each bar, the number on it, a
``<title>`` for screen readers), so that colour only repeats what the text already says. Every
piece of text that reaches the markup goes through ``esc``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif"
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#d9dee3"
TARGET = "#b3261e"


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def number(value: float) -> str:
    """Counts as integers, measures with at most one decimal."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    colour: str
    note: str = ""  # words after the number, e.g. "(42%)" or "over target"


def _svg(width: int, height: int, title: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="{FONT}"><title>{esc(title)}</title>{body}</svg>'
    )


def _text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    size: int = 13,
    colour: str = INK,
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'font-weight="{weight}" fill="{colour}">{esc(content)}</text>'
    )


def horizontal_bars(
    bars: Sequence[Bar],
    *,
    title: str,
    unit: str = "",
    target: float | None = None,
    target_label: str = "",
    width: int = 760,
    label_width: int = 190,
) -> str:
    """One bar per row, its label on the left and its number on the right; an optional target line."""
    row, top = 30, 26 if target is not None else 8
    plot_left, plot_width = label_width, width - label_width - 170
    height = top + row * max(1, len(bars)) + 8
    largest = max([bar.value for bar in bars] + [target or 0.0, 1.0])
    scale = plot_width / (largest * (1.1 if target is not None else 1.0))
    parts: list[str] = []  # the target line first, so that the bars' numbers are drawn over it
    if target is not None:
        x = plot_left + target * scale
        parts += [
            f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 4}" stroke="{TARGET}" '
            f'stroke-width="2" stroke-dasharray="6 4"/>',
            _text(x, 14, target_label, anchor="middle", size=12, colour=TARGET, weight="600"),
        ]
    for index, bar in enumerate(bars):
        y = top + index * row
        length = max(bar.value * scale, 2.0 if bar.value else 0.0)
        value_text = f"{number(bar.value)}{unit} {bar.note}".strip()
        parts += [
            _text(plot_left - 10, y + 19, bar.label, anchor="end"),
            f'<rect x="{plot_left}" y="{y + 5}" width="{length:.1f}" height="20" rx="2" '
            f'fill="{bar.colour}"><title>{esc(bar.label)}: {esc(value_text)}</title></rect>',
            f'<rect x="{plot_left + length + 4:.1f}" y="{y + 5}" width="{8 * len(value_text) + 8}" '
            'height="20" fill="#fff" opacity="0.85"/>',
            _text(plot_left + length + 8, y + 19, value_text, weight="600"),
        ]
    return _svg(width, height, title, "".join(parts))


@dataclass(frozen=True)
class Strip:
    """One measure across the weeks: a row of the weekly chart."""

    label: str
    values: Sequence[int]
    colour: str
    hatched: bool = False  # silent would-fire: counted, never shown to a clinician


def weekly_strips(
    weeks: Sequence[str],
    strips: Sequence[Strip],
    *,
    title: str,
    chart_id: str,
    width: int = 1040,
    label_width: int = 170,
) -> str:
    """Small multiples: one row of bars per measure, one column per ISO week, numbers on the bars.

    All rows share one scale, so that cards shown can be compared with firings and overrides
    with acceptances by eye. Each row is named on its left: no legend to decode.
    """
    header, row, bar_room = 26, 52, 34
    column = (width - label_width) / max(1, len(weeks))
    bar_width = min(44.0, column * 0.6)
    largest = max([max(strip.values, default=0) for strip in strips] + [1])
    hatch_id = f"{chart_id}-hatch"
    parts = [
        f'<defs><pattern id="{esc(hatch_id)}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eceff1"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="#6b7780" stroke-width="3"/></pattern></defs>'
    ]
    for index, week in enumerate(weeks):
        parts.append(
            _text(label_width + column * (index + 0.5), 16, week, anchor="middle", size=12, colour=MUTED)
        )
    for row_index, strip in enumerate(strips):
        base = header + row_index * row + row - 8
        fill = f"url(#{esc(hatch_id)})" if strip.hatched else strip.colour
        parts += [
            f'<line x1="{label_width}" y1="{base}" x2="{width}" y2="{base}" stroke="{GRID}"/>',
            _text(label_width - 12, base - 8, strip.label, anchor="end", weight="600"),
        ]
        for index, value in enumerate(strip.values):
            height = value / largest * bar_room if value else 0.0
            x = label_width + column * (index + 0.5)
            parts.append(
                f'<rect x="{x - bar_width / 2:.1f}" y="{base - height:.1f}" width="{bar_width:.1f}" '
                f'height="{height:.1f}" fill="{fill}" stroke="{strip.colour}" stroke-width="1">'
                f"<title>{esc(strip.label)}, {esc(weeks[index])}: {value}</title></rect>"
            )
            parts.append(
                _text(
                    x, base - height - 3, str(value), anchor="middle", size=11, colour=INK if value else MUTED
                )
            )
    return _svg(width, header + row * len(strips) + 4, title, "".join(parts))
