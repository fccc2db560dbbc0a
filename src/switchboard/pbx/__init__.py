"""PBX connectors: the interface the sync talks to, and its MiVB (gateway) implementation."""
