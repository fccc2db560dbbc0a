"""MiVoice Business features of a user: product, service category, programming, phones."""
