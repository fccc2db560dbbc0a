"""Translations: English source strings, French catalogue, picked per request.

The .po catalogue is compiled in memory when first used, so there is no build step and no
binary file to keep in step with it.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from pathlib import Path
from typing import Callable

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from markupsafe import Markup

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
SUPPORTED = ("en", "fr")
DEFAULT = "en"
DOMAIN = "messages"


@lru_cache(maxsize=None)
def translations(language: str) -> NullTranslations:
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == DEFAULT or not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def negotiate(accept_language: str | None) -> str | None:
    """The first supported language of an Accept-Language header, honouring q-values."""
    if not accept_language:
        return None
    choices = []
    for position, part in enumerate(accept_language.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        choices.append((-quality, position, tag.split("-")[0]))
    for negative_quality, _, language in sorted(choices):
        if negative_quality < 0 and language in SUPPORTED:
            return language
    return None


def gettext_for(language: str) -> Callable[..., str]:
    """A plain gettext for Python code (messages, flash texts)."""
    return translations(language).gettext


def template_callables(language: str) -> dict[str, Callable]:
    """gettext/ngettext for Jinja in its "newstyle" form: translations are trusted markup,
    substituted values are escaped."""
    tr = translations(language)

    def gettext(message: str, **variables) -> Markup:
        return Markup(tr.gettext(message)) % variables

    def ngettext(singular: str, plural: str, num: int, **variables) -> Markup:
        variables.setdefault("num", num)
        return Markup(tr.ngettext(singular, plural, num)) % variables

    return {"gettext": gettext, "_": gettext, "ngettext": ngettext}


def N_(message: str) -> str:
    """Marks a message id for extraction where it is translated later (at render time)."""
    return message


# ------------------------------------------------------------------ composed messages

# Messages put together in English before anyone knows who will read them: what the PBX
# connector says went wrong is kept as text (in the sync state, the last connection test,
# the API's answers). Declared here, they are shown in the reader's language later.
_COMPOSED: dict[str, re.Pattern[str]] = {}
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%%")


def composed(message: str) -> str:
    """Declares `message` (a message id with %(name)s parameters, wrapped in N_ for the
    catalogue) as one that is stored already filled in, so `localize` can recognise it
    later; returns it unchanged."""
    parts, position = [], 0
    for match in _PLACEHOLDER.finditer(message):
        parts.append(re.escape(message[position:match.start()]))
        parts.append("%" if match.group(0) == "%%" else f"(?P<{match.group(1)}>.*)")
        position = match.end()
    parts.append(re.escape(message[position:]))
    _COMPOSED[message] = re.compile("".join(parts), re.DOTALL)
    return message


def localize(text: str, gettext: Callable[[str], str]) -> str:
    """A stored text in the reader's language when it is a declared composed message (its
    values, such as the PBX's own words, are kept as they are, or localized in turn when
    they are composed messages too); any other text as it is."""
    for message, pattern in _COMPOSED.items():
        match = pattern.fullmatch(text)
        if match is not None:
            values = {name: localize(value, gettext) for name, value in match.groupdict().items()}
            return gettext(message) % values if values else gettext(message)
    return text
