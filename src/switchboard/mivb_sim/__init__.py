"""mivb-sim: a simulator of the HTTP+JSON gateway that sits next to a MiVoice Business PBX.

It keeps one PBX's configuration, enforces the PBX rules the way a MiVB would, and can be
told to fail for tests. The protocol is documented in docs/mivb-sim.md.
"""
