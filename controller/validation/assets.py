"""Checking the files a manifest names: inside the offer folder, present, PNGs of the right size.

Reads go through a `FileSource`, so a symlink out of the repository, a FIFO or
an oversized file is reported, never followed, opened or loaded. The bytes of
each good asset are kept for submission when the caller asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.validation.files import FileReadError, FileSource, is_safe_relative
from controller.validation.issues import Issue
from controller.validation.png import NotPngError, png_size
from controller.validation.semantic import AssetRef
from controller.yamlio import show_text

IMAGE_LIMIT = 10 * 1024 * 1024
PACKAGE_LIMIT = 200 * 1024 * 1024


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


def check_assets(
    refs: list[AssetRef], offer_dir: str, files: FileSource, *, collect: bool
) -> AssetResult:
    """Check every referenced file once; keep its bytes when `collect` (packages only then)."""
    result = AssetResult()
    checked: dict[tuple[str, str], Issue | None] = {}  # the same file may fill several slots
    for ref in refs:
        key = (ref.file, ref.what)
        if key not in checked:
            checked[key] = _check_one(ref, offer_dir, files, collect, result.files)
        problem = checked[key]
        if problem is not None:
            result.issues.append(Issue(problem.code, problem.message, ref.path))
    return result


def _check_one(
    ref: AssetRef, offer_dir: str, files: FileSource, collect: bool, out: dict[str, bytes]
) -> Issue | None:
    shown = _Shown(ref.file)
    if not is_safe_relative(ref.file) or ref.file.startswith("./"):
        return Issue(
            "AssetOutsideOffer",
            f"{ref.what} path {shown} must stay inside the offer folder: "
            "a relative path with / and no '..'",
        )
    repo_path = f"{offer_dir}/{ref.file}"
    kind = files.kind(repo_path)
    if kind == "missing":
        return Issue("AssetMissing", f"{ref.what} {shown} does not exist in the offer folder")
    if kind == "symlink":
        return Issue(
            "AssetOutsideOffer",
            f"{ref.what} {shown} is a symlink that leads outside the repository (or loops)",
        )
    if kind != "file":
        return Issue("AssetNotAFile", f"{ref.what} {shown} is not a regular file")
    if ref.png_size is None and not collect:
        return None  # a package is only read when it is to be submitted
    limit = IMAGE_LIMIT if ref.png_size else PACKAGE_LIMIT
    try:
        data = files.read(repo_path, limit)
    except FileReadError as exc:
        return Issue(exc.code, f"{ref.what} {shown} {exc.message}")
    if ref.png_size is not None:
        try:
            size = png_size(data)
        except NotPngError as exc:
            return Issue("NotPng", f"{ref.what} {shown} is not a PNG image: {exc}")
        if size != ref.png_size:
            want = "x".join(map(str, ref.png_size))
            return Issue(
                "PngSize",
                f"{ref.what} {shown} is {size[0]}x{size[1]} pixels; it must be {want}",
            )
    if collect:
        out[ref.file] = data
    return None
