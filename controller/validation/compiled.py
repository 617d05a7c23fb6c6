"""A JSON Schema compiled into nested closures: a fast yes/no for the common, valid case.

jsonschema interprets the schema on every call (descend, evolve, reference
lookups), which costs milliseconds per manifest. Offers are valid far more
often than not, so the engine asks this compiled predicate first and runs
jsonschema's `iter_errors` only when the answer is no, to explain why.

Only the keywords our schemas use are compiled; a schema with any other
validation keyword (or a non-local `$ref`) raises `Unsupported` and the
caller keeps using jsonschema. Semantics follow draft 2020-12 as jsonschema
implements them (e.g. `1.0` is an integer, `true` is not a number, `re.search`
for patterns); a differential test holds the two to the same answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing jsonschema costs about half of `offerctl validate`'s start
    from jsonschema import FormatChecker

Check = Callable[[Any], bool]

# Keywords that never affect validity.
_ANNOTATIONS = frozenset(
    {
        "$schema", "$id", "$defs", "definitions", "$comment", "title", "description",
        "default", "examples", "deprecated", "readOnly", "writeOnly", "$anchor",
    }
)  # fmt: skip


class Unsupported(Exception):
    """The schema uses something this compiler does not handle."""


def compile_schema(root: Mapping[str, Any], format_checker: FormatChecker | None) -> Check:
    """A predicate equal to `validator.is_valid` for `root`, or `Unsupported`."""
    return _Compiler(root, format_checker).compile(root)


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if name == "number":
        return isinstance(value, int | float)
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    raise Unsupported(f"type {name}")


def _equal(a: Any, b: Any) -> bool:
    """jsonschema's equality: booleans are not numbers, 1 == 1.0, containers compare deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return bool(a == b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return False
    same: bool = a == b
    return same


_Fused = tuple[Check, int]  # a check for the first n keywords

# Patterns of the shipped schemas, rewritten for Python's regex engine. Matching
# `(?:[^<]|<...)*` took a repetition per character of a listing's text; runs of the
# characters between the "<"s, then each "<" with its own rule, match the same strings
# (tests/validation/test_compiled_patterns.py holds each pair to the same answers).
# Only this yes/no uses them: jsonschema, which explains a failure, keeps the schema's.
EQUIVALENT_PATTERNS: dict[str, str] = {
    r"^(?:[^<]|<(?:/?(?:p|b|i|em|br|ul|ol|li|h[1-6]))\s*/?>)*$": (
        r"^[^<]*(?:<(?:/?(?:p|b|i|em|br|ul|ol|li|h[1-6]))\s*/?>[^<]*)*$"
    ),
    r"^(?:[^<]|<(?![A-Za-z/!?]))*$": r"^[^<]*(?:<(?![A-Za-z/!?])[^<]*)*$",
    r"^(?!\s)(?:[^<\r\n]|<(?![A-Za-z/!?]))*(?<!\s)$": (
        r"^(?!\s)[^<\r\n]*(?:<(?![A-Za-z/!?])[^<\r\n]*)*(?<!\s)$"
    ),
}


def _search(pattern: str) -> Callable[[str], re.Match[str] | None]:
    return re.compile(EQUIVALENT_PATTERNS.get(pattern, pattern)).search


