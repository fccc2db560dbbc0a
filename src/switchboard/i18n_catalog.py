"""The message catalogue: extract every message id, refresh the French .po, check it.

    python -m switchboard.i18n_catalog update   # refresh locale/messages.pot and merge it into fr
    python -m switchboard.i18n_catalog check    # exit 1 listing what is untranslated or broken

Message ids come from two kinds of source:

* Jinja templates (``**/templates/**/*.html``): ``_()``, ``gettext()``, ``ngettext()`` and
  ``{% trans %}``, read by Jinja's own Babel extractor with the console's settings.
* Python code, where a message id is a plain string literal handed to an error class,
  ``invalid()``, ``flash()``... (no gettext call: the text is translated when it is shown).
  A small AST reader finds them. It follows a name back to the string literals assigned to
  it in the same function (``message = "a" if x else "b"``; ``code, message = "c", "m"``),
  and follows a helper's parameter to the helper's callers (``_guard_self(ctx, user, "...")``
  passes its text on to ``Conflict``), so such helpers need no listing.

To teach it something new, edit the block "What to extract" just below: a keyword is
``name: (position, keyword_name)`` with the 1-based position of the message argument.
Subclasses of the error classes are found on their own (``class Gone(NotFound)``).
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract as babel_extract
from babel.messages.pofile import read_po, write_po

# ============================================================== What to extract

PACKAGE_DIR = Path(__file__).resolve().parent
LOCALE_DIR = PACKAGE_DIR / "locale"
DOMAIN = "messages"
LANGUAGES = ("fr",)  # English is the source language: it has no catalogue

# Folders searched for messages, and folder names skipped anywhere below them.
SOURCE_DIRS: tuple[Path, ...] = (PACKAGE_DIR,)
EXCLUDED_DIRS = frozenset({"mivb_sim", "testing", "migrations", "__pycache__", "static", "locale"})
TEMPLATE_DIR_NAME = "templates"  # *.html below a folder of this name are Jinja templates
TEMPLATE_SUFFIXES = (".html",)

# Python callables taking a message id as a plain string: name -> (1-based position, keyword).
# Classes deriving from ERROR_CLASSES are added automatically with position 2.
ERROR_CLASSES = ("ServiceError",)
PYTHON_KEYWORDS: dict[str, tuple[int, str | None]] = {
    "ServiceError": (2, "message"),
    "Unauthorized": (2, "message"),
    "Forbidden": (2, "message"),
    "NotFound": (2, "message"),
    "Conflict": (2, "message"),
    "PreconditionFailed": (2, "message"),
    "PayloadTooLarge": (2, "message"),
    "ValidationFailed": (2, "message"),
    "TooManyRequests": (2, "message"),
    "ErrorItem": (2, "message"),
    "invalid": (3, "message"),
    "flash": (2, "message"),
    "_": (1, None),
    "gettext": (1, None),
    "N_": (1, None),
    # Schema validators raise this with a message id; validation.py keeps it as such.
    "PydanticCustomError": (2, None),
}
# Plural keywords: name -> (position of singular, position of plural).
PYTHON_PLURAL_KEYWORDS: dict[str, tuple[int, int]] = {"ngettext": (1, 2)}
# Class attributes that hold a message id (the default message of an error class).
MESSAGE_ATTRIBUTES = frozenset({"title"})
# Tables of tuples holding message ids: variable name -> 1-based position in each tuple.
MESSAGE_TABLES: dict[str, int] = {"_MESSAGES": 2}

# Jinja: Babel's standard gettext keywords and the options the console's Environment uses
# (see console/web.py make_templates), so whitespace in {% trans %} blocks matches.
TEMPLATE_KEYWORDS = DEFAULT_KEYWORDS
TEMPLATE_OPTIONS = {"newstyle_gettext": "true", "trim_blocks": "true", "lstrip_blocks": "true",
                    "silent": "false"}
COMMENT_TAGS = ("Translators:",)

# ============================================================== Sources


def source_files() -> list[tuple[Path, str]]:
    """(path, "python" | "jinja") of every file messages are read from, in a stable order."""
    found: list[tuple[Path, str]] = []
    for root in SOURCE_DIRS:
        for path in sorted(root.rglob("*")):
            if not path.is_file():
                continue
            parts = path.relative_to(root).parts[:-1]
            if any(part in EXCLUDED_DIRS for part in parts):
                continue
            if path.suffix == ".py":
                found.append((path, "python"))
            elif path.suffix in TEMPLATE_SUFFIXES and TEMPLATE_DIR_NAME in parts:
                found.append((path, "jinja"))
    return found


def _location(path: Path) -> str:
    try:
        return path.relative_to(PACKAGE_DIR.parent).as_posix()
    except ValueError:
        return path.as_posix()


# ============================================================== Python extractor


@dataclass
class Found:
    lineno: int
    message: str | tuple[str, str]
    comments: list[str] = field(default_factory=list)


@dataclass
class Problem:
    location: str
    lineno: int
    text: str

    def __str__(self) -> str:
        return f"{self.location}:{self.lineno}: {self.text}"


def _name_of(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def _enclosing_function(node: ast.AST, parents: dict[ast.AST, ast.AST]):
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node
    return None


def _positional_params(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in func.args.posonlyargs + func.args.args]


def _is_method(func, parents) -> bool:
    return isinstance(parents.get(func), ast.ClassDef)


def _own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a scope, without descending into nested functions and classes."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def _assigned_values(scope: ast.AST, name: str) -> list[ast.expr]:
    """Expressions assigned to `name` in `scope` itself (tuple unpacking included)."""
    values: list[ast.expr] = []
    for node in _own_nodes(scope):
        if isinstance(node, ast.Assign):
            pairs = [(t, node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            pairs = [(node.target, node.value)]
        else:
            continue
        for target, value in pairs:
            values.extend(_match_target(target, value, name))
    return sorted(values, key=lambda v: (v.lineno, v.col_offset))


def _match_target(target: ast.expr, value: ast.expr, name: str) -> list[ast.expr]:
    if isinstance(target, ast.Name):
        return [value] if target.id == name else []
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
            and len(target.elts) == len(value.elts):
        out: list[ast.expr] = []
        for t, v in zip(target.elts, value.elts):
            out.extend(_match_target(t, v, name))
        return out
    return []


class _PythonModule:
    """One parsed Python file and what it says about messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = _location(path)
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        self.parents = _parents(self.tree)

    def error_subclasses(self, known: set[str]) -> set[str]:
        found = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ClassDef) and any(_name_of(b) in known for b in node.bases):
                found.add(node.name)
        return found

    def extract(self, keywords: dict[str, tuple[int, str | None]], error_classes: set[str],
                derived: dict[str, tuple[int, str | None]], problems: list[Problem]) -> list[Found]:
        """Messages of this file; adds helpers that pass a parameter on as a message to
        `derived` (the caller repeats until nothing new is derived)."""
        found: list[Found] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                found.extend(self._from_call(node, keywords, derived, problems))
            elif isinstance(node, ast.ClassDef) and node.name in error_classes:
                found.extend(self._from_class(node))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                found.extend(self._from_table(node))
        return found

    # -- calls
    def _from_call(self, call: ast.Call, keywords, derived, problems) -> Iterator[Found]:
        name = _name_of(call.func)
        if name in PYTHON_PLURAL_KEYWORDS:
            first, second = PYTHON_PLURAL_KEYWORDS[name]
            args = call.args
            if len(args) >= max(first, second) and all(
                    isinstance(args[i - 1], ast.Constant) and isinstance(args[i - 1].value, str)
                    for i in (first, second)):
                yield Found(call.lineno, (args[first - 1].value, args[second - 1].value))
            return
        if name not in keywords:
            return
        position, keyword = keywords[name]
        arg: ast.expr | None = None
        if len(call.args) >= position:
            arg = call.args[position - 1]
            if isinstance(arg, ast.Starred):
                return
        elif keyword:
            arg = next((k.value for k in call.keywords if k.arg == keyword), None)
        if arg is None:
            return
        for lineno, text in self._strings(arg, call, derived, problems, depth=0):
            yield Found(lineno, text)

    def _strings(self, expr: ast.expr, at: ast.AST, derived, problems, depth: int) -> Iterator[tuple[int, str]]:
        if depth > 5:
            return
        if isinstance(expr, ast.Constant):
            if isinstance(expr.value, str) and expr.value:
                yield expr.lineno, expr.value
        elif isinstance(expr, ast.IfExp):
            yield from self._strings(expr.body, at, derived, problems, depth + 1)
            yield from self._strings(expr.orelse, at, derived, problems, depth + 1)
        elif isinstance(expr, ast.BoolOp):
            for value in expr.values:
                yield from self._strings(value, at, derived, problems, depth + 1)
        elif isinstance(expr, ast.JoinedStr):
            problems.append(Problem(self.location, expr.lineno,
                                    "an f-string is used as a message id: pass %(name)s parameters instead"))
        elif isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Mod)) and any(
                isinstance(side, ast.Constant) and isinstance(side.value, str) for side in (expr.left, expr.right)):
            problems.append(Problem(self.location, expr.lineno,
                                    "a message id is built with + or %: pass %(name)s parameters instead"))
        elif isinstance(expr, ast.Name):
            func = _enclosing_function(at, self.parents)
            scope: ast.AST = func if func is not None else self.tree
            values = _assigned_values(scope, expr.id)
            if func is not None and not values and expr.id not in _positional_params(func):
                values = _assigned_values(self.tree, expr.id)
            for value in values:
                yield from self._strings(value, value, derived, problems, depth + 1)
            if func is not None and not _is_method(func, self.parents):
                params = _positional_params(func)
                if expr.id in params and func.name not in derived:
                    derived[func.name] = (params.index(expr.id) + 1, expr.id)

    # -- class attributes
    def _from_class(self, cls: ast.ClassDef) -> Iterator[Found]:
        for stmt in cls.body:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    for attribute in MESSAGE_ATTRIBUTES:
                        for value in _match_target(target, stmt.value, attribute):
                            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                                yield Found(value.lineno, value.value)

    # -- tables of (code, message) tuples
    def _from_table(self, node: ast.Assign | ast.AnnAssign) -> Iterator[Found]:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if not (isinstance(target, ast.Name) and target.id in MESSAGE_TABLES):
                continue
            position = MESSAGE_TABLES[target.id]
            if not isinstance(node.value, ast.Dict):
                continue
            for value in node.value.values:
                item = value.elts[position - 1] if isinstance(value, ast.Tuple) and len(value.elts) >= position \
                    else value
                if isinstance(item, ast.Constant) and isinstance(item.value, str):
                    yield Found(item.lineno, item.value)


