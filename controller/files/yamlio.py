"""The only module that touches PyYAML: safe loading of untrusted bytes, node positions, dumping.

Loading is built for hostile input. Before the parser sees a byte, the data is
checked for size, encoding, NUL bytes and nesting depth (a cheap byte-level
bound, made exact with the event parser only when the bound is high). The
loader is `CSafeLoader` when libyaml is present, with three changes: duplicate
keys are errors (PyYAML silently keeps the last), every tag outside the JSON
data model is refused (`!!python/object`, `!!binary`, `!!set`, local tags),
and timestamps stay strings, as check-jsonschema keeps them. After loading, a
document that uses aliases is measured as its expanded tree, so an alias bomb
or a recursive alias never reaches code that walks it.

Every failure is one `YamlError` with a stable code and the line/column of the
offending byte or node. Valid files take the fast path: nodes and their marks
are composed again, lazily, only when something needs a position.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml

from controller.core.errors import UserError

MAX_BYTES = 1024 * 1024  # a manifest over 1 MiB is refused before parsing
MAX_DEPTH = 64  # real manifests nest about 10 levels; recursion stays far away
MAX_EXPANDED_NODES = 100_000  # nodes after expanding aliases; bombs expand to billions
# Characters of text (strings and keys) after expanding aliases. The node cap alone let a
# 120 KB manifest name one 100 KB string 4,000 times: 400 MB that every walker of the
# document (the strings' secret scan, the generation's canonical JSON, precheck's
# marshalled question) makes again, seconds of CPU and most of a GiB; near 1 MiB, a
# hundred GB. A file without aliases holds at most MAX_BYTES of text.
MAX_EXPANDED_CHARS = 4 * MAX_BYTES
# Characters in one integer scalar. Python refuses to convert a decimal string of
# more than 4,300 digits (a ValueError deep inside the constructor); no offerctl
# file holds a number anywhere near this long.
MAX_NUMBER_CHARS = 100

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_TAG_PREFIX = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP, _MERGE = (_TAG_PREFIX + t for t in ("str", "seq", "map", "merge"))


class YamlError(UserError):
    """A YAML text that cannot be used, with where and why.

    `code` is a stable CamelCase name (YamlSyntax, DuplicateKey, TooDeep, ...);
    `line` and `column` are 1-based, 0 when the problem is the file as a whole.
    """

    def __init__(
        self, code: str, message: str, *, name: str, line: int = 0, column: int = 0
    ) -> None:
        super().__init__(f"{name}:{line}:{column}: {message}" if line else f"{name}: {message}")
        self.code = code
        self.message = message
        self.name = name
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class Location:
    """Where a node starts (1-based), and its source text when it is an unquoted scalar."""

    line: int
    column: int
    plain_scalar: str | None = None  # e.g. "no" that YAML 1.1 read as false


PathItem = str | int


@dataclass(frozen=True)
class LoadedYaml:
    """A parsed document and the text it came from, for finding node positions later."""

    document: Any
    name: str
    text: str
    _nodes: dict[str, yaml.Node | None] = field(default_factory=dict, repr=False, compare=False)

    def locate(self, path: Sequence[PathItem]) -> Location:
        """Position of the node at `path`, or of its nearest ancestor that exists.

        A mapping or sequence that is the value of a key is reported at its key,
        where a reader looks for it (`spec:` rather than the first line inside).
        """
        node = self._root()
        if node is None:
            return Location(1, 1)
        key_node: yaml.Node | None = None
        for item in path:
            child = _child(node, item)
            if child is None:
                break
            key_node, node = child
        plain = node.value if isinstance(node, yaml.ScalarNode) and not node.style else None
        mark_node = (
            key_node if key_node is not None and not isinstance(node, yaml.ScalarNode) else node
        )
        mark = mark_node.start_mark
        return Location(mark.line + 1, mark.column + 1, plain)

    def locate_key(self, path: Sequence[PathItem]) -> Location:
        """Position of the key that names the last item of `path` (for unknown properties)."""
        node = self._root()
        if node is None:
            return Location(1, 1)
        for index, item in enumerate(path):
            child = _child(node, item)
            if child is None:
                break
            key_node, node = child
            if index == len(path) - 1 and key_node is not None:
                mark = key_node.start_mark
                return Location(mark.line + 1, mark.column + 1)
        return self.locate(path)

    def _root(self) -> yaml.Node | None:
        if "root" not in self._nodes:
            try:
                self._nodes["root"] = yaml.compose(self.text, Loader=_Loader)
            except yaml.YAMLError:  # cannot happen for a text that loaded; be safe anyway
                self._nodes["root"] = None
        return self._nodes["root"]


def _child(node: yaml.Node, item: PathItem) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.SequenceNode) and isinstance(item, int):
        if 0 <= item < len(node.value):
            return None, node.value[item]
        return None
    if isinstance(node, yaml.MappingNode):
        wanted = str(item)
        for key, value in reversed(node.value):  # the last duplicate wins, as in the loaded dict
            if isinstance(key, yaml.ScalarNode) and key.value == wanted:
                return key, value
    return None


_RESOLVED: dict[str, str] = {}  # scalar text -> implicit tag, for `_resolve`
_RESOLVED_TEXT = 64  # characters of a scalar worth remembering
_RESOLVED_MAX = 20_000  # texts remembered at most (a few MB)


def _resolve(
    resolver: yaml.resolver.BaseResolver,
    kind: type[yaml.Node],
    value: Any,
    implicit: tuple[bool, bool],
) -> str:
    """`BaseResolver.resolve` for a resolver without path resolvers, remembering scalars.

    Without path resolvers a scalar's implicit tag depends on its text alone, and
    the texts repeat (keys, enum values) across every offer and status file.
    """
    if kind is yaml.ScalarNode:
        if not implicit[0]:
            return _STR
        tag = _RESOLVED.get(value)
        if tag is None:
            tag = yaml.resolver.BaseResolver.resolve(  # type: ignore[no-untyped-call]
                resolver, kind, value, implicit
            )
            if len(value) <= _RESOLVED_TEXT and len(_RESOLVED) < _RESOLVED_MAX:
                _RESOLVED[value] = tag
        return str(tag)
    return _SEQ if kind is yaml.SequenceNode else _MAP


class _SafeLoader(_Loader):  # type: ignore[valid-type,misc]
    """CSafeLoader (or SafeLoader) with duplicate-key errors and only JSON-shaped tags."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _TAG_PREFIX + "merge":
                ident = (key_node.tag, key_node.value)
                if ident in seen:
                    raise _DuplicateKeyError(key_node, seen[ident])
                seen[ident] = key_node.start_mark.line + 1
        built: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        for key in built:  # merge keys bring in other mappings' keys too
            if not isinstance(key, str):
                where: yaml.Node = node  # the mapping, when the key came from a merged one
                for key_node, _ in node.value:
                    if key_node.tag != _MERGE and self.construct_object(key_node) is key:
                        where = key_node
                raise _KeyNotTextError(where, key)
        return built

    # The composer asks the resolver for every node's tag; in plain Python that was
    # a third of a manifest's parse. See `_resolve` (the method itself: no extra call).
    resolve = _resolve

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None  # no path resolvers (checked at import)

    def ascend_resolver(self) -> None:
        return None

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        return None if node is None else self._build(node)

    def _build(self, root: yaml.Node) -> Any:
        """Nodes to plain data in one loop: PyYAML's generator-based constructor costs
        about twice as much. Shared (aliased) nodes stay shared; merge keys and
        scalar tags other than str go through the standard constructors."""
        memo: dict[int, Any] = {}
        pending: list[tuple[yaml.Node, Any]] = []
        constructors = self.yaml_constructors
        scalar, sequence, mapping = yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode

        def make(node: yaml.Node) -> Any:
            kind = type(node)
            if kind is scalar:  # immutable: an aliased scalar needs no memo
                if node.tag == _STR:
                    return node.value
                return constructors.get(node.tag, _refuse_tag)(self, node)
            ident = id(node)
            if ident in memo:
                return memo[ident]
            value: Any
            if kind is sequence and node.tag == _SEQ:
                value = []
                pending.append((node, value))
            elif kind is mapping and node.tag == _MAP:
                if any(key.tag == _MERGE for key, _ in node.value):
                    value = self.construct_object(node, deep=True)
                else:
                    value = {}
                    pending.append((node, value))
            else:
                raise _ForbiddenTagError(node)
            memo[ident] = value
            return value

        result = make(root)
        while pending:
            node, value = pending.pop()
            if isinstance(value, list):
                for child in node.value:  # a plain string inline: most nodes are one
                    if type(child) is scalar and child.tag == _STR:
                        value.append(child.value)
                    else:
                        value.append(make(child))
                continue
            firsts: dict[Any, yaml.Node] = {}
            for key_node, value_node in node.value:
                if type(key_node) is scalar and key_node.tag == _STR:
                    key = key_node.value
                else:
                    key = make(key_node)
                try:
                    if key in firsts:
                        raise _DuplicateKeyError(key_node, firsts[key].start_mark.line + 1)
                    firsts[key] = key_node
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        None, None, "a list or mapping cannot be a key", key_node.start_mark
                    ) from None
                if not isinstance(key, str):
                    raise _KeyNotTextError(key_node, key)
                if type(value_node) is scalar and value_node.tag == _STR:
                    value[key] = value_node.value
                else:
                    value[key] = make(value_node)
        return result


