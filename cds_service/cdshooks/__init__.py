"""The CDS Hooks 2.0 protocol as data: requests, responses, prefetch, output guard.

Knows nothing about calcium.
"""
