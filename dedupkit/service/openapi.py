"""The OpenAPI document: FastAPI's, made to say exactly what the endpoints accept.

FastAPI writes the document from the routes' signatures. What the endpoints
check in code, some of it set by the server's settings, is added here:

- ``POST /images``: ``files`` is one or more binary uploads (``format:
  binary``: Swagger UI gives each a file picker, and a client generated from
  the document sends files, not text).
- ``POST /search``: either ``file`` or ``hash``, not both; ``hash`` is exactly
  ``n_bits / 4`` hex digits; ``verify=true`` in the form needs the file. An
  empty form field counts as not given (FastAPI's rule for forms), which is
  also what Swagger UI sends for a field left blank: the ``hash`` example is
  empty, so that "Try it out" does not fill in a hash beside the file.
- ``max_distance``: 0 to ``n_bits``.
- An optional parameter is left out, never ``null``: FastAPI's ``anyOf`` with
  ``null`` for ``int | None`` is dropped.
- Every 422 is an ``ErrorResponse`` (a one-line ``detail``, and FastAPI's
  ``errors`` list when the parameter checks failed): the app's handler
  answers so, not with FastAPI's ``HTTPValidationError``.

``tests/test_service_server.py`` runs schemathesis against a real server to
check that the endpoints and this document agree.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

__all__ = ["openapi_document"]

#: An uploaded file, as both OpenAPI 3.0 (``format``) and 3.1 (``contentMediaType``) spell it.
_BINARY = {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}


def openapi_document(app: FastAPI, *, n_bits: int) -> dict[str, Any]:
    """The app's OpenAPI document (made once, then cached like FastAPI's own ``app.openapi()``).

    Parameters
    ----------
    app
        The service (:func:`dedupkit.service.app.create_app`).
    n_bits
        Bits per hash of the server (its settings' ``n_bits``).
    """
    if app.openapi_schema is None:
        app.openapi_schema = _refine(FastAPI.openapi(app), n_bits=n_bits)
    return app.openapi_schema


def _refine(document: dict[str, Any], *, n_bits: int) -> dict[str, Any]:
    paths = document["paths"]
    for operations in paths.values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if not parameter.get("required"):
                    parameter["schema"] = _not_null(parameter["schema"])
    for path in ("/images", "/search"):
        for parameter in paths[path]["post"]["parameters"]:
            if parameter["name"] == "max_distance":
                parameter["schema"].update(minimum=0, maximum=n_bits)

    for operations in paths.values():  # the app's validation handler answers with an ErrorResponse
        for operation in operations.values():
            invalid = operation.get("responses", {}).get("422", {}).get("content", {}).get("application/json", {})
            if invalid.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                invalid["schema"] = {"$ref": "#/components/schemas/ErrorResponse"}
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)

    files = _form(document, "/images")["properties"]["files"]
    files.update(items=dict(_BINARY), minItems=1)

    form = _form(document, "/search")
    described = {name: schema.get("description") for name, schema in form["properties"].items()}
    for name, python_name in (("hash", "hash_hex"), ("verify", "verify_form")):  # FastAPI < 0.11x: no aliases here
        described.setdefault(name, described.get(python_name))
    digits = n_bits // 4
    given = {"required": ["hash"], "properties": {"hash": {"minLength": 1}}}
    form.update(
        properties={
            "file": {**_BINARY, "description": described["file"]},
            "hash": {"type": "string", "pattern": f"^([0-9a-fA-F]{{{digits}}})?$", "examples": [""],
                     "description": f"{described['hash']}: {digits} hex digits (empty: not given)"},
            "verify": {"type": "boolean", "default": False, "description": described["verify"]},
        },
        # said with anyOf and dependentSchemas, not oneOf and not: schemathesis 4.32's coverage phase cannot
        # check an uploaded file against a "not" (a runtime error, "Unsupported type: 'Binary'")
        anyOf=[{"required": ["file"]}, given],  # a file or a hash ...
        dependentSchemas={
            "file": {"properties": {"hash": {"maxLength": 0}}},  # ... not both
            "verify": {"anyOf": [{"properties": {"verify": {"const": False}}}, {"required": ["file"]}]},
        },
    )
    return document


def _form(document: dict[str, Any], path: str) -> dict[str, Any]:
    """The schema of the multipart body of ``POST path`` (FastAPI puts it in ``components``)."""
    schema = document["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    if "$ref" not in schema and len(schema.get("allOf", [])) == 1:  # FastAPI before 0.11x wraps the reference
        schema = schema["allOf"][0]
    if "$ref" not in schema:  # inline
        return schema
    return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without the ``null`` branch FastAPI adds for ``X | None``."""
    branches = [branch for branch in schema.get("anyOf", []) if branch.get("type") != "null"]
    if len(branches) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**branches[0], **rest}
