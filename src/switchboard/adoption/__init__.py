"""Adoption: taking a PBX's existing users under management as they are."""
