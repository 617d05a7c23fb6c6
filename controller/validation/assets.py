"""Reading the files a manifest names: inside the offer folder, present, regular, within the cap.

Reads go through a `FileSource`, so a symlink, a FIFO or an oversized file is
reported, never followed, opened or loaded. The rules here are the ones
`validate` (a working tree) and reconcile (a commit's tree) share: the size
caps (`MAX_IMAGE_BYTES`, `MAX_PACKAGE_BYTES`, also the commit snapshot's blob
cap) and "an asset is a regular file, never a symlink" (git stores a link's
text, not what it points at, so a link cannot be submitted). What the bytes
hold is precheck's business (`precheck`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.files.yamlio import show_text
from controller.validation.files import FileReadError, FileSource, is_safe_relative
from controller.validation.issues import Issue
from controller.validation.limits import MAX_IMAGE_BYTES, MAX_PACKAGE_BYTES, SYMLINK_RULE
from controller.validation.semantic import AssetRef


class _Shown:
    """The escaped file name, computed only when a message needs it."""

    def __init__(self, file: str) -> None:
        self.file = file

    def __str__(self) -> str:
        return show_text(self.file)


@dataclass
class AssetResult:
    issues: list[Issue] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # offer-relative path -> bytes
    read: dict[str, bytes] = field(default_factory=dict)  # every file read, for precheck


def check_assets(
    refs: list[AssetRef], offer_dir: str, files: FileSource, *, collect: bool
) -> AssetResult:
    """Read every referenced file once; `read` holds all their bytes, `files` too when `collect`."""
    result = AssetResult()
    checked: dict[tuple[str, str], Issue | None] = {}  # the same file may fill several slots
    for ref in refs:
        key = (ref.file, ref.what)
        if key not in checked:
            checked[key] = _check_one(ref, offer_dir, files, result.read)
        problem = checked[key]
        if problem is not None:
            result.issues.append(Issue(problem.code, problem.message, ref.path))
    if collect:
        result.files = dict(result.read)
    return result


def _check_one(
    ref: AssetRef, offer_dir: str, files: FileSource, out: dict[str, bytes]
) -> Issue | None:
    shown = _Shown(ref.file)
    if not is_safe_relative(ref.file) or ref.file.startswith("./"):
        return Issue(
            "AssetOutsideOffer",
            f"{ref.what} path {shown} must stay inside the offer folder: "
            "a relative path with / and no '..'",
        )
    repo_path = f"{offer_dir}/{ref.file}"
    limit = MAX_PACKAGE_BYTES if ref.png_size is None else MAX_IMAGE_BYTES
    try:
        # Read at once: a source reads only a regular file (never a link, a FIFO, a folder),
        # so asking its kind first only costs a question more per asset; it is asked when
        # the read fails, to say what the path is.
        out[ref.file] = files.read(repo_path, limit)
    except FileReadError as exc:
        kind = files.kind(repo_path)
        if kind == "missing":
            return Issue("AssetMissing", f"{ref.what} {shown} does not exist in the offer folder")
        if kind == "symlink":
            return Issue("AssetSymlink", f"{ref.what} {shown} {SYMLINK_RULE}")
        if kind != "file":
            return Issue("AssetNotAFile", f"{ref.what} {shown} is not a regular file")
        return Issue(exc.code, f"{ref.what} {shown} {exc.message}")
    return None
