"""Turning jsonschema's errors into messages a publisher can act on.

jsonschema's own messages echo whole values and name keywords; these name the
property, say what is expected (using the schema's own title and
description), suggest the closest allowed name for a typo, explain an if/then
rule ("not allowed when leadDestination is 'none'"), and never echo a value
that looks like a secret.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from controller.files.yamlio import show_text
from controller.validation.issues import Issue, Path

if TYPE_CHECKING:  # importing jsonschema costs about half of `offerctl validate`'s start
    from jsonschema.exceptions import ValidationError

_TYPE_NAMES = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "null": "null",
}


def schema_issues(
    errors: Iterable[ValidationError], root: Mapping[str, Any] | bool, secrets: frozenset[Path]
) -> list[Issue]:
    """One or more `Issue`s per error, deduplicated, in the order jsonschema found them."""
    out: dict[tuple[Path, str], Issue] = {}
    for error in errors:
        for issue in _translate(error, root if isinstance(root, Mapping) else {}, secrets):
            out.setdefault((issue.path, issue.message), issue)
    return list(out.values())


def describe(value: Any) -> str:
    """A value's YAML type in words, for 'expected a string, got ...'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _translate(
    error: ValidationError, root: Mapping[str, Any], secrets: frozenset[Path]
) -> list[Issue]:
    path: Path = tuple(error.absolute_path)
    value: Any = error.validator_value
    keyword = str(error.validator) if error.validator is not None else "false"
    if keyword == "not" and error.validator_value == {}:  # how jsonschema reports a `false` schema
        keyword = "false"
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    shown = "(value not shown)" if path in secrets else _show(instance)
    condition = _condition(error, root)
    where = f" {condition}" if condition else ""

    if "propertyNames" in error.absolute_schema_path:
        rule = _rule_text(schema)
        return [
            Issue("SchemaPropertyName", f"key {_show(instance)} is not allowed here{rule}", path)
        ]
    if keyword == "required":
        missing = [name for name in value if isinstance(instance, dict) and name not in instance]
        return [
            Issue("SchemaRequired", f"missing required property '{name}'{where}", path)
            for name in missing
        ]
    if keyword == "additionalProperties" and isinstance(instance, dict):
        return _unknown_properties(instance, schema, path)
    if keyword == "false":
        return [
            Issue(
                "NotAllowed",
                f"property '{path[-1] if path else ''}' is not allowed{where}",
                path,
                at_key=True,
            )
        ]
    if keyword == "type":
        expected = value if isinstance(value, list) else [value]
        words = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in expected)
        return [Issue("SchemaType", f"expected {words}, got {describe(instance)}", path)]
    if keyword == "enum":
        options = [str(o) for o in value]
        if path == ("spec", "type"):
            message = f"unknown offer type {shown}; supported: {', '.join(options)}"
        else:
            message = f"{shown} is not one of: {', '.join(options)}"
        return [Issue("SchemaEnum", message + _suggest(instance, options), path)]
    if keyword == "const":
        return [Issue("SchemaConst", f"must be {_show(value)}{where}, not {shown}", path)]
    if keyword == "pattern":
        return [Issue("SchemaPattern", f"{shown} is not valid{_rule_text(schema)}", path)]
    if keyword == "format":
        return [Issue("SchemaFormat", f"{shown} is not a valid {value}", path)]
    if keyword in ("maxLength", "minLength") and isinstance(instance, str):
        limit = value
        if keyword == "minLength":
            message = (
                "must not be empty"
                if limit == 1
                else f"is {len(instance)} characters long; at least {limit} are required"
            )
        else:
            message = f"is {len(instance)} characters long; at most {limit} are allowed"
        return [Issue(f"Schema{keyword[0].upper()}{keyword[1:]}", message, path)]
    if keyword in ("maxItems", "minItems") and isinstance(instance, list):
        bound = "at most" if keyword == "maxItems" else "at least"
        return [
            Issue(
                f"Schema{keyword[0].upper()}{keyword[1:]}",
                f"has {len(instance)} items; {bound} {value} allowed"
                if keyword == "maxItems"
                else f"has {len(instance)} items; {bound} {value} required",
                path,
            )
        ]
    if keyword in ("maxProperties", "minProperties") and isinstance(instance, dict):
        bound = "at most" if keyword == "maxProperties" else "at least"
        return [
            Issue(
                f"Schema{keyword[0].upper()}{keyword[1:]}",
                f"has {len(instance)} entries; {bound} {value} expected",
                path,
            )
        ]
    if keyword == "uniqueItems" and isinstance(instance, list):
        return [
            Issue("SchemaUniqueItems", f"lists {_first_duplicate(instance)} more than once", path)
        ]
    if keyword == "dependentRequired" and isinstance(instance, dict):
        return [
            Issue("SchemaDependentRequired", f"'{name}' requires '{need}'", path)
            for name, needs in value.items()
            if name in instance
            for need in needs
            if need not in instance
        ]
    if keyword in ("anyOf", "oneOf") and error.context:
        best = min(error.context, key=lambda e: len(list(e.absolute_schema_path)))
        return _translate(best, root, secrets)
    code = f"Schema{keyword[0].upper()}{keyword[1:]}" if keyword else "Schema"
    message = error.message if path not in secrets else f"value does not satisfy '{keyword}'"
    return [Issue(code, _clip(message), path)]


