"""JSON Schema validation with compiled, cached validators.

Draft-04/06/07 schemas are compiled to Python by ``fastjsonschema`` (about a
microsecond per small object, which keeps validation from dominating the
cost of a small task). Draft 2019-09 and 2020-12 schemas, which it does not
understand, go through ``jsonschema``'s validators. Either way a failure is a
:class:`~ratchet_jupyter.core.errors.ValidationError` naming the JSON path,
the rule broken and the offending value.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Callable

import fastjsonschema

from .errors import SchemaError, ValidationError

Validator = Callable[[Any], None]

_NEW_DRAFTS = ("2019-09", "2020-12")
_KNOWN_FORMATS = {
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname",
    "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference",
    "uuid", "uri-template", "json-pointer", "relative-json-pointer", "regex",
}
_cache: dict[tuple[str, bool], Validator] = {}
_cache_lock = threading.Lock()
_CACHE_LIMIT = 2048


def json_path(parts: Any) -> str:
    """Render a sequence of keys and indices as a JSON path (``$.a[0].b``)."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_new_draft(schema: Any) -> bool:
    uri = schema.get("$schema", "") if isinstance(schema, dict) else ""
    return any(d in uri for d in _NEW_DRAFTS)


def _iter_formats(node: Any):
    if isinstance(node, dict):
        fmt = node.get("format")
        if isinstance(fmt, str):
            yield fmt
        for value in node.values():
            yield from _iter_formats(value)
    elif isinstance(node, list):
        for value in node:
            yield from _iter_formats(value)


def check_schema(schema: Any, *, strict: bool = False, where: str = "schema") -> None:
    """Raise :class:`SchemaError` if ``schema`` is not a usable JSON Schema.

    In strict mode the schema must also be valid against its meta-schema and
    may use only the formats the validators know.
    """
    if not isinstance(schema, (dict, bool)):
        raise SchemaError(
            f"{where} must be a JSON object, not {type(schema).__name__}",
            operation="compile schema",
            details={"where": where},
        )
    if not strict:
        return
    import jsonschema  # only strict mode pays for the meta-schema check

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise SchemaError(
            f"{where} is not a valid JSON Schema at {json_path(exc.absolute_path)}: {exc.message}",
            operation="compile schema",
            details={"where": where, "path": json_path(exc.absolute_path), "rule": exc.validator},
        ) from None
    unknown = sorted({f for f in _iter_formats(schema) if f not in _KNOWN_FORMATS})
    if unknown:
        raise SchemaError(
            f"{where} uses unknown format(s): {', '.join(unknown)} (strict mode)",
            operation="compile schema",
            details={"where": where, "formats": unknown},
        )


def _compile_fast(schema: Any) -> Validator:
    validate = fastjsonschema.compile(schema, use_default=False)
    explain: list[Validator] = []

    def run(value: Any) -> None:
        try:
            validate(value)
        except fastjsonschema.JsonSchemaValueException as exc:
            # The fast validator's path splits keys at dots; failures are rare, so let
            # jsonschema name the place precisely.
            if not explain:
                explain.append(_compile_jsonschema(schema, default_draft7=True))
            explain[0](value)
            name = exc.name or "data"
            message = exc.message[len(name):].strip() if exc.message.startswith(name) else exc.message
            raise _failure(json_path(exc.path[1:] if exc.path else []), exc.rule, exc.value, message) from None

    return run


def _compile_jsonschema(schema: Any, default_draft7: bool = False) -> Validator:
    import jsonschema

    default = jsonschema.Draft7Validator if default_draft7 else jsonschema.Draft202012Validator
    cls = jsonschema.validators.validator_for(schema, default=default)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)

    def run(value: Any) -> None:
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            raise _failure(json_path(error.absolute_path), error.validator, error.instance, error.message)

    return run


def _failure(path: str, rule: Any, value: Any, message: str) -> ValidationError:
    return ValidationError(
        f"{path}: {message or 'invalid'} (rule '{rule}', value {_short(value)})",
        operation="validate",
        details={"path": path, "rule": rule, "value": value},
    )


def compile_validator(schema: Any, *, strict: bool = False, where: str = "schema") -> Validator:
    """Return a cached callable that raises :class:`ValidationError` for bad values.

    Parameters
    ----------
    schema
        A JSON Schema (dict or bool). ``None`` or ``{}`` accepts anything.
    strict
        Check the schema against its meta-schema and refuse unknown formats.
    where
        Used in error messages (``"input schema"``, ``"output schema"``).
    """
    if schema is None or schema == {} or schema is True:
        return _accept_all
    check_schema(schema, strict=strict, where=where)
    key = (json.dumps(schema, sort_keys=True), strict)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    try:
        if _is_new_draft(schema):
            validator = _compile_jsonschema(schema)
        else:
            try:
                validator = _compile_fast(schema)
            except fastjsonschema.JsonSchemaDefinitionException:
                validator = _compile_jsonschema(schema)
    except Exception as exc:  # noqa: BLE001 - any compile failure is a schema problem
        raise SchemaError(
            f"{where} cannot be compiled: {exc}", operation="compile schema", details={"where": where}
        ) from None
    with _cache_lock:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[key] = validator
    return validator


def _accept_all(value: Any) -> None:
    return None


def validate(value: Any, schema: Any, *, which: str = "value", strict: bool = False) -> None:
    """Validate ``value`` against ``schema``, raising :class:`ValidationError`."""
    try:
        compile_validator(schema, strict=strict, where=f"{which} schema")(value)
    except ValidationError as exc:
        if not isinstance(exc, SchemaError):
            exc.details["which"] = which
            exc.message = f"{which} {exc.message}"
            exc.args = (exc.message,)
        raise