def _fused_string(schema: Mapping[str, Any], keywords: list[str]) -> _Fused | None:
    """type: string with any of pattern, minLength, maxLength (none of which can raise or
    descend, so their order is free), or with an enum of strings: one check."""
    if not keywords or keywords[0] != "type" or schema["type"] != "string":
        return None
    rest = keywords[1:]
    if rest == ["enum"]:
        options = schema["enum"]
        if isinstance(options, list) and all(isinstance(o, str) for o in options):
            allowed = frozenset(options)
            return (lambda value: isinstance(value, str) and value in allowed), 2
        return None
    if not rest or not set(rest) <= {"pattern", "minLength", "maxLength"}:
        return None
    pattern = schema.get("pattern")
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if not (
        (pattern is None or isinstance(pattern, str))
        and _is_count(low)
        and (high is None or _is_count(high))
    ):
        return None
    search = None if pattern is None else _search(pattern)
    if search is not None and low == 0 and high is None:
        return (lambda value: isinstance(value, str) and search(value) is not None), len(keywords)
    top = high

    def check(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        size = len(value)
        if size < low or (top is not None and size > top):
            return False
        return search is None or search(value) is not None

    return check, len(keywords)


def _is_names(value: Any) -> bool:
    """A `required` list of property names (text), as the metaschema has it."""
    return isinstance(value, list) and all(type(name) is str for name in value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _unique(items: list[Any]) -> bool:
    if all(isinstance(item, str) for item in items):
        return len(set(items)) == len(items)
    try:  # a set of hashable stand-ins, equal exactly when `_equal` says the items are
        return len({_frozen(item) for item in items}) == len(items)
    except _NotFrozen:
        pass
    return not any(_equal(items[i], items[j]) for i in range(len(items)) for j in range(i))


class _NotFrozen(Exception):
    """A value `_frozen` cannot stand in for: `_unique` compares pairs with `_equal`."""


def _frozen(value: Any) -> Any:
    """A hashable stand-in for JSON data, equal to another's exactly when `_equal` says the
    values are: text, an int, null, a list (a tuple) and a mapping with text keys (a frozenset
    of its items). Anything else raises `_NotFrozen`: a bool (Python's True == 1 is not
    JSON's), a float (1 == 1.0 is, but NaN is not equal to itself), any other type."""
    kind = type(value)
    if kind is str or kind is int or value is None:
        return value
    if kind is list:
        return tuple([_frozen(item) for item in value])
    if kind is dict:
        for key in value:
            if type(key) is not str:
                raise _NotFrozen
        return frozenset([(key, _frozen(item)) for key, item in value.items()])
    raise _NotFrozen


def _every(checks: list[Check]) -> Check:
    """A check that all of `checks` pass, in order, stopping at the first that fails.

    Loops rather than `all()` over a generator: a manifest passes through these
    combinators some hundred thousand times in a 1,000-offer pass."""
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:  # the common pair: a type and one keyword more
        first, second = checks
        return lambda value: first(value) and second(value)
    if len(checks) == 3:  # a chain of `and`, unrolled: no loop per call
        first, second, third = checks
        return lambda value: first(value) and second(value) and third(value)
    if len(checks) == 4:  # an object: type, properties, required, additionalProperties
        first, second, third, fourth = checks
        return lambda value: first(value) and second(value) and third(value) and fourth(value)

    def every(value: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a loop: all() would make a generator per call
            if not check(value):
                return False
        return True

    return every


class _Compiler:
    def __init__(self, root: Mapping[str, Any], format_checker: FormatChecker | None) -> None:
        self.root = root
        self.format_checker = format_checker
        self.refs: dict[str, list[Check]] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True or schema == {}:
            return lambda _value: True
        if schema is False:
            return lambda _value: False
        if not isinstance(schema, dict):
            raise Unsupported("schema is not an object")
        keywords = [k for k in schema if k not in _ANNOTATIONS and k not in ("then", "else")]
        fused = (
            _fused_string(schema, keywords)
            or self._fused_object(schema, keywords)
            or self._fused_array(schema, keywords)
            or self._fused_members(schema, keywords)
        )
        checks: list[Check] = []
        if fused is not None:
            check, keywords = fused[0], keywords[fused[1] :]
            checks.append(check)
        for keyword in keywords:
            build = getattr(self, "_k_" + keyword.replace("$", "dollar_"), None)
            if build is None:
                raise Unsupported(keyword)
            checks.append(build(schema[keyword], schema))
        return _every(checks)

    # -- the commonest keyword groups as one check each ---------------------------------------
    #
    # A manifest passes through a few dozen objects and strings; one closure per keyword
    # made each a handful of calls. These groups answer as their keywords' checks would,
    # in the same order where order can matter (an object's members are checked in the
    # order its keywords run them, so the same document fails or raises at the same spot).

    def _fused_object(self, schema: Mapping[str, Any], keywords: list[str]) -> _Fused | None:
        """type: object, additionalProperties, required, properties (in this order, as our
        schemas write them), with no patternProperties: one check, same order."""
        if (
            keywords[:4] != ["type", "additionalProperties", "required", "properties"]
            or schema["type"] != "object"
            or "patternProperties" in schema
            or not _is_names(schema["required"])
            or not isinstance(schema["properties"], dict)
        ):
            return None
        extra = schema["additionalProperties"]
        names = frozenset(schema["required"])
        known = frozenset(schema["properties"])
        extra_check = None if extra is False else self.compile(extra)
        pairs = tuple((name, self.compile(sub)) for name, sub in schema["properties"].items())

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return False
            if extra_check is None:  # additionalProperties: false
                if not known.issuperset(value):
                    return False
            else:
                for key, item in value.items():
                    if key not in known and not extra_check(item):
                        return False
            if not value.keys() >= names:  # every required name, in one set comparison
                return False
            for name, sub in pairs:  # noqa: SIM110 - a loop: see _every
                if name in value and not sub(value[name]):
                    return False
            return True

        return check, 4

    def _fused_members(self, schema: Mapping[str, Any], keywords: list[str]) -> _Fused | None:
        """properties and required, in either order, without a type (the `if` of an
        if/then, a `then`): one check. Neither keyword can raise or fail by descending
        in a way the other could pre-empt, so required (a set comparison) goes first."""
        if (
            keywords[:2] not in (["properties", "required"], ["required", "properties"])
            or not _is_names(schema["required"])
            or not isinstance(schema["properties"], dict)
        ):
            return None
        names = frozenset(schema["required"])
        pairs = tuple((name, self.compile(sub)) for name, sub in schema["properties"].items())

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            if not value.keys() >= names:
                return False
            for name, sub in pairs:  # noqa: SIM110 - a loop: see _every
                if name in value and not sub(value[name]):
                    return False
            return True

        return check, 2

    def _fused_array(self, schema: Mapping[str, Any], keywords: list[str]) -> _Fused | None:
        """type: array, then any of minItems, maxItems, uniqueItems (none of which can raise
        or descend, so their order is free), then perhaps items: one check, same order."""
        if not keywords or keywords[0] != "type" or schema["type"] != "array":
            return None
        count = 1
        while count < len(keywords) and keywords[count] in ("minItems", "maxItems", "uniqueItems"):
            count += 1
        group = keywords[1:count]  # only these: one met after `items` runs after it, alone
        low = schema["minItems"] if "minItems" in group else 0
        high = schema["maxItems"] if "maxItems" in group else None
        unique = "uniqueItems" in group and bool(schema["uniqueItems"])
        if not (_is_count(low) and (high is None or _is_count(high))):
            return None
        item_check: Check | None = None
        if count < len(keywords) and keywords[count] == "items":
            if not isinstance(schema["items"], dict | bool):
                return None  # the array form: `_k_items` says it is unsupported
            item_check = self.compile(schema["items"])
            count += 1
        if count == 1:
            return None
        top = high

        def check(value: Any) -> bool:
            if not isinstance(value, list):
                return False
            size = len(value)
            if size < low or (top is not None and size > top):
                return False
            if unique and not _unique(value):
                return False
            if item_check is not None:
                for item in value:
                    if not item_check(item):
                        return False
            return True

        return check, count

    # -- references and combinators ----------------------------------------------------------

    def _k_dollar_ref(self, ref: str, _schema: Any) -> Check:
        if not ref.startswith("#"):
            raise Unsupported(f"non-local $ref {ref}")
        if ref not in self.refs:
            slot: list[Check] = []  # filled after compiling: a recursive $ref sees the slot
            self.refs[ref] = slot
            slot.append(self.compile(self._resolve(ref)))
        slot = self.refs[ref]
        if slot:  # compiled already: call it directly, with no indirection per call
            return slot[0]
        # A recursive $ref, met while its own target compiles: slot[0] is read at call time.
        return lambda value: slot[0](value)  # noqa: PLW0108

    def _resolve(self, ref: str) -> Any:
        node: Any = self.root
        for raw in ref[2:].split("/") if ref.startswith("#/") else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise Unsupported(f"unresolvable $ref {ref}")
            node = node[part]
        return node

    def _k_allOf(self, schemas: list[Any], _schema: Any) -> Check:
        return _every([self.compile(s) for s in schemas])

    def _k_anyOf(self, schemas: list[Any], _schema: Any) -> Check:
        checks = [self.compile(s) for s in schemas]

        def check(value: Any) -> bool:
            for one in checks:  # noqa: SIM110 - a loop: see _every
                if one(value):
                    return True
            return False

        return check

    def _k_oneOf(self, schemas: list[Any], _schema: Any) -> Check:
        checks = [self.compile(s) for s in schemas]
        return lambda value: sum(1 for check in checks if check(value)) == 1

    def _k_not(self, schema: Any, _schema: Any) -> Check:
        check = self.compile(schema)
        return lambda value: not check(value)

    def _k_if(self, schema: Any, parent: Mapping[str, Any]) -> Check:
        test = self.compile(schema)
        then = self.compile(parent.get("then", True))
        otherwise = self.compile(parent.get("else", True))
        return lambda value: then(value) if test(value) else otherwise(value)

    # -- any type --------------------------------------------------------------------------

    def _k_type(self, names: str | list[str], _schema: Any) -> Check:
        wanted = [names] if isinstance(names, str) else list(names)
        for name in wanted:
            _is_type(None, name)  # raises Unsupported for unknown type names
        if wanted == ["object"]:
            return lambda value: isinstance(value, dict)
        if wanted == ["string"]:
            return lambda value: isinstance(value, str)
        if wanted == ["array"]:
            return lambda value: isinstance(value, list)
        return lambda value: any(_is_type(value, name) for name in wanted)

    def _k_enum(self, options: list[Any], _schema: Any) -> Check:
        if all(isinstance(o, str) for o in options):
            allowed = frozenset(options)
            return lambda value: isinstance(value, str) and value in allowed
        return lambda value: any(_equal(value, option) for option in options)

    def _k_const(self, const: Any, _schema: Any) -> Check:
        if isinstance(const, bool):  # `_equal` to a bool: the same bool, nothing else
            return lambda value: value is const
        if type(const) is str:  # `_equal` to text: `==`, as below for any other value
            return lambda value: value == const if type(value) is str else _equal(value, const)
        return lambda value: _equal(value, const)

    def _k_format(self, name: str, _schema: Any) -> Check:
        checker = self.format_checker
        if checker is None or name not in checker.checkers:
            return lambda _value: True
        return lambda value: checker.conforms(value, name)

    # -- strings -----------------------------------------------------------------------------

    def _k_pattern(self, pattern: str, _schema: Any) -> Check:
        search = _search(pattern)
        return lambda value: not isinstance(value, str) or search(value) is not None

    def _k_minLength(self, limit: int, _schema: Any) -> Check:
        return lambda value: not isinstance(value, str) or len(value) >= limit

    def _k_maxLength(self, limit: int, _schema: Any) -> Check:
        return lambda value: not isinstance(value, str) or len(value) <= limit

    # -- numbers -----------------------------------------------------------------------------

    def _number(self, test: Callable[[Any], bool]) -> Check:
        return lambda value: (
            isinstance(value, bool) or not isinstance(value, int | float) or test(value)
        )

    def _k_minimum(self, limit: float, _schema: Any) -> Check:
        return self._number(lambda value: value >= limit)

    def _k_maximum(self, limit: float, _schema: Any) -> Check:
        return self._number(lambda value: value <= limit)

    def _k_exclusiveMinimum(self, limit: float, _schema: Any) -> Check:
        return self._number(lambda value: value > limit)

    def _k_exclusiveMaximum(self, limit: float, _schema: Any) -> Check:
        return self._number(lambda value: value < limit)

    # -- arrays ------------------------------------------------------------------------------

    def _k_items(self, schema: Any, _schema: Any) -> Check:
        if isinstance(schema, list):
            raise Unsupported("array form of items")
        check = self.compile(schema)

        def every_item(value: Any) -> bool:
            if isinstance(value, list):
                for item in value:
                    if not check(item):
                        return False
            return True

        return every_item

    def _k_minItems(self, limit: int, _schema: Any) -> Check:
        return lambda value: not isinstance(value, list) or len(value) >= limit

    def _k_maxItems(self, limit: int, _schema: Any) -> Check:
        return lambda value: not isinstance(value, list) or len(value) <= limit

    def _k_uniqueItems(self, flag: bool, _schema: Any) -> Check:
        if not flag:
            return lambda _value: True
        return lambda value: not isinstance(value, list) or _unique(value)

    # -- objects -----------------------------------------------------------------------------

    def _k_properties(self, properties: Mapping[str, Any], _schema: Any) -> Check:
        checks = {name: self.compile(schema) for name, schema in properties.items()}

        pairs = tuple(checks.items())

        def check(value: Any) -> bool:
            if isinstance(value, dict):
                for name, sub in pairs:
                    if name in value and not sub(value[name]):
                        return False
            return True

        return check

    def _k_patternProperties(self, patterns: Mapping[str, Any], _schema: Any) -> Check:
        checks = [(re.compile(p).search, self.compile(s)) for p, s in patterns.items()]

        def check(value: Any) -> bool:
            if isinstance(value, dict):
                for key, item in value.items():  # loops, not all(generator): see _every
                    for search, sub in checks:
                        if search(key) and not sub(item):
                            return False
            return True

        return check

    def _k_additionalProperties(self, schema: Any, parent: Mapping[str, Any]) -> Check:
        known = frozenset(parent.get("properties", {}))
        searches = [re.compile(p).search for p in parent.get("patternProperties", {})]
        sub = self.compile(schema)

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key, item in value.items():
                if key in known or any(search(key) for search in searches):
                    continue
                if not sub(item):
                    return False
            return True

        return check

    def _k_required(self, names: list[str], _schema: Any) -> Check:
        def check(value: Any) -> bool:
            if isinstance(value, dict):
                for name in names:
                    if name not in value:
                        return False
            return True

        return check

    def _k_minProperties(self, limit: int, _schema: Any) -> Check:
        return lambda value: not isinstance(value, dict) or len(value) >= limit

    def _k_maxProperties(self, limit: int, _schema: Any) -> Check:
        return lambda value: not isinstance(value, dict) or len(value) <= limit

    def _k_propertyNames(self, schema: Any, _schema: Any) -> Check:
        check = self.compile(schema)
        return lambda value: not isinstance(value, dict) or all(check(key) for key in value)

    def _k_dependentRequired(self, rules: Mapping[str, list[str]], _schema: Any) -> Check:
        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            return all(
                need in value for name, needs in rules.items() if name in value for need in needs
            )

        return check
