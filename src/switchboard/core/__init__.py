"""The lowest layer: database, errors, context, validation, security, configuration,
translations, the unit of work and the hook registry. Nothing here imports a capability."""
