"""Names that reach git's argv, checked once: object ids, ref, branch and remote names, paths.

Every value derived from the repository or from a flag goes through one of
these before it becomes an argument: a ref name with `..` read outside .git
(CVE-2023-41040), and a name starting with '-' would be read as an option.
Also here: redaction of credentials in URLs and git's object-id arithmetic
(no subprocess needed).
"""

from __future__ import annotations

import hashlib
import re

from controller.core.errors import UsageError

_HEX = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_REMOTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SAFE_PATH = re.compile(r"^(?:[A-Za-z0-9_.@+-]+/)*[A-Za-z0-9_.@+-]+$")
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")

OID_HEX_LENGTH = {"sha1": 40, "sha256": 64}


def check_oid(oid: str) -> str:
    """`oid` if it is a full lowercase hex object id (SHA-1 or SHA-256); ValueError otherwise."""
    if not _HEX.match(oid):
        raise ValueError(f"not a full hex object id: {oid!r}")
    return oid


def check_ref_name(name: str, *, what: str = "ref name") -> str:
    """`name` if it is a safe git ref name (check-ref-format rules, and no leading '-').

    Raises UsageError naming the rule it breaks.
    """
    problem = ref_name_problem(name)
    if problem:
        raise UsageError(f"invalid {what} {name!r}: {problem}")
    return name


def ref_name_problem(name: str) -> str:
    """Why `name` is not a safe ref name ("" when it is)."""
    if not name:
        return "empty"
    if name.startswith("-"):
        return "starts with '-'"
    if _BAD_REF_CHARS.search(name):
        return "contains a space, control character or one of ~^:?*[\\"
    if ".." in name:
        return "contains '..'"
    if "@{" in name or name == "@":
        return "contains '@{' or is '@'"
    if name.endswith(("/", ".")) or name.startswith("/") or "//" in name:
        return "has an empty component or ends with '/' or '.'"
    for component in name.split("/"):
        if component.startswith(".") or component.endswith(".lock"):
            return "a component starts with '.' or ends with '.lock'"
    return ""


def check_branch_name(name: str) -> str:
    """A branch name (the part after refs/heads/)."""
    check_ref_name(name, what="branch name")
    if name == "HEAD":
        raise UsageError("invalid branch name 'HEAD'")
    return name


def check_remote_name(name: str) -> str:
    """A configured remote's name: letters, digits, '.', '_', '-'; no URLs, no '/'."""
    if not _REMOTE_NAME.match(name) or ".." in name or name.endswith(".lock"):
        raise UsageError(f"invalid remote name {name!r}: use the name of a configured remote")
    return name


def check_path(path: str) -> str:
    """`path` if it is a plain repository-relative path (no `..`, no leading `/`, no `.git`)."""
    segments = path.split("/")
    if not _SAFE_PATH.match(path) or any(s in {".", "..", ".git"} for s in segments):
        raise ValueError(f"not a plain repository path: {path!r}")
    return path


def redact(text: str) -> str:
    """`text` with credentials in URLs (https://user:token@host) masked."""
    return _CREDENTIALS.sub("***@", text)


def object_oid(kind: str, data: bytes, object_format: str = "sha1") -> str:
    """The object id git gives an object of `kind` ("blob", "tree", ...) holding `data`."""
    digest = hashlib.new(object_format)
    digest.update(b"%s %d\x00" % (kind.encode("ascii"), len(data)))
    digest.update(data)
    return digest.hexdigest()


def blob_oid(data: bytes, object_format: str = "sha1") -> str:
    """The object id git gives a blob holding `data` (no subprocess needed)."""
    return object_oid("blob", data, object_format)
