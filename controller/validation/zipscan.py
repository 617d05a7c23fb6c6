"""Bounded reading of untrusted zip archives: the virus scan and size-capped member reads.

Pure: bytes in, problems out, no I/O. Every read is bounded by one shared
budget per scanned file (`ScanLimits`: members, decompressed bytes, ratio,
nesting depth), so a zip bomb, a quine or a million-member archive is
reported, never unpacked. Past a budget the file is rejected, not scanned.

The virus scan looks at the raw bytes, at every member the central directory
lists (recursively into nested zips), and at every local file header the
central directory does not list: a member hidden that way is invisible to
`zipfile` and to most tools, yet still in the file a customer downloads.

Member names and their number are the archive's choice, and every problem
ends up in status.yaml: a message shows a name cut to NAME_CHARS (`shown_name`),
and a file reports its first MAX_PROBLEMS problems, then one that counts the
rest (`capped`), so what a scan says is bounded whatever the package holds.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The EICAR anti-virus test string, assembled at import so that this source
# file itself does not carry the signature (scanners would flag our repo).
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-" + b"TEST-FILE!$H+H*"

_LOCAL_HEADER = b"PK\x03\x04"
_CENTRAL_HEADER = b"PK\x01\x02"
# zipfile's own end-of-archive reader (it also follows zip64 records); private, so
# looked up by name, with the tuple positions zipfile uses.
_END_RECORD: Callable[[io.BytesIO], Any] = getattr(zipfile, "_EndRecData")  # noqa: B009
_ECD_SIZE, _ECD_LOCATION = 5, 9
_ZIP64_END_BYTES = 56 + 20  # a zip64 end record and its locator, between directory and end
_LOCAL_FIXED = struct.Struct("<4s5H3I2H")  # signature .. extra length: 30 bytes
_STORED, _DEFLATED = 0, 8
# Everything zipfile raises for a damaged archive: bad headers (BadZipFile, ValueError,
# OSError, EOFError), bad compressed data (zlib.error) and encryption (RuntimeError).
ZIP_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
    zlib.error,
)
# ... and a compression method zipfile lacks.
READ_ERRORS: tuple[type[Exception], ...] = (*ZIP_ERRORS, NotImplementedError)
NAME_CHARS = 160  # of a member's name in a message: its start and its end, cut between
MAX_PROBLEMS = 50  # problems one scanned file reports; past them, one that counts the rest
_Header = tuple[str, int, int, int]  # name, method, data start, compressed size
_Reader = Callable[[int], bytes]  # read(at most n bytes); b"" at the end


@dataclass(frozen=True, slots=True)
class ScanLimits:
    """Bounds on how much a scan unpacks; past them the package is rejected, not scanned."""

    max_members: int = 2_000  # entries per archive (nested archives included)
    max_total_bytes: int = 64 * 1024 * 1024  # decompressed bytes over the whole package
    max_ratio: int = 200  # decompressed/compressed per member: beyond this it is a bomb
    max_depth: int = 4  # AppSource nests three deep: package > package.zip > solution zip
    chunk: int = 64 * 1024


DEFAULT_LIMITS = ScanLimits()


@dataclass(frozen=True, slots=True)
class ScanProblem:
    code: str
    message: str
    warning: bool = False  # a risk certification may flag, not a certain rejection


class TooManyEntries(zipfile.BadZipFile):
    """The central directory lists more members than a scan may look at."""


def open_zip(data: bytes, limits: ScanLimits = DEFAULT_LIMITS) -> zipfile.ZipFile:
    """`zipfile.ZipFile` over `data`, refusing a central directory with too many entries.

    zipfile builds a ZipInfo per central directory entry before anyone can
    count them: a 64 MiB package of 46-byte entries is 1.4 million objects
    (gigabytes, a minute). Entry signatures are counted first, in C; a name
    that happens to contain one only makes the count larger.
    """
    stream = io.BytesIO(data)
    end = _END_RECORD(stream)
    if end:
        location, size = end[_ECD_LOCATION], end[_ECD_SIZE]
        start = max(0, location - size - _ZIP64_END_BYTES)
        if data.count(_CENTRAL_HEADER, start, location) > limits.max_members:
            raise TooManyEntries(
                f"the archive's directory lists more than {limits.max_members} files"
            )
    return zipfile.ZipFile(stream)


def is_zip(data: bytes) -> bool:
    """True when the bytes start like a zip archive (a local header or an empty archive)."""
    return data[:4] in (_LOCAL_HEADER, b"PK\x05\x06")


def scan_bytes(name: str, data: bytes, limits: ScanLimits = DEFAULT_LIMITS) -> list[ScanProblem]:
    """Virus-scan one file: its raw bytes, and the members of a zip (recursively, bounded)."""
    scan = _Scan(limits)
    scan.file(name, data, depth=0)
    return capped(scan.problems, name)


def shown_name(name: str) -> str:
    """`name` for a message: whole up to NAME_CHARS, else its start and end around "…"
    (the end says which member; the start, which package)."""
    if len(name) <= NAME_CHARS:
        return name
    head = NAME_CHARS // 3
    return f"{name[:head]}…{name[-(NAME_CHARS - head - 1) :]}"


def capped(problems: list[ScanProblem], name: str) -> list[ScanProblem]:
    """The first MAX_PROBLEMS of `problems`, and one that counts the others (an error
    when any of them is one), so a package cannot make its report as long as it likes."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = problems[MAX_PROBLEMS:]
    codes = sorted({p.code for p in rest})
    summary = ScanProblem(
        "PackageMoreProblems",
        f"{shown_name(name)}: {len(rest):,} more problems not listed ({', '.join(codes[:5])}"
        f"{', ...' if len(codes) > 5 else ''}); fix those above and scan again",
        warning=all(p.warning for p in rest),
    )
    return [*problems[:MAX_PROBLEMS], summary]


