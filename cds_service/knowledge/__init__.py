"""The knowledge artifact: versioned clinical content as data, validated once at start-up."""

from cds_service.knowledge.model import Artifact, ArtifactError, RuleDefinition, load_artifact

__all__ = ["Artifact", "ArtifactError", "RuleDefinition", "load_artifact"]
