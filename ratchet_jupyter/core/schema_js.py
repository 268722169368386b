"""Compile a JSON Schema to a JavaScript predicate that batches run inside V8.

Validating 100,000 items in Python costs more than running them; V8 checks a
small schema in nanoseconds. The predicate is conservative: it returns true
only when the value is plain JSON data that certainly satisfies the schema,
and false when it is unsure. A false sends the item to the Python validator,
which stays the authority (and writes the error message). Schemas using
keywords outside the supported subset compile to ``None``: Python validates.
"""

from __future__ import annotations

import json
from typing import Any

_ANNOTATIONS = {
    "$schema", "$id", "$comment", "title", "description", "default", "examples",
    "readOnly", "writeOnly", "deprecated",
}
_SUPPORTED = _ANNOTATIONS | {
    "type", "properties", "required", "additionalProperties", "items", "enum", "const",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
    "minItems", "maxItems", "minProperties", "maxProperties", "anyOf", "allOf",
}
_TYPE_TESTS = {
    "string": 'typeof v === "string"',
    "number": 'typeof v === "number" && isFinite(v)',
    "integer": 'typeof v === "number" && Number.isInteger(v)',
    "boolean": 'typeof v === "boolean"',
    "null": "v === null",
    "object": "isObj(v)",
    "array": "Array.isArray(v)",
}
_HELPERS = """
  const proto = Object.prototype;
  const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v) &&
    (Object.getPrototypeOf(v) === proto || Object.getPrototypeOf(v) === null);
  const present = (v) => v !== undefined && typeof v !== "function" && typeof v !== "symbol";
  const scalar = (v) => v === null || typeof v === "string" || typeof v === "boolean" ||
    (typeof v === "number" && isFinite(v)) || Array.isArray(v) || isObj(v);
  const cpLen = (s) => { let n = 0; for (const _ of s) n++; return n; };
"""


class _Unsupported(Exception):
    pass


class _Compiler:
    def __init__(self) -> None:
        self.functions: list[str] = []

    def compile(self, schema: Any) -> str:
        """Emit a function for ``schema``; return its name."""
        name = f"s{len(self.functions)}"
        self.functions.append("")  # reserve the slot; nested schemas come after
        self.functions[int(name[1:])] = f"  function {name}(v) {{\n{self._body(schema)}    return true;\n  }}\n"
        return name

    def _body(self, schema: Any) -> str:
        if schema is True or schema == {}:
            return ""
        if schema is False:
            return "    return false;\n"
        if not isinstance(schema, dict) or set(schema) - _SUPPORTED:
            raise _Unsupported
        lines = ["    if (!scalar(v)) return false;\n"]
        add = lines.append
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not types or any(t not in _TYPE_TESTS for t in types):
                raise _Unsupported
            add(f"    if (!({' || '.join(f'({_TYPE_TESTS[t]})' for t in types)})) return false;\n")
        for key in ("enum", "const"):
            if key in schema:
                values = schema[key] if key == "enum" else [schema[key]]
                if not isinstance(values, list) or any(isinstance(x, (dict, list)) for x in values):
                    raise _Unsupported
                tests = " || ".join(f"v === {json.dumps(x)}" for x in values) or "false"
                add(f"    if (!({tests})) return false;\n")
        for key, op in (("minimum", "<"), ("maximum", ">"), ("exclusiveMinimum", "<="), ("exclusiveMaximum", ">=")):
            if key in schema:
                bound = schema[key]
                if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                    raise _Unsupported  # draft-04's boolean exclusive bounds
                add(f'    if (typeof v === "number" && v {op} {json.dumps(bound)}) return false;\n')
        for key, op, what in (
            ("minLength", "<", 'typeof v === "string" && cpLen(v)'),
            ("maxLength", ">", 'typeof v === "string" && cpLen(v)'),
            ("minItems", "<", "Array.isArray(v) && v.length"),
            ("maxItems", ">", "Array.isArray(v) && v.length"),
            ("minProperties", "<", "isObj(v) && Object.keys(v).filter((k) => present(v[k])).length"),
            ("maxProperties", ">", "isObj(v) && Object.keys(v).filter((k) => present(v[k])).length"),
        ):
            if key in schema:
                bound = schema[key]
                if isinstance(bound, bool) or not isinstance(bound, int):
                    raise _Unsupported
                guard, _, measure = what.rpartition(" && ")
                add(f"    if ({guard} && {measure} {op} {bound}) return false;\n")
        properties = schema.get("properties", {})
        if not isinstance(properties, dict):
            raise _Unsupported
        if properties or "required" in schema or "additionalProperties" in schema:
            add("    if (isObj(v)) {\n")
            for prop, sub in properties.items():
                fn = self.compile(sub)
                key = json.dumps(prop)
                add(f"      if (present(v[{key}]) && !{fn}(v[{key}])) return false;\n")
            required = schema.get("required", [])
            if not isinstance(required, list):
                raise _Unsupported
            for prop in required:
                add(f"      if (!present(v[{json.dumps(prop)}])) return false;\n")
            if "additionalProperties" in schema:
                extra = schema["additionalProperties"]
                known = json.dumps(sorted(properties))
                fn = self.compile(extra) if extra is not False else None
                add(f"      const known = new Set({known});\n")
                add("      for (const k of Object.keys(v)) {\n")
                add("        if (known.has(k) || !present(v[k])) continue;\n")
                add("        return false;\n" if fn is None else f"        if (!{fn}(v[k])) return false;\n")
                add("      }\n")
            add("    }\n")
        if "items" in schema:
            items = schema["items"]
            if not isinstance(items, (dict, bool)):
                raise _Unsupported  # tuple form
            fn = self.compile(items)
            add(f"    if (Array.isArray(v)) {{ for (const x of v) if (!{fn}(x)) return false; }}\n")
        for key in ("allOf", "anyOf"):
            if key in schema:
                subs = schema[key]
                if not isinstance(subs, list) or not subs:
                    raise _Unsupported
                names = [self.compile(s) for s in subs]
                joiner = " && " if key == "allOf" else " || "
                add(f"    if (!({joiner.join(f'{n}(v)' for n in names)})) return false;\n")
        return "".join(lines)


def compile_js_predicate(schema: Any) -> str | None:
    """JavaScript source of ``(function (v) {...})``: true when ``v`` surely matches.

    Returns None when the schema uses keywords outside the supported subset (or
    is absent): Python validation then handles every value.
    """
    if schema is None or schema is True or schema == {}:
        return None
    compiler = _Compiler()
    try:
        root = compiler.compile(schema)
    except _Unsupported:
        return None
    return "(function () {\n" + _HELPERS + "".join(compiler.functions) + f"  return {root};\n}})()"