class _Scan:
    """One bounded scan: the budgets are shared by every nested archive of the file."""

    def __init__(self, limits: ScanLimits) -> None:
        self.limits = limits
        self.members_left = limits.max_members
        self.bytes_left = limits.max_total_bytes
        self.stopped = False  # a bomb or an exhausted budget: the rest is not scanned
        self.problems: list[ScanProblem] = []

    def problem(self, code: str, name: str, text: str, *, warning: bool = False) -> None:
        """Report `name: text`, with the name shortened (`shown_name`)."""
        self.problems.append(ScanProblem(code, f"{shown_name(name)}: {text}", warning))

    def file(self, name: str, data: bytes, depth: int) -> None:
        if EICAR in data:
            self.problems.append(_virus(name))
            return
        if not is_zip(data):
            return
        if depth >= self.limits.max_depth:
            self.problem("PackageTooDeep", name, f"archives nested more than {depth} deep")
            return
        try:
            with open_zip(data, self.limits) as archive:
                listed = _listed_spans(data, archive)
                self.archive(name, archive, depth)
        except TooManyEntries:
            self.stopped = True
            self.problem(
                "PackageTooManyFiles",
                name,
                f"more than {self.limits.max_members} files; the package is not scanned",
            )
            return
        except NotImplementedError as exc:  # a compression method zipfile lacks
            self.problem("PackageUnscannable", name, shown_name(str(exc)))
            return
        except ZIP_ERRORS as exc:
            self.problem(
                "PackageCorrupt", name, f"cannot read the archive ({shown_name(str(exc))})"
            )
            return
        if not self.stopped:
            self.hidden(name, data, listed, depth)

    def archive(self, name: str, archive: zipfile.ZipFile, depth: int) -> None:
        for info in archive.infolist():
            if self.stopped:
                return
            # Not info.is_dir(): it raises IndexError for a member with an empty name.
            if info.filename.endswith("/"):
                continue
            member = f"{name}!{info.filename}"
            if not self.count(name):
                return
            if info.flag_bits & 0x1:
                self.problem("PackageEncrypted", member, "encrypted members cannot be scanned")
                continue
            with archive.open(info) as stream:
                nested = self.stream(stream.read, info.compress_size, member, depth)
            if nested is not None:
                self.file(member, nested, depth + 1)

    def count(self, name: str) -> bool:
        self.members_left -= 1
        if self.members_left >= 0:
            return True
        self.stopped = True
        self.problem(
            "PackageTooManyFiles",
            name,
            f"more than {self.limits.max_members} files; the package is not scanned",
        )
        return False

    def hidden(self, name: str, data: bytes, listed: dict[int, int], depth: int) -> None:
        """Scan members whose local header the central directory does not list.

        `listed` maps each listed member's header offset to the end of its data;
        signatures inside a listed member (a stored nested zip) are not headers.
        """
        offset = data.find(_LOCAL_HEADER)
        while offset >= 0 and not self.stopped:
            if offset in listed:
                offset = data.find(_LOCAL_HEADER, max(listed[offset], offset + 4))
                continue
            header = _local_header(data, offset)
            if header is not None:
                member_name, _, start, size = header
                member = f"{name}!{member_name}"
                self.problem(
                    "PackageHiddenMember",
                    member,
                    "a member the archive's directory does not list (hidden from most tools)",
                    warning=True,
                )
                if not self.count(name):
                    return
                nested = self.hidden_member(data, header, member, depth)
                if nested is not None:
                    self.file(member, nested, depth + 1)
                if size:
                    offset = data.find(_LOCAL_HEADER, start + size)
                    continue
            offset = data.find(_LOCAL_HEADER, offset + 4)

    def hidden_member(self, data: bytes, header: _Header, member: str, depth: int) -> bytes | None:
        _, method, start, size = header
        # The raw bytes were already scanned as a whole, so stored data needs no second
        # look unless it is itself an archive.
        if method == _STORED:
            body = data[start : start + size] if size else data[start:]
            if not (is_zip(body) and depth + 1 <= self.limits.max_depth):
                return None
            # Scanned again as an archive: its bytes count against the budget like any
            # member's, or headers chained back to back (size 0: "to the end") would
            # rescan the whole file once per header.
            self.bytes_left -= len(body)
            if self.bytes_left < 0:
                mib = self.limits.max_total_bytes // (1024 * 1024)
                self.stop("PackageTooLarge", member, f"expands beyond {mib} MiB")
                return None
            return body
        if method != _DEFLATED:
            return None
        source = data[start : start + size] if size else data[start:]
        inflater = zlib.decompressobj(-15)
        feed = io.BytesIO(source)

        def read(count: int) -> bytes:
            out = b""
            while not out and not inflater.eof:
                chunk = inflater.unconsumed_tail or feed.read(count)
                if not chunk:
                    break
                try:
                    out = inflater.decompress(chunk, count)
                except zlib.error:
                    return b""
            return out

        return self.stream(read, len(source), member, depth)

    def stream(self, read: _Reader, compressed: int, member: str, depth: int) -> bytes | None:
        """Stream one member through the scanner; its bytes only when it is itself a zip.

        Sizes declared in the archive can lie, so only bytes actually read count.
        """
        limits = self.limits
        # A floor, so a tiny text file that compresses well is not called a bomb.
        ratio_cap = max(limits.max_ratio * max(compressed, 1), 1024 * 1024)
        keep: bytearray | None = None
        tail = b""
        total = 0
        while chunk := read(limits.chunk):
            if total == 0 and is_zip(chunk) and depth + 1 <= limits.max_depth:
                keep = bytearray()
            total += len(chunk)
            self.bytes_left -= len(chunk)
            if self.bytes_left < 0:
                mib = limits.max_total_bytes // (1024 * 1024)
                self.stop("PackageTooLarge", member, f"expands beyond {mib} MiB")
                return None
            if total > ratio_cap:
                self.stop(
                    "PackageBomb",
                    member,
                    f"expands more than {limits.max_ratio} times its compressed size (zip bomb)",
                )
                return None
            if keep is not None:
                keep += chunk
                continue
            # Keep a signature-sized tail so a match across chunk borders is seen.
            window = tail + chunk
            if EICAR in window:
                self.problems.append(_virus(member))
                return None
            tail = window[-len(EICAR) :]
        return bytes(keep) if keep is not None else None

    def stop(self, code: str, name: str, text: str) -> None:
        self.stopped = True
        self.problem(code, name, text + "; the package is not scanned further")