def extract_python(paths: Iterable[Path], problems: list[Problem] | None = None) -> list[tuple[str, Found]]:
    """(location, message) for every message id in these Python files."""
    problems = problems if problems is not None else []
    modules = [_PythonModule(path) for path in paths]
    error_classes = set(ERROR_CLASSES)
    while True:  # subclasses of subclasses, across modules
        more = set().union(*(m.error_subclasses(error_classes) for m in modules)) - error_classes
        if not more:
            break
        error_classes |= more
    keywords = dict(PYTHON_KEYWORDS)
    for name in error_classes:
        keywords.setdefault(name, (2, "message"))
    derived: dict[str, tuple[int, str | None]] = {}
    while True:  # helpers that hand a parameter on as a message, and helpers of helpers
        before = dict(derived)
        run_problems: list[Problem] = []
        results = [(m.location, f) for m in modules
                   for f in m.extract({**derived, **keywords}, error_classes, derived, run_problems)]
        if derived == before:
            problems.extend(run_problems)
            return results


# ============================================================== Catalogue


_HEADER = """\
# {title}
# Generated by `make messages` (python -m switchboard.i18n_catalog update).
#"""


def _new_catalog(locale: str | None = None) -> Catalog:
    title = (f"{Locale.parse(locale).english_name} translations of the Switchboard console: "
             "translate here, keep every %(name)s placeholder."
             if locale else "Message ids of the Switchboard console. Do not edit: regenerate it.")
    return Catalog(locale=locale, domain=DOMAIN, header_comment=_HEADER.format(title=title),
                   project="Switchboard", version="1", copyright_holder="Switchboard",
                   msgid_bugs_address="", fuzzy=False, charset="utf-8")


