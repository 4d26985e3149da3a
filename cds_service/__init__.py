"""CDS Hooks 2.0 service for soft-tissue calcification on lower-limb radiographs."""

__version__ = "0.1.0"
