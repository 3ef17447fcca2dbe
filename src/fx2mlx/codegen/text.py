"""Model-derived text made inert for ``model.py``: comments and docstrings.

Class names, module paths, commands and source lines come from the user's model and may hold
anything (quotes, newlines, NUL). Code text goes through ``literal()`` or the identifier
functions in ``names.py``; prose goes through these functions, and nothing else reaches the
file raw.
"""

from __future__ import annotations

import re

_SPACES = re.compile(r"\s+")


def plain(text: object) -> str:
    """``text`` as an exact ``str``: a ``str`` subclass can't bring its own ``__repr__``,
    ``__format__`` or ``__iter__`` into the generated file."""
    return str.__str__(text) if isinstance(text, str) else str.__str__(str(text))


def _escaped(ch: str) -> str:
    """``'\\n'`` -> the two characters ``\\n``: how ``repr`` would show the character."""
    return ascii(ch)[1:-1]


def inline_text(text: str) -> str:
    """One printable line: line breaks and control characters are shown as escapes (``\\n``),
    as ``repr`` would, so the reader still sees what the name really holds."""
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in plain(text))


def comment_text(text: str) -> str:
    """Text for a ``# comment``: one line, no control characters (a ``\\n`` or ``\\r`` would
    end the comment and let the rest run as code; a NUL would make the file unreadable)."""
    flat = "".join(ch if ch.isprintable() else " " for ch in plain(text))
    return _SPACES.sub(" ", flat).strip()


def docstring_text(text: str) -> str:
    """Text for the inside of a ``\"\"\"docstring\"\"\"``: backslashes and quotes are escaped, so
    the text can neither close the string nor escape its closing quotes; line breaks stay
    (docstrings have several lines) and other control characters become escapes."""
    out = []
    for ch in plain(text):
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n" or ch.isprintable():
            out.append(ch)
        else:
            out.append(_escaped(ch))
    return "".join(out)