def extract(problems: list[Problem] | None = None) -> Catalog:
    """Every message id of the templates and the Python code, as a template catalogue."""
    catalog = _new_catalog()
    files = source_files()
    python_files = [path for path, kind in files if kind == "python"]
    by_file: dict[str, list[tuple[int, str | tuple[str, str], list[str], str | None]]] = {}
    for location, found in extract_python(python_files, problems):
        by_file.setdefault(location, []).append((found.lineno, found.message, found.comments, None))
    for path, kind in files:
        if kind != "jinja":
            continue
        with path.open("rb") as fh:
            by_file[_location(path)] = list(babel_extract(
                "jinja2.ext:babel_extract", fh, keywords=TEMPLATE_KEYWORDS, comment_tags=COMMENT_TAGS,
                options=TEMPLATE_OPTIONS, strip_comment_tags=True))
    for path, _kind in files:
        location = _location(path)
        for lineno, message, comments, context in sorted(by_file.get(location, []), key=lambda r: r[0]):
            catalog.add(message, None, [(location, lineno)], auto_comments=comments, context=context)
    return catalog


def pot_path() -> Path:
    return LOCALE_DIR / f"{DOMAIN}.pot"


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(path: Path, locale: str | None = None) -> Catalog | None:
    if not path.exists():
        return None
    with path.open("rb") as fh:
        return read_po(fh, locale=locale, domain=DOMAIN)


_VOLATILE_HEADER = re.compile(rb'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"\n', re.MULTILINE)