class _DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key_node: yaml.ScalarNode, first_line: int) -> None:
        super().__init__("duplicate key")
        self.node = key_node
        self.first_line = first_line


class _KeyNotTextError(yaml.YAMLError):
    """A mapping key YAML reads as null, a boolean, a number or a date: JSON (and so
    every schema and check of an offer file) has text keys only. `NO:` (Norway) and
    `~:` are the usual ones."""

    def __init__(self, key_node: yaml.Node, key: Any) -> None:
        super().__init__("key not text")
        self.node = key_node
        self.key = key


class _NumberTooLongError(yaml.YAMLError):
    def __init__(self, node: yaml.Node) -> None:
        super().__init__("number too long")
        self.node = node


class _ForbiddenTagError(yaml.YAMLError):
    def __init__(self, node: yaml.Node) -> None:
        super().__init__("forbidden tag")
        self.node = node


def _refuse_tag(loader: yaml.SafeLoader, node: yaml.Node) -> NoReturn:
    raise _ForbiddenTagError(node)


def _bounded_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    if len(node.value) > MAX_NUMBER_CHARS:
        raise _NumberTooLongError(node)
    return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(node.value)


if _SafeLoader.yaml_path_resolvers or _Dumper.yaml_path_resolvers:  # pragma: no cover
    raise RuntimeError("yamlio's resolver shortcuts assume a loader without path resolvers")
