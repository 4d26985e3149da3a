"""`cds-service rules`: the knowledge artifact as governance reads it."""

from __future__ import annotations

from cds_service.knowledge.model import Artifact


def describe_artifact(artifact: Artifact) -> str:
    lines = [
        f"{artifact.title}",
        f"  id {artifact.id}  version {artifact.version}  status {artifact.status}",
        f"  canonical {artifact.canonical}",
        f"  steward {artifact.steward}",
        f"  approved {artifact.approval_date}  last review {artifact.last_review_date}  "
        f"expires {artifact.expiry_date}",
        f"  content hash sha256:{artifact.content_hash}",
        "",
        "Rules",
    ]
    for rule_id, rule in artifact.rules.items():
        lines.append(f"  {rule_id:<22} {rule.version:<8} {rule.status:<8} {rule.title}")
        lines += [f"  {'':<22} evidence: {artifact.evidence_by_id(ref).title}" for ref in rule.evidence]
    lines += ["", "Evidence"]
    lines += [f"  [{e.id}] {e.title} <{e.url}>" for e in artifact.evidence]
    return "\n".join(lines)
