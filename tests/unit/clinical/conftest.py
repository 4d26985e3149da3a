from __future__ import annotations

import pytest

from cds_service.knowledge import Artifact, load_artifact
from cds_service.knowledge.terminology import Terminology


@pytest.fixture(scope="session")
def artifact() -> Artifact:
    return load_artifact()


@pytest.fixture(scope="session")
def terminology(artifact: Artifact) -> Terminology:
    return artifact.terminology
