"""Finds English message ids on a page shown in French (issue 10, item 7).

The message ids are those the code asks for today (`i18n_catalog.extract`), each turned
into a pattern: its literal words exactly, each %(name)s parameter standing for any value.
A message counts as French-and-English alike, and is not looked for, only when the French
catalogue translates it by itself (a code, a product name: "DN", "MiVoice Business"); one
with no French yet is looked for, so a page that shows it fails here too.

Where a message is looked for:

* one word and no parameter ("Users", "Delete"): only a whole piece of text (a text node
  or a label attribute) that is exactly that word, so data that contains the word (the
  PBX template "Entry User") is not taken for the message "User";
* anything longer: anywhere in a piece of text, on word boundaries.

What the page holds that is not ours is data and is never looked at: the PBX's own words
(the simulator speaks English), names, templates, e-mails. `ALLOWED` lists the few message
ids that legitimately appear in English on a French page, each with why.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html.parser import HTMLParser

from babel.messages.pofile import read_po

from switchboard import i18n_catalog

# Message ids a French page may show in English, with the reason.
ALLOWED: dict[str, str] = {
    # The language selector names each language in its own tongue, as selectors do.
    "English": "the selector's own name for English",
}
# Attributes whose text a person reads or hears.
READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
_PARAMETER = re.compile(r"%\((\w+)\)[sd]|%%")
_WORD = re.compile(r"[^\W\d_]{2,}")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


def normalize(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


class _Texts(HTMLParser):
    """Each text node and read attribute of a page, whitespace collapsed."""

    SKIPPED = {"script", "style", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self._skipping += 1
        for name, value in attrs:
            if value and (name in READ_ATTRIBUTES or (name == "value" and ("type", "submit") in attrs)):
                self.texts.append(normalize(value))

    def handle_endtag(self, tag):
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping and data.strip():
            self.texts.append(normalize(data))


def texts_of(html: str) -> list[str]:
    parser = _Texts()
    parser.feed(html)
    return parser.texts


def _literal(text: str) -> str:
    # Spaces collapsed as on the page, and optional (a value shown empty, a text cut
    # at a tag) so that they never hide a message.
    return " ?".join(re.escape(piece) for piece in _SPACES.sub(" ", text).split(" "))


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, bool, re.Pattern[str]], ...]:
    """(message id, whole text only, pattern) for every message looked for."""
    with i18n_catalog.po_path("fr").open("rb") as fh:
        french = read_po(fh, locale="fr")
    found = []
    for message in i18n_catalog.extract():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        entry = french.get(ids[0])
        strings = (entry.string if isinstance(entry.string, (list, tuple)) else (entry.string,)) if entry else ()
        for position, msgid in enumerate(ids):
            translated = strings[min(position, len(strings) - 1)] if strings else ""
            if msgid in ALLOWED or (translated and normalize(translated) == normalize(msgid)):
                continue
            literal = _PARAMETER.sub(" ", msgid)
            words = _WORD.findall(literal)
            if not words:
                continue  # "%(user)s: %(problem)s": nothing English in it
            parts, at = [], 0
            for match in _PARAMETER.finditer(msgid):
                parts.append(_literal(msgid[at:match.start()]))
                parts.append("%" if match.group(0) == "%%" else r".*?")
                at = match.end()
            parts.append(_literal(msgid[at:]))
            body = "".join(parts)
            whole_only = len(words) == 1 and not _PARAMETER.search(msgid)
            pattern = re.compile(rf"(?<![\w]){body}(?![\w])")
            found.append((msgid, whole_only, pattern))
    return tuple(found)


def english_messages(html: str) -> list[tuple[str, str]]:
    """(message id, the text it was found in) of every English message on the page."""
    leaks: list[tuple[str, str]] = []
    texts = texts_of(html)
    for msgid, whole_only, pattern in _patterns():
        for text in texts:
            if (pattern.fullmatch(text) if whole_only else pattern.search(text)):
                leaks.append((msgid, text))
                break
    return leaks
