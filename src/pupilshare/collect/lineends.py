"""Line ends: CRLF, LF, CR-only and mixed files read as the same rows.

Schools' systems write CRLF (Windows), LF (Unix) and, from old Mac exports, CR alone;
a file edited in two tools can mix them. The engine's CSV reader takes LF or CRLF
but not CR alone or a mixture, so such a file is rewritten with LF line ends before
it is read. Only the line ends *between* fields change: a quoted value keeps its own
bytes (a CR or CRLF inside quotes is part of the value), so what loads is exactly
what was sent. Physical lines are kept one for one (each CR, LF or CRLF ends a
line), so ``file:line`` still points at the line a data manager sees in an editor.

The SHA-256 that identifies a return is always of the bytes as sent.
"""

from __future__ import annotations

QUOTE = b'"'


def kind(data: bytes) -> str:
    """``lf``, ``crlf``, ``cr`` or ``mixed`` (a file without any line end is ``lf``).

    Counted over the whole file, including breaks inside quoted values, with fast
    byte counts only.
    """
    cr = data.count(b"\r")
    if not cr:
        return "lf"
    lf = data.count(b"\n")
    crlf = data.count(b"\r\n")
    if crlf == cr == lf:
        return "crlf"
    if not lf:
        return "cr"
    return "mixed"


def needs_rewrite(data: bytes) -> bool:
    """True when the engine cannot read the line ends as they are."""
    return kind(data) in ("cr", "mixed")


def to_lf(data: bytes) -> bytes:
    """The file with every line end outside quoted values written as LF.

    Splitting on the quote character alternates outside/inside quoted text (an
    escaped quote ``""`` yields an empty outside piece), so the even pieces are the
    ones between fields. An unclosed quote leaves its tail inside, untouched, for
    the reader to report.
    """
    pieces = data.split(QUOTE)
    for i in range(0, len(pieces), 2):
        piece = pieces[i]
        if b"\r" in piece:
            pieces[i] = piece.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return QUOTE.join(pieces)
