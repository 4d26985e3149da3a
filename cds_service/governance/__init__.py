"""The governance view: what clinical governance reads to approve, watch and retire rules.

``summary.collect`` gathers the numbers (audit store + knowledge artifact); ``page.render_page``
turns them into a self-contained HTML page with inline SVG charts.
"""

from cds_service.governance.page import render_page
from cds_service.governance.summary import GovernanceSource, collect

__all__ = ["GovernanceSource", "collect", "render_page"]