def _unknown_properties(
    instance: Mapping[str, Any], schema: Mapping[str, Any], path: Path
) -> list[Issue]:
    known = list(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    issues = []
    for key in instance:
        if key in known or any(re.search(p, str(key)) for p in patterns):
            continue
        if patterns and not known:
            rule = f"; keys here must match {patterns[0]}"
            issues.append(
                Issue(
                    "UnknownProperty",
                    f"key {_show(key)} is not allowed{rule}",
                    (*path, key),
                    at_key=True,
                )
            )
        else:
            issues.append(
                Issue(
                    "UnknownProperty",
                    f"unknown property {_show(key)}" + _suggest(key, known),
                    (*path, key),
                    at_key=True,
                )
            )
    return issues


def _suggest(value: Any, options: Sequence[str]) -> str:
    if not isinstance(value, str) or not options:
        return ""
    lowered = {o.lower(): o for o in options}
    if value.lower() in lowered:
        return f"; did you mean '{lowered[value.lower()]}'?"
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.75)
    return f"; did you mean '{close[0]}'?" if close else ""


def _rule_text(schema: Mapping[str, Any]) -> str:
    description = schema.get("description")
    if isinstance(description, str) and description:
        return f": {_clip(description, 200)}"
    pattern = schema.get("pattern")
    return f": must match {pattern}" if isinstance(pattern, str) else ""


def _condition(error: ValidationError, root: Mapping[str, Any]) -> str:
    """'when leadDestination is 'none'' for an error raised by an if/then/else rule."""
    schema_path = list(error.absolute_schema_path)
    branch_at = max((i for i, k in enumerate(schema_path) if k in ("then", "else")), default=-1)
    # Only a rule written in the branch itself ("then": {"required": [...]}) is
    # conditional; one deep inside a schema the branch refers to is not.
    if branch_at < 0 or len(schema_path) - branch_at > 4:
        return ""
    branch = _walk(root, schema_path[: branch_at + 1])
    if not isinstance(branch, dict) or schema_path[branch_at + 1] not in branch:
        return ""  # the branch only refers to another schema (spec.type selecting a type)
    container = _walk(root, [*schema_path[:branch_at], "if"])
    condition = container if isinstance(container, dict) else None
    if not isinstance(condition, dict):
        return ""
    parts = []
    for name, rule in condition.get("properties", {}).items():
        if isinstance(rule, dict) and "const" in rule:
            parts.append(f"{name} is {_show(rule['const'])}")
    if not parts:
        return ""
    return ("when " if schema_path[branch_at] == "then" else "unless ") + " and ".join(parts)


def _walk(root: Mapping[str, Any], schema_path: Sequence[Any]) -> Any:
    """Follow a schema path through the root schema, resolving local `$ref`s on the way.

    jsonschema leaves `$ref` out of the path, so a key missing from a schema
    that has a `$ref` is looked up in the referenced schema.
    """
    node: Any = root
    for key in schema_path:
        for _ in range(32):  # a chain of $refs, bounded
            if isinstance(node, dict) and key not in node and "$ref" in node:
                node = _resolve_local(root, str(node["$ref"]))
            else:
                break
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _resolve_local(root: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _first_duplicate(items: list[Any]) -> str:
    seen: list[Any] = []
    for item in items:
        if item in seen:
            return _show(item)
        seen.append(item)
    return "an item"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return show_text(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float) or value is None:
        return "null" if value is None else repr(value)
    return describe(value)


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
