"""The server-rendered console: shell, sign-in, navigation, shared page helpers."""