def _local_header(data: bytes, offset: int) -> _Header | None:
    """(name, method, data start, compressed size) of the local header at `offset`."""
    fixed = data[offset : offset + _LOCAL_FIXED.size]
    if len(fixed) < _LOCAL_FIXED.size:
        return None
    fields = _LOCAL_FIXED.unpack(fixed)
    method, compressed, name_len, extra_len = fields[3], fields[7], fields[9], fields[10]
    start = offset + _LOCAL_FIXED.size + name_len + extra_len
    if start > len(data):
        return None
    raw_name = data[offset + _LOCAL_FIXED.size : offset + _LOCAL_FIXED.size + name_len]
    return raw_name.decode("utf-8", errors="replace"), method, start, compressed


def _listed_spans(data: bytes, archive: zipfile.ZipFile) -> dict[int, int]:
    spans = {}
    for info in archive.infolist():
        header = _local_header(data, info.header_offset)
        if header is not None:
            spans[info.header_offset] = header[2] + info.compress_size
    return spans


def _virus(name: str) -> ScanProblem:
    return ScanProblem(
        "VirusFound", f"{shown_name(name)}: the virus scan found the EICAR-Test-File signature"
    )


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes | None:
    """A member's bytes when they fit in `limit` (counted as read, not as declared); else None."""
    if info.file_size > limit or info.flag_bits & 0x1:
        return None
    with archive.open(info) as stream:
        data = stream.read(limit + 1)
    return data if len(data) <= limit else None
