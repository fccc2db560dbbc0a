"""Pushing desired state to the PBX: jobs, workers, sync state, drift."""
