"""Operator tasks over the whole database: secret key rotation, backups and restores."""
