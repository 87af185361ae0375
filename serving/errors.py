"""Errors as HTTP answers: one body shape (`ErrorOut`) for all of them.

Domain code raises domain errors; routes turn them into `ApiError`s; the handlers here
write them. Bad input is 422 with the field path and reason of every problem; what an
answer echoes is made encodable first (a lone surrogate such as `\ud800` is sent as its escape
text). The handler for unexpected exceptions is a last resort: it logs the traceback with the
request id and answers a JSON 500 naming that id, never the traceback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.contract import RowProblem
from serving.schemas import ErrorItemJson, ErrorJson, ErrorOut

__all__ = ["ERROR_RESPONSES", "ApiError", "Responses", "documented", "encodable", "error_body",
           "install_handlers", "linked", "validation_items"]

log = logging.getLogger("channelcast.serving")
Responses: TypeAlias = dict[int | str, dict[str, Any]]
"""FastAPI's `responses=` (status -> OpenAPI response object): its own type, free-form."""


def _doc(text: str) -> dict[str, object]:
    return {"model": ErrorOut, "description": text}


def linked(status: int, field: str, **targets: str) -> Responses:
    """OpenAPI links of a `status` answer: each target (name=`METHOD /path/{param}`) takes its
    one path parameter from the answer's `field`, so clients and stateful tests can chain calls
    (POST /v1/allocations -> GET /v1/allocations/{allocation_id} with the answer's `id`)."""
    links = {}
    for name, target in targets.items():
        method, path = target.split(" ", 1)
        param = path[path.index("{") + 1: path.index("}")]
        pointer = path.replace("~", "~0").replace("/", "~1")
        links[name] = {"operationRef": f"#/paths/{pointer}/{method.lower()}",
                       "parameters": {param: f"$response.body#/{field}"}}
    return {status: {"links": links}}


def documented(**texts: str) -> Responses:
    """Route-specific error answers for OpenAPI, e.g. `documented(_404="unknown sku")`."""
    return {int(code.lstrip("_")): _doc(text) for code, text in texts.items()}


ERROR_RESPONSES: Responses = {
    401: _doc("missing, unknown or revoked API key"),
    403: _doc("the key's role may not do this"),
    404: _doc("unknown series, node, sku, allocation or key (each named)"),
    409: _doc("conflict: Idempotency-Key reused with another request, or the state does not "
              "allow this"),
    413: _doc("request body over the size limit"),
    422: _doc("bad input: every problem with its field path and reason"),
    503: _doc("no model loaded yet"),
    500: _doc("internal error (never expected): the answer names the request id under which "
              "it is logged"),
}
"""Answers every authenticated route may give (added to each router)."""


class ApiError(Exception):
    """An answer other than success: status, a sentence, and per-field problems."""

    def __init__(self, status: int, detail: str, *,
                 errors: Sequence[RowProblem | ErrorItemJson] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = [e.as_dict() if isinstance(e, RowProblem) else e for e in errors or []]
        self.headers = headers


def encodable(text: str) -> str:
    """`text` UTF-8 encodable: lone surrogates become their escape text (`"\\ud800"`), so an
    answer that echoes input can always be written."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _encodable_item(item: ErrorItemJson) -> ErrorItemJson:
    out = item.copy()  # the keys keep their order
    out["loc"] = [p if isinstance(p, int) else encodable(p) for p in item["loc"]]
    out["msg"], out["type"] = encodable(item["msg"]), encodable(item["type"])
    if "value" in item:
        value = item["value"]
        out["value"] = None if value is None else encodable(value)
    return out


def error_body(detail: str, errors: Sequence[ErrorItemJson] | None = None) -> ErrorJson:
    """The `ErrorOut` body, safe to encode whatever the input it echoes."""
    body: ErrorJson = {"detail": encodable(detail)}
    if errors:
        body["errors"] = [_encodable_item(e) for e in errors]
    return body


def _path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_items(errors: Sequence[Mapping[str, object]]) -> list[ErrorItemJson]:
    """pydantic/FastAPI errors as `ErrorItem`s (loc, msg, type, value)."""
    items: list[ErrorItemJson] = []
    for e in errors:
        value = e.get("input")
        shown = None if value is None or isinstance(value, dict | list) else str(value)[:200]
        loc = e.get("loc", ())
        assert isinstance(loc, tuple | list), f"a validation error's loc is {loc!r}"
        items.append({"loc": [p if isinstance(p, int) else str(p) for p in loc],
                      "msg": str(e.get("msg", "invalid value")), "type": str(e.get("type", "")),
                      "value": shown})
    return items


def summary(items: Sequence[ErrorItemJson], *, more_word: str = "problem") -> str:
    """`body.series[0].sku: Field required` (+ how many more)."""
    if not items:
        return "the request is not valid"
    first = items[0]
    where = _path(first["loc"]) or "request"
    extra = f" (and {len(items) - 1} more {more_word}(s))" if len(items) > 1 else ""
    return f"{where}: {first['msg']}{extra}"


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(error_body(exc.detail, exc.errors or None), status_code=exc.status,
                        headers=exc.headers)


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    items = validation_items(exc.errors())
    return JSONResponse(error_body(summary(items), items), status_code=422)


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI could not decode the body: bad input, like any other
        item: ErrorItemJson = {"loc": ["body"], "msg": f"{exc.detail}: send UTF-8 JSON",
                               "type": "body_unreadable", "value": None}
        return JSONResponse(error_body(f"body: {item['msg']}", [item]), status_code=422)
    return JSONResponse(error_body(str(exc.detail)), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = str(getattr(request.state, "request_id", "") or uuid.uuid4().hex[:16])
    log.error("unexpected error answering %s %s (request id %s)", request.method,
              request.url.path, request_id, exc_info=exc)
    return JSONResponse(error_body("internal error: the service could not answer this "
                                   f"request (request id {request_id}); the error is logged "
                                   "under that id: quote it when you report this."),
                        status_code=500, headers={"x-request-id": request_id})


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
