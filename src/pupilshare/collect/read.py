"""The bytes of a submitted file: hash, encoding and header, before the engine reads it.

These checks are the ones a CSV reader cannot make for us: whether the file is text at
all, whether it is UTF-8 (a Windows-1252 or Latin-1 file is rejected with the likely
encoding named, never transcoded), and whether its header is the dataset it claims to
be. They look at the whole file only through fast byte operations (hash, ``isascii``,
``count``), so a large file costs little more than reading it.
"""

from __future__ import annotations

import csv
import hashlib
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pupilshare import catalogue
from pupilshare.catalogue import Dataset
from pupilshare.collect import lineends

BOM = b"\xef\xbb\xbf"
THREADED_HASH = 4_000_000  # bytes; hashing a larger file overlaps with its staging
_HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collect-sha256")
_BLANK = re.compile(rb"^\r?$", re.MULTILINE)
_CONTROLS = bytes(c for c in range(1, 32) if c not in (9, 10, 13))
# Friendly names for what charset-normalizer calls the single-byte Western encodings.
_ENCODING_NAMES = {
    "cp1252": "Windows-1252",
    "latin_1": "Latin-1 (ISO-8859-1)",
    "iso8859_15": "Latin-9 (ISO-8859-15)",
    "cp1250": "Windows-1250",
    "cp1257": "Windows-1257",
    "mac_roman": "Mac Roman",
    "utf_16": "UTF-16",
}


@dataclass(frozen=True)
class Problem:
    """One problem with a file: ``line`` is the physical line (header = 1; 0 = the
    whole file). ``reason`` never carries a pupil's value."""

    file: str
    line: int
    field: str
    severity: str  # "error" or "warning"
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.field}:{self.reason}"


@dataclass
class FileCheck:
    """What the byte-level checks found, and what the engine needs to read the file."""

    path: Path
    display: str
    digest: Future[str] | str
    size: int
    newlines: int
    ends_with_newline: bool
    problems: list[Problem] = field(default_factory=list)
    data: bytes = b""  # as the engine reads it: line ends outside quotes made LF
    rewritten: bool = False  # True when ``data`` differs from the bytes sent

    @property
    def sha256(self) -> str:
        """The SHA-256 of the bytes (a large file's is computed in a thread)."""
        if isinstance(self.digest, Future):
            self.digest = self.digest.result()
        return self.digest

    @property
    def readable(self) -> bool:
        """True when the engine may parse the file (no error so far)."""
        return not any(p.severity == "error" for p in self.problems)

    def line_of(self, byte_offset: int) -> int:
        """The physical line holding ``byte_offset`` (header = 1)."""
        return self.data.count(b"\n", 0, byte_offset) + 1

    def blank_lines(self) -> list[int]:
        """Lines holding nothing (the CSV reader skips them), header = 1."""
        out, line, last = [], 1, 0
        for m in _BLANK.finditer(self.data):
            if m.start() >= len(self.data):
                break
            line += self.data.count(b"\n", last, m.start())
            last = m.start()
            if m.start() < len(self.data) and line > 1:
                out.append(line)
        return out


def check_file(path: Path, ds: Dataset, display: str | None = None) -> FileCheck:
    """Read ``path`` once and make the byte-level checks against dataset ``ds``."""
    shown = display or str(path)
    try:
        sent = path.read_bytes()
    except OSError as e:  # gone, unreadable or not a file since it was named
        fc = FileCheck(path, shown, f"unreadable:{path}", 0, 0, False)
        why = e.strerror or "operating system error"
        fc.problems.append(Problem(shown, 0, "", "error", f"cannot read: {why}"))
        return fc
    # Binary data is never read, so its line ends are left as they are.
    rewrite = lineends.needs_rewrite(sent) and b"\x00" not in sent
    data = lineends.to_lf(sent) if rewrite else sent
    fc = FileCheck(
        path=path,
        display=shown,
        digest=(
            _HASHER.submit(_sha256, sent)
            if len(sent) > THREADED_HASH
            else _sha256(sent)
        ),
        size=len(sent),
        newlines=data.count(b"\n"),
        ends_with_newline=data.endswith(b"\n"),
        data=data,
        rewritten=data is not sent,
    )
    body = data[len(BOM) :] if data.startswith(BOM) else data
    if not body.strip():
        fc.problems.append(Problem(shown, 0, "", "error", "file is empty"))
        return fc
    binary = _binary_problem(body)
    if binary is not None:
        line = fc.line_of(body.find(binary[0]) + (len(data) - len(body)))
        fc.problems.append(Problem(shown, line, "", "error", binary[1]))
        return fc
    if not body.isascii():
        fc.problems.extend(_encoding_problems(fc, data))
        if not fc.readable:
            return fc
    fc.problems.extend(header_problems(_header(body), ds, shown))
    return fc


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