def _write_if_changed(path: Path, catalog: Catalog, **options) -> bool:
    """Write the catalogue unless only its dates would change (keeps diffs quiet)."""
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, include_lineno=False, **options)
    new = buffer.getvalue()
    if path.exists() and _VOLATILE_HEADER.sub(b"", path.read_bytes()) == _VOLATILE_HEADER.sub(b"", new):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(new)
    return True


def update() -> list[str]:
    """Refresh the template and merge it into each language; returns what changed."""
    problems: list[Problem] = []
    template = extract(problems)
    changed = []
    if _write_if_changed(pot_path(), template):
        changed.append(str(pot_path()))
    for language in LANGUAGES:
        catalog = _read(po_path(language), language) or _new_catalog(language)
        catalog.update(template, update_header_comment=False)
        catalog.obsolete.clear()  # gone from the code: gone from the catalogue
        if _write_if_changed(po_path(language), catalog, ignore_obsolete=True):
            changed.append(str(po_path(language)))
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    return changed


# ============================================================== Checks

_PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]*)\))?(?P<spec>[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[a-zA-Z%])")


def placeholders(text: str) -> list[str]:
    """The %(name)s-style placeholders of a text, sorted ("%%" is not one)."""
    return sorted(f"%({m['name']}){m['spec']}" if m["name"] is not None else f"%{m['spec']}"
                  for m in _PLACEHOLDER.finditer(text) if m["spec"] != "%")


class _AnyValue(dict):
    def __missing__(self, key):
        return 1


def _formats(text: str) -> bool:
    """Whether `text % {...}` works (the console %-formats every message, even without
    parameters, so a lone "%" breaks the page)."""
    try:
        text % _AnyValue()
    except (ValueError, TypeError, KeyError):
        return False
    return True


def _as_tuple(value) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def translation_problems(language: str = "fr", template: Catalog | None = None) -> list[str]:
    """One line per message id (from the code as it is now) that has no usable
    translation: missing, empty, fuzzy, or with different placeholders."""
    template = template if template is not None else extract()
    catalog = _read(po_path(language), language)
    lines: list[str] = []
    for message in template:
        if not message.id:
            continue
        ids = _as_tuple(message.id)
        shown = " | ".join(ids)
        entry = catalog.get(ids[0], context=message.context) if catalog is not None else None
        if entry is None:
            lines.append(f"missing translation: {shown!r}")
            continue
        strings = _as_tuple(entry.string)
        if entry.fuzzy:
            lines.append(f"fuzzy translation: {shown!r}")
            continue
        if len(ids) > 1 and (len(strings) != catalog.num_plurals or not entry.pluralizable):
            lines.append(f"needs {catalog.num_plurals} plural forms: {shown!r}")
            continue
        if not all(strings):
            lines.append(f"missing translation: {shown!r}")
            continue
        if len(ids) == 1:
            if placeholders(strings[0]) != placeholders(ids[0]):
                lines.append(f"placeholders differ: {ids[0]!r} -> {strings[0]!r}")
                continue
        else:
            allowed = set(placeholders(ids[0])) | set(placeholders(ids[1]))
            used = [set(placeholders(form)) for form in strings]
            if not all(u <= allowed for u in used) or set().union(*used) != allowed:
                lines.append(f"placeholders differ: {shown!r} -> {' | '.join(strings)!r}")
                continue
        if all(_formats(i) for i in ids) and not all(_formats(s) for s in strings):
            lines.append(f"translation breaks %-formatting (write a literal % as %%): {shown!r}")
    return lines


def missing_translations(language: str = "fr") -> list[str]:
    """Alias of translation_problems, named for the test."""
    return translation_problems(language)


def check() -> int:
    problems: list[Problem] = []
    template = extract(problems)
    lines = [str(p) for p in problems]
    for language in LANGUAGES:
        lines += [f"[{language}] {line}" for line in translation_problems(language, template)]
    for line in lines:
        print(line)
    if lines:
        print(f"{len(lines)} problem(s). Run `make messages`, translate the new entries in "
              f"{', '.join(_location(po_path(lang)) for lang in LANGUAGES)}, remove their fuzzy flags.",
              file=sys.stderr)
        return 1
    print(f"{len(template)} messages, all translated into {', '.join(LANGUAGES)}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switchboard.i18n_catalog", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("update", "check", "list"),
                        help="update: refresh the .pot and merge it into each .po; check: report untranslated "
                             "messages; list: print every extracted message id")
    args = parser.parse_args(argv)
    if args.command == "update":
        changed = update()
        print("\n".join(f"wrote {path}" for path in changed) or "catalogues already up to date")
        return 0
    if args.command == "list":
        for message in extract():
            if message.id:
                print(" | ".join(_as_tuple(message.id)), "  #", ", ".join(loc for loc, _ in message.locations))
        return 0
    return check()


if __name__ == "__main__":
    sys.exit(main())
