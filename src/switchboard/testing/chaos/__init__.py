"""The chaos run (`make chaos`, `python -m switchboard.testing.chaos`): users created and
configured through the REST API by concurrent clients while workers, the PBX simulator,
the API server and PostgreSQL are killed, stopped and slowed; then every invariant that
says "nothing was lost" is checked. See docs/reliability.md, section Chaos."""
