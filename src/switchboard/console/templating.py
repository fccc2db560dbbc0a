"""The console's Jinja2 environment: where templates are, and the filters they share."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape

from switchboard.core.validation import display_phone_number, example_phone_number

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [PACKAGE_DIR / "console" / "templates", PACKAGE_DIR / "accounts" / "templates",
                 PACKAGE_DIR / "mivb" / "templates", PACKAGE_DIR / "imports" / "templates",
                 PACKAGE_DIR / "adoption" / "templates",
                 PACKAGE_DIR / "sync" / "templates"]


def make_templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(p) for p in TEMPLATE_DIRS]),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_null_translations(newstyle=True)
    env.filters["urlquote"] = lambda value: quote(str(value), safe="")
    env.filters["zip_self"] = lambda items: [(str(item), str(item)) for item in items]  # option value = text
    env.globals["field_id"] = field_dom_id
    # Phone numbers as people read them: national in the account's country, else international.
    env.filters["tel"] = display_phone_number
    env.globals["phone_example"] = example_phone_number
    return env


def field_dom_id(form_id: str, field: str) -> str:
    """The id of a form's input: error lists link to it ("programming.user_pin" in the
    form "programming" is field-programming-user_pin)."""
    if field.startswith(form_id + "."):
        field = field[len(form_id) + 1:]
    return f"field-{form_id}-{field.replace('.', '-')}"