_SafeLoader.add_constructor(None, _refuse_tag)  # any tag without a constructor: python/*, !local
for _tag in ("binary", "set", "omap", "pairs"):  # safe, but not JSON: no schema could accept them
    _SafeLoader.add_constructor(_TAG_PREFIX + _tag, _refuse_tag)
_SafeLoader.add_constructor(_TAG_PREFIX + "timestamp", _timestamp_as_text)
_SafeLoader.add_constructor(_TAG_PREFIX + "int", _bounded_int)


def load_yaml(data: bytes, *, name: str, max_bytes: int = MAX_BYTES) -> LoadedYaml:
    """Parse one YAML document from untrusted bytes, or raise `YamlError`.

    The document may be anything YAML can say that JSON can (None for an empty
    or comment-only file); callers that need a mapping use `load_mapping`.
    """
    if len(data) > max_bytes:
        _fail("FileTooLarge", f"file is {len(data):,} bytes; the limit is {max_bytes:,}", name)
    text = _decode(data, name)
    _check_depth(text, name)
    try:
        document = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - _SafeLoader is a SafeLoader
    except RecursionError:  # the pure-Python fallback recurses; the depth bound should prevent this
        _fail("TooDeep", f"nesting is deeper than {MAX_DEPTH} levels", name)
    except yaml.YAMLError as exc:
        raise _translate(exc, name, text) from None
    if "*" in text:  # only documents with aliases can expand
        _check_expansion(document, text, name)
    return LoadedYaml(document, name, text)


