"""Switchboard: an open console and REST API for MiVoice Business features."""

__version__ = "0.1.0"