UTF16_REASON = (
    "UTF-16 text, not UTF-8: save the file as UTF-8 (in Excel, 'CSV UTF-8'); "
    "nothing was converted"
)


def _utf16(body: bytes) -> bool:
    """A UTF-16 file: its byte-order mark, or NULs in every other byte of the start
    (ASCII text written as UTF-16 without a mark)."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    head = body[:4096]
    half = len(head) // 2
    if half < 4:
        return False
    return any(head[k::2].count(0) >= 0.9 * half for k in (0, 1))


def _binary_problem(body: bytes) -> tuple[bytes, str] | None:
    """A NUL byte or a run of control characters means this is not a text file."""
    if _utf16(body):
        return body[:1], UTF16_REASON
    if b"\x00" in body:
        return b"\x00", "binary data (NUL bytes): not a CSV text file"
    sample = body[:65536]
    controls = len(sample) - len(sample.translate(None, _CONTROLS))
    if controls > max(8, len(sample) // 100):
        first = next(bytes([c]) for c in _CONTROLS if bytes([c]) in sample)
        return first, "binary data (control characters): not a CSV text file"
    return None


def _encoding_problems(fc: FileCheck, data: bytes) -> list[Problem]:
    """Every line that is not UTF-8, with the encoding the file most likely has."""
    try:
        data.decode("utf-8")
        return []
    except UnicodeDecodeError:
        pass
    # imported here to save start-up time (~90 ms): only a file that is not UTF-8
    from charset_normalizer import from_bytes

    guesses = [m.encoding for m in from_bytes(data[:200_000])][:3]
    named = [_ENCODING_NAMES.get(g, g) for g in guesses]
    if any(g in ("cp1250", "cp1252", "latin_1", "cp1257") for g in guesses):
        named = ["Windows-1252", "Latin-1 (ISO-8859-1)"] + [
            n for n in named if n not in ("Windows-1252", "Latin-1 (ISO-8859-1)")
        ]
    likely = " or ".join(named[:3]) if named else "an unknown encoding"
    reason = (
        f"not UTF-8: the text looks like {likely}; save the file as UTF-8 "
        "(nothing was converted)"
    )
    out = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            out.append(Problem(fc.display, number, "", "error", reason))
    return out


def _header(body: bytes) -> list[str]:
    first = body.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", errors="replace")
    try:
        return next(csv.reader([first]), [])
    except csv.Error:  # a quoted line break in the header: not a header we know
        return [first]


def header_problems(header: list[str], ds: Dataset, file: str) -> list[Problem]:
    """Missing, extra, renamed or reordered columns, and a file of another dataset."""
    expected = ds.columns
    names = [h.strip() for h in header]
    if names == expected:
        return []
    if not set(names) & set(expected):
        # Likely no header at all: say so without echoing the line, which may be
        # a pupil's row.
        return [
            Problem(
                file,
                1,
                "",
                "error",
                f"line 1 is not a header of '{ds.name}' (none of its "
                "column names found): is the header missing?",
            )
        ]
    other = _better_dataset(names, ds)
    if other is not None:
        return [
            Problem(
                file,
                1,
                "",
                "error",
                f"header is dataset '{other}', not '{ds.name}': submit it as {other}",
            )
        ]
    out: list[Problem] = []
    missing = [c for c in expected if c not in names]
    extra = [n for n in names if n not in expected]
    if len(missing) == len(extra) and missing:
        for m, x in zip(missing, extra, strict=True):
            out.append(
                Problem(
                    file,
                    1,
                    m,
                    "error",
                    f"column '{m}' is missing; found '{x}' instead (renamed?)",
                )
            )
    else:
        out += [
            Problem(file, 1, m, "error", f"column '{m}' is missing") for m in missing
        ]
        out += [Problem(file, 1, x, "error", f"unexpected column '{x}'") for x in extra]
    dupes = sorted({n for n in names if names.count(n) > 1})
    out += [Problem(file, 1, d, "error", f"column '{d}' appears twice") for d in dupes]
    if not out:
        out.append(
            Problem(
                file,
                1,
                "",
                "error",
                "columns are out of order; expected: " + ",".join(expected),
            )
        )
    return out


def _better_dataset(names: list[str], ds: Dataset) -> str | None:
    """The dataset whose columns the header matches better than ``ds``'s, if any."""

    def score(d: Dataset) -> float:
        a, b = set(names), set(d.columns)
        return len(a & b) / len(a | b) if a | b else 0.0

    own = score(ds)
    best = max(
        (d for d in catalogue.DATASETS.values() if d.collected and d is not ds),
        key=score,
    )
    return best.name if score(best) > own and score(best) >= 0.5 else None