def load_mapping(data: bytes, *, name: str, max_bytes: int = MAX_BYTES) -> LoadedYaml:
    """`load_yaml`, then insist the document is a mapping (what every offerctl file is)."""
    loaded = load_yaml(data, name=name, max_bytes=max_bytes)
    if loaded.document is None:
        _fail(
            "EmptyDocument", "the file holds no YAML document (empty, comments only or null)", name
        )
    if not isinstance(loaded.document, dict):
        kind = "a list" if isinstance(loaded.document, list) else "a single value"
        _fail(
            "NotAMapping",
            f"the document is {kind}; expected a mapping of keys to values",
            name,
            1,
            1,
        )
    return loaded


def dump_yaml(data: Any) -> str:
    """Block-style YAML of plain data, keys in the given order, multi-line strings as `|` blocks.

    Plain data (dicts, lists, str, int, bool, None, nothing shared) is turned into
    nodes here and handed to the emitter: PyYAML's representer did the same
    object by object and cost most of a status file's rendering. Anything else
    takes the representer; both give the same text.
    """
    node = _node_of(data)
    if node is None:
        return yaml.dump(
            data,
            Dumper=_BlockDumper,
            default_flow_style=False,
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )
    return yaml.serialize(node, Dumper=_BlockDumper, allow_unicode=True, width=100)


def _node_of(data: Any) -> yaml.Node | None:
    """`data` as the nodes `_BlockDumper` would represent it; None for anything but plain data."""
    seen: set[int] = set()  # the representer anchors a dict or list met twice

    def build(value: Any) -> yaml.Node:
        kind = type(value)
        if kind is str:
            return yaml.ScalarNode(_STR, value, style="|" if "\n" in value else None)
        if kind is dict or kind is list:
            if id(value) in seen:
                raise _NotPlainError
            seen.add(id(value))
            if kind is list:
                return yaml.SequenceNode(_SEQ, [build(item) for item in value], flow_style=False)
            pairs = [(build(k), build(v)) for k, v in value.items()]
            return yaml.MappingNode(_MAP, pairs, flow_style=False)
        if kind is bool:
            return yaml.ScalarNode(_TAG_PREFIX + "bool", "true" if value else "false")
        if kind is int:
            return yaml.ScalarNode(_TAG_PREFIX + "int", str(value))
        if value is None:
            return yaml.ScalarNode(_TAG_PREFIX + "null", "null")
        raise _NotPlainError

    try:
        return build(data)
    except _NotPlainError:
        return None


class _NotPlainError(Exception):
    """Data `_node_of` leaves to PyYAML's representer."""


class _BlockDumper(_Dumper):  # type: ignore[valid-type,misc]
    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        return _resolve(self, kind, value, implicit)

    # The serializer calls these around every node; without path resolvers (checked at
    # import) they do nothing, so nothing is looked up.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


_TEXT_RESOLVER = yaml.resolver.Resolver()  # the implicit types `_BlockDumper` resolves
_IMPLICIT_FIRSTS = frozenset(_BlockDumper.yaml_implicit_resolvers)  # their possible first chars


def reads_as_text(text: str) -> bool:
    """Whether `text` written plain (unquoted) reads back as that string, not as one of
    YAML 1.1's implicit types (null, bool, int, float, timestamp, merge, value): the
    question `dump_yaml` asks before it may leave a string unquoted."""
    if text and text[0] not in _IMPLICIT_FIRSTS and None not in _IMPLICIT_FIRSTS:
        return True
    return _resolve(_TEXT_RESOLVER, yaml.ScalarNode, text, (True, False)) == _STR


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar(_TAG_PREFIX + "str", value, style="|")
    return dumper.represent_str(value)


