"""Evaluation → CDS Hooks cards (summary, detail, suggestions with draft ServiceRequests)."""

from cds_service.cards.render import RenderedCard, render_cards

__all__ = ["RenderedCard", "render_cards"]