_BlockDumper.add_representer(str, _represent_str)


def _fail(code: str, message: str, name: str, line: int = 0, column: int = 0) -> NoReturn:
    raise YamlError(code, message, name=name, line=line, column=column)


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        _fail("NotUtf8", "the file is UTF-16 or UTF-32 encoded; save it as UTF-8", name)
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark is harmless
    nul = data.find(b"\0")
    if nul >= 0:
        line, column = _position(data, nul)
        _fail("NulByte", "the file contains a NUL byte; is it binary?", name, line, column)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        _fail(
            "NotUtf8",
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            name,
            line,
            column,
        )


def _position(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def _text_position(text: str, index: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _within_bound(text: str) -> bool:
    """brackets + longest line prefix + 1 <= MAX_DEPTH, where brackets counts every "["
    and "{" and a line prefix is its leading run of spaces, "-", "?" and ":".

    Rather than measure every line's prefix, one search asks whether any line has a
    prefix as long as the room the brackets leave (a regex led by a newline, so the
    scan jumps from newline to newline), and one match asks it of the first line."""
    room = MAX_DEPTH - text.count("[") - text.count("{")  # a prefix this long is too long
    if room < 1:
        return False
    long_prefix = _long_prefix(room)
    return long_prefix.search(text) is None and long_prefix.match("\n" + text[:room]) is None


@functools.cache  # at most MAX_DEPTH patterns
def _long_prefix(length: int) -> re.Pattern[str]:
    return re.compile(r"\n[ \-?:]{%d}" % length)  # noqa: UP031 - a regex's braces


def _check_depth(text: str, name: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH without letting a recursive composer see it.

    The bound (flow brackets anywhere + the longest run of indentation and
    indicators at a line start) is never below the real depth and costs a few
    scans; only when it exceeds the limit does the event parser measure.
    """
    if _within_bound(text):
        return
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line, column = _mark(event)
                    message = f"nesting is deeper than {MAX_DEPTH} levels"
                    _fail("TooDeep", message, name, line, column)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except RecursionError:
        _fail("TooDeep", f"nesting is deeper than {MAX_DEPTH} levels", name)
    except yaml.YAMLError as exc:
        raise _translate(exc, name, text) from None


def _check_expansion(document: Any, text: str, name: str) -> None:
    """Count the nodes a walker would visit and the characters of text it would meet;
    refuse recursive aliases and bombs (of nodes, or of one long string named often).

    Iterative post-order walk with sizes memoised by identity, so a bomb of
    shared nodes costs its unique nodes, not its expansion.
    """
    sizes: dict[int, tuple[int, int]] = {}  # container -> (nodes, characters) expanded
    entered: set[int] = set()
    stack: list[tuple[Any, bool]] = [(document, False)]
    while stack:
        value, finished = stack.pop()
        if not isinstance(value, dict | list):
            continue
        children = list(value.values()) if isinstance(value, dict) else value
        ident = id(value)
        if finished:
            entered.discard(ident)
            total = 1
            chars = sum(map(_chars, value)) if isinstance(value, dict) else 0  # the keys
            for child in children:
                nodes, length = sizes.get(id(child)) or (1, _chars(child))
                total += nodes
                chars += length
            if total > MAX_EXPANDED_NODES:
                message = (
                    f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (an alias bomb?)"
                )
                _fail("AliasLimit", message, name, *_first_alias(text))
            if chars > MAX_EXPANDED_CHARS:
                message = (
                    f"aliases expand to more than {MAX_EXPANDED_CHARS:,} characters of text "
                    "(an alias bomb?)"
                )
                _fail("AliasLimit", message, name, *_first_alias(text))
            sizes[ident] = (total, chars)
            continue
        if ident in sizes:
            continue
        if ident in entered:
            message = "an alias refers to a node that contains it (recursive alias)"
            _fail("AliasLimit", message, name, *_first_alias(text))
        entered.add(ident)
        stack.append((value, True))
        stack.extend((child, False) for child in children if isinstance(child, dict | list))


def _chars(value: Any) -> int:
    """The characters of a scalar (a string's length; any other scalar's text is short)."""
    return len(value) if isinstance(value, str) else 1


def _first_alias(text: str) -> tuple[int, int]:
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                return _mark(event)
    except yaml.YAMLError:
        pass
    return 0, 0


def _mark(event: yaml.Event) -> tuple[int, int]:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark else (0, 0)


def _translate(exc: yaml.YAMLError, name: str, text: str) -> YamlError:
    """One clear YamlError for whatever PyYAML raised."""
    if isinstance(exc, _DuplicateKeyError):
        mark = exc.node.start_mark
        key = _show(exc.node.value)
        message = f"duplicate key {key} (first defined on line {exc.first_line})"
        return YamlError(
            "DuplicateKey", message, name=name, line=mark.line + 1, column=mark.column + 1
        )
    if isinstance(exc, _KeyNotTextError):
        mark = exc.node.start_mark
        written = exc.node.value if isinstance(exc.node, yaml.ScalarNode) else str(exc.key)
        kind = {type(None): "null", bool: "a boolean", int: "a number", float: "a number"}.get(
            type(exc.key), "a date"
        )
        message = (
            f"key {_show(written)} reads as {kind}, not text; quote it ('{written}') "
            "if it is a name: keys in offer files are text"
        )
        return YamlError(
            "KeyNotText", message, name=name, line=mark.line + 1, column=mark.column + 1
        )
    if isinstance(exc, _NumberTooLongError):
        mark = exc.node.start_mark
        message = (
            f"a number of {len(exc.node.value):,} characters is longer than the limit of "
            f"{MAX_NUMBER_CHARS}; quote it if it is text"
        )
        return YamlError(
            "NumberTooLong", message, name=name, line=mark.line + 1, column=mark.column + 1
        )
    if isinstance(exc, _ForbiddenTagError):
        mark = exc.node.start_mark
        tag = str(exc.node.tag).replace(_TAG_PREFIX, "!!")
        message = f"tag {_show(tag)} is not allowed; offer files hold plain data only"
        return YamlError(
            "ForbiddenTag", message, name=name, line=mark.line + 1, column=mark.column + 1
        )
    if isinstance(exc, yaml.reader.ReaderError):
        char = (
            exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        )
        line, column = _text_position(text, exc.position)
        message = f"control character U+{char:04X} is not allowed in YAML text"
        return YamlError("YamlSyntax", message, name=name, line=line, column=column)
    if not isinstance(exc, yaml.MarkedYAMLError):
        return YamlError("YamlSyntax", "the YAML cannot be parsed", name=name)
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    problem = str(exc.problem or exc.context or "invalid YAML")
    if "maximum nesting depth" in problem:
        return YamlError(
            "TooDeep",
            f"nesting is deeper than {MAX_DEPTH} levels",
            name=name,
            line=line,
            column=column,
        )
    if "expected a single document" in str(exc.context or ""):
        return YamlError(
            "MultipleDocuments",
            "the file holds more than one YAML document; keep one offer per file",
            name=name,
            line=line,
            column=column,
        )
    if "'\\t'" in problem or (mark and text[mark.index : mark.index + 1] == "\t"):
        return YamlError(
            "TabIndentation",
            "tab character where YAML expects spaces; indent with spaces",
            name=name,
            line=line,
            column=column,
        )
    context = f" ({exc.context})" if exc.context and exc.problem else ""
    return YamlError("YamlSyntax", f"{problem}{context}", name=name, line=line, column=column)


def _show(value: str, limit: int = 60) -> str:
    """A value quoted for a message: control, bidi and other invisible characters escaped."""
    return show_text(value, limit)


def show_text(value: str, limit: int = 60) -> str:
    """Quote `value` for a message, escaping what a terminal would hide or reorder."""
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    out = []
    for char in value:
        if char.isprintable() and not _is_format_char(char):
            out.append(char)
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
    return "'" + "".join(out) + "'"


def _is_format_char(char: str) -> bool:
    return unicodedata.category(char) == "Cf"
