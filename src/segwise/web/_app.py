"""The dashboard and API application: a thin FastAPI layer over the store and the models.

:func:`create_app` builds the application; ``segwise serve`` only builds it and hands it
to uvicorn. Handlers call one page function (:mod:`segwise.web._pages`) or one store
method and render or return its result: every page has a JSON twin under ``/api`` that
returns the same data.
"""


import contextlib
import functools
import hmac
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from segwise import __version__
from segwise.exceptions import ConfigError, InputError, NotFoundError, SegwiseError
from segwise.store import Store, StoreBusyError, csv_lines
from segwise.web import _pages as pages
from segwise.web._scoring import Scorer, scoring_error

__all__ = ["DEFAULT_MAX_BODY", "create_app"]

#: Largest request body accepted, in bytes.
DEFAULT_MAX_BODY = 256 * 1024

#: Why ``POST /score`` is refused by a server that has no model to score with.
NO_SCORER = ("this server has no model to score with: the store holds no assigner it can use "
             "and none was given. Fix: train one into the store (segwise assigner train ORDERS -o "
             "assigner.skops --store STORE) or start the server with --model assigner.skops")

#: Paths whose errors are JSON; the dashboard's are error pages.
API_PREFIXES = ("/api", "/score", "/csv")

#: Content security policy: nothing loads from anywhere but this server.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


class Problem(BaseModel):
    """What went wrong: a sentence, or (invalid input) one entry per invalid field."""

    detail: str | list[dict[str, Any]]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "A parameter is invalid (a sort column, a page out of range).",
            401: "The token is missing or wrong.",
            404: "No such run, segment or entity.",
            413: "The request body is too large.",
            415: "The body is not sent as JSON (Content-Type: application/json).",
            422: "The request is invalid, or the customer cannot be scored.",
            503: "The store is busy or cannot be reached, or too many requests are "
                 "waiting."}
    return {code: {"model": Problem, "description": text[code]} for code in codes}


class _BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether declared or streamed.

    A body is read in full (it is small by then) before the application sees it.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        def too_large() -> JSONResponse:  # built when needed: json.dumps on every request
            return JSONResponse({"detail": f"request body over {self.limit:,} bytes. Fix: "
                                           "send one customer's first orders per request "
                                           "(a batch is several requests)"}, 413)

        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await too_large()(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.limit:
                await too_large()(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


class _SecurityHeaders:
    """Add the security headers to every HTTP response.

    A plain ASGI middleware: Starlette's ``@app.middleware("http")`` wraps each request in
    tasks and memory streams, a cost that showed under ``POST /score`` load.
    """

    HEADERS = ((b"content-security-policy", CSP.encode()),
               (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
               (b"referrer-policy", b"no-referrer"))

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        names = {name for name, _ in self.HEADERS}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *self.HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _script_json(obj: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` element."""
    return (json.dumps(obj, allow_nan=False).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))


@functools.cache
def _templates() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("segwise.web", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = lambda s: quote(str(s), safe="")
    env.filters["num"] = _num
    env.filters["pct"] = lambda v: "" if v is None else f"{v:.1%}"
    env.filters["script_json"] = _script_json
    env.globals["url"] = lambda path, **params: path + (
        "?" + urlencode({k: v for k, v in params.items() if v not in (None, "", False)})
        if any(v not in (None, "", False) for v in params.values()) else "")
    return env


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def create_app(
    store: Store | str | Path,
    *,
    token: str | None = None,
    scorers: Sequence[Scorer] = (),
    max_body: int = DEFAULT_MAX_BODY,
) -> FastAPI:
    """Build the dashboard and API over a store.

    Parameters
    ----------
    store : Store, str or Path
        The results database (``.duckdb`` file or ``postgresql://`` URL).
    token : str, optional
        The bearer token that scoring and writes need; without one they are refused
        (401) for everyone.
    scorers : sequence of Scorer
        Models served at ``POST /score`` (the first) and ``POST /score/<name>`` (each).
    max_body : int, default=256 KiB
        Largest request body accepted (413 beyond).

    Returns
    -------
    fastapi.FastAPI
        The application; hand it to uvicorn.
    """
    db = store if isinstance(store, Store) else Store(store)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for scorer in scorers:
            await scorer.start()
        yield
        for scorer in scorers:
            await scorer.stop()
        db.close()

    # FastAPI's /docs and /redoc load Swagger UI and ReDoc from a CDN: the server's own
    # content security policy blocked them, and offline there is nothing to load, so both
    # were blank pages. /docs is a page of this server's instead (:func:`_api_reference`).
    app = FastAPI(
        title="segwise", version=__version__, lifespan=lifespan, docs_url=None,
        redoc_url=None,
        description="Customer segments from a segwise store: dashboard pages, their JSON "
                    "twins under /api, and scoring of new customers (token required).",
    )
    app.state.store = db
    bearer = HTTPBearer(auto_error=False, description="The server's token (SEGWISE_TOKEN).")

    async def require_token(  # async: a plain def would hop to a thread on every request
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        given = credentials.credentials.encode() if credentials is not None else b""
        # Constant-time compare; with no token configured nothing matches.
        expected = token.encode() if token else None
        if expected is None or not hmac.compare_digest(given, expected):
            raise _Unauthorized

    @app.exception_handler(_Unauthorized)
    async def unauthorized(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": "a valid bearer token is required"}, 401,
                            headers={"WWW-Authenticate": "Bearer"})

    def problem(request: Request, status: int, message: str,
                headers: Mapping[str, str] | None = None) -> Response:
        """Answer an error: JSON on the API's routes, an error page on the dashboard's."""
        if request.url.path.startswith(API_PREFIXES):
            return JSONResponse({"detail": message}, status, headers=headers)
        page = _render("error.html.j2", {"page": "error", "title": f"Error {status}",
                                         "message": message, "status": status,
                                         "charts": []}, status)
        page.headers.update(headers or {})
        return page

    @app.exception_handler(SegwiseError)
    async def segwise_error(request: Request, exc: Exception) -> Response:
        status = (404 if isinstance(exc, NotFoundError) else
                  503 if isinstance(exc, StoreBusyError) else
                  400 if isinstance(exc, ConfigError) else 422)
        return problem(request, status, str(exc))

    # A dashboard page asked with a bad parameter (?page=-1) or at no route gets an error
    # page, as a missing run does: FastAPI answered both in JSON, to a browser.
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith(API_PREFIXES):
            return await request_validation_exception_handler(request, exc)
        return problem(request, 422, "; ".join(
            f"{e['loc'][-1]}: {e['msg']}" + (f" (not {e['input']!r})" if "input" in e else "")
            for e in exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(API_PREFIXES):
            return await http_exception_handler(request, exc)
        message = (f"there is no page {request.url.path}. Fix: start from the overview"
                   if exc.status_code == 404 else str(exc.detail))
        return problem(request, exc.status_code, message, exc.headers)

    app.add_middleware(_SecurityHeaders)
    app.add_middleware(_BodyLimit, limit=max_body)

    def _render(template: str, data: dict[str, Any], status: int = 200) -> HTMLResponse:
        html = _templates().get_template(template).render(**data, version=__version__)
        return HTMLResponse(html, status)

    def twin(path: str, template: str, page: Callable[..., dict[str, Any]],
             errors: tuple[int, ...] = (400, 404, 503)) -> Callable[[Callable[..., Any]], Any]:
        """Register a page at ``path`` and its JSON twin at ``/api`` + ``path``."""
        def register(params: Callable[..., Any]) -> Any:
            # Plain functions, which FastAPI runs in its thread pool: a page's store queries
            # block (up to the store's busy timeout while another process holds a DuckDB
            # file), and on the event loop they held up every other request, POST /score
            # and static files included.
            def html(kwargs: Annotated[dict[str, Any], Depends(params)]) -> Response:
                return _render(template, page(db, **kwargs))

            def as_json(kwargs: Annotated[dict[str, Any], Depends(params)]) -> dict[str, Any]:
                return page(db, **kwargs)

            name = page.__name__.removesuffix("_page")
            # HEAD too (curl -I, uptime checks): every GET page answers it.
            app.api_route(path, methods=["GET", "HEAD"], response_class=HTMLResponse,
                          include_in_schema=False, name=name)(html)
            app.get("/api" + (path if path != "/" else "/overview"), name=name + "_json",
                    summary=f"{page.__doc__.splitlines()[0]} (JSON twin of {path})"
                    if page.__doc__ else None, responses=_errors(*errors))(as_json)
            return params
        return register

    Run = Annotated[str | None, Query(max_length=40, description="Run id; the newest with "
                                                                  "entities when omitted.")]
    PageNo = Annotated[int, Query(ge=1, le=1_000_000, description="Page of the table, from 1.")]
    Search = Annotated[str | None, Query(max_length=200,
                                         description="Only members whose id contains it.")]
    Segmentation = Annotated[str | None, Query(
        max_length=32, description="Segmentation (rule, learned, assigned); the run's first "
                                   "when omitted, rule first.")]

    @twin("/", "overview.html.j2", pages.overview_page)
    def _overview(run: Run = None, segmentation: Segmentation = None) -> dict[str, Any]:
        return {"run_id": run, "segmentation": segmentation}

    @twin("/segments/{segmentation}/{segment:path}", "segment.html.j2", pages.segment_page)
    def _segment(segmentation: str, segment: str, run: Run = None, page: PageNo = 1,
                 size: Annotated[int, Query(ge=1, le=1000, description="Members a page.")
                                 ] = pages.PAGE_SIZE,
                 sort: Annotated[str | None, Query(
                     max_length=200, description="Column to sort the members by.")] = None,
                 desc: Annotated[bool, Query(description="Sort descending.")] = False,
                 q: Search = None) -> dict[str, Any]:
        return {"segmentation": segmentation, "segment": segment, "run_id": run, "page": page,
                "size": size, "sort": sort, "descending": desc, "search": q}

    @twin("/entities/{entity_id:path}", "customer.html.j2", pages.customer_page)
    def _customer(entity_id: str, run: Run = None) -> dict[str, Any]:
        return {"entity_id": entity_id, "run_id": run}

    @twin("/quality", "quality.html.j2", pages.quality_page)
    def _quality(run: Run = None, page: PageNo = 1) -> dict[str, Any]:
        return {"run_id": run, "page": page}

    @twin("/models", "models.html.j2", pages.models_page)
    def _models(run: Run = None) -> dict[str, Any]:
        return {"run_id": run}

    @twin("/runs", "runs.html.j2", pages.runs_page)
    def _runs(a: Annotated[str | None, Query(
                  max_length=40, description="Run before (Before); the newest earlier run of "
                                             "b's kind when omitted.")] = None,
              b: Run = None, segmentation: Segmentation = None) -> dict[str, Any]:
        return {"run_a": a, "run_b": b, "segmentation": segmentation}

    @app.get("/csv/{segmentation}/{segment:path}", response_class=StreamingResponse,
             summary="A segment's members as CSV (spreadsheet formulas neutralised)",
             responses={200: {"content": {"text/csv": {}}}, **_errors(400, 404, 503)})
    def members_csv(segmentation: str, segment: str, run: Run = None,
                    q: Search = None) -> Response:
        run_id = run or db.latest_run_id()
        db.segment(run_id, segmentation, segment)
        columns, rows = db.iter_members(run_id, segmentation, segment, search=q or None)
        name = quote(f"{segment}.csv", safe="")
        return StreamingResponse(csv_lines(columns, rows), media_type="text/csv",
                                 headers={"Content-Disposition":
                                          f"attachment; filename*=UTF-8''{name}"})

    @app.get("/api/segments", summary="The segments of a run (of its first segmentation, "
             "rule first, unless one is named)", responses=_errors(400, 404, 503))
    def list_segments(run: Run = None, segmentation: Segmentation = None
                      ) -> list[dict[str, Any]]:
        run_id = run or db.latest_run_id()
        names = db.segmentations(run_id)
        return db.segments(run_id, segmentation or (names[0] if names else "rule"))

    @app.get("/api/search", summary="Entities whose id contains the text",
             responses=_errors(400, 404, 503))
    def search(q: Annotated[str, Query(min_length=1, max_length=200,
                                       description="Text the entity id contains.")],
               run: Run = None, limit: Annotated[int, Query(
                   ge=1, le=1000, description="Most entities returned.")] = 20
               ) -> dict[str, Any]:
        return db.members(run or db.latest_run_id(), search=q, limit=limit)

    @app.delete("/api/runs/{run_id}", status_code=204, dependencies=[Depends(require_token)],
                summary="Delete a run and everything it wrote (token required)",
                responses=_errors(400, 401, 404, 503))
    def delete_run(run_id: str) -> Response:
        db.delete_run(run_id)
        return Response(status_code=204)

    for i, scorer in enumerate(scorers):
        paths = ["/score", f"/score/{scorer.name}"] if i == 0 else [f"/score/{scorer.name}"]
        for path in paths:
            _score_route(app, path, scorer, require_token)
    if not scorers:
        @app.post("/score", include_in_schema=False)
        def no_scorer() -> Response:
            return JSONResponse({"detail": NO_SCORER}, 404)

    # A model this server does not have: FastAPI's bare "Not Found" named nothing.
    @app.post("/score/{name:path}", include_in_schema=False)
    def no_such_scorer(name: str) -> Response:
        if not scorers:
            return JSONResponse({"detail": NO_SCORER}, 404)
        have = ", ".join(f"{s.name} (POST /score/{s.name})" for s in scorers)
        return JSONResponse({"detail": f"no model {name!r} to score with here; this server "
                                       f"has {have}. Fix: post to one of them, or to /score "
                                       f"for {scorers[0].name}"}, 404)
    _document_bodies(app, [scorer.request_model for scorer in scorers])

    @app.api_route("/docs", methods=["GET", "HEAD"], response_class=HTMLResponse,
                   include_in_schema=False)
    def api_docs() -> Response:
        return _render("api.html.j2", _api_reference(app.openapi()))

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(_plotly_path(), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        kinds = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
        if name not in kinds:
            raise NotFoundError(f"no static file {name!r}")
        return Response(files("segwise.web").joinpath("static", name).read_bytes(),
                        media_type=kinds[name], headers={"Cache-Control": "no-cache"})

    return app


class _Unauthorized(Exception):
    pass


def _score_route(app: FastAPI, path: str, scorer: Scorer, auth: Callable[..., Any]) -> None:
    """``POST path``: validate the scorer's request model, score it, return its response.

    The body is validated by pydantic straight from its JSON bytes (FastAPI would decode
    it to Python objects first, then validate those: ~2x the event loop's time per
    request); invalid bodies get FastAPI's 422 all the same (each error's ``loc`` names
    the field and the line, without echoing the input), a body sent as anything but JSON a
    415, and the schema documents the body as FastAPI would (:func:`_document_bodies`).
    """
    request_model = scorer.request_model

    async def score(request: Request) -> Any:
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media and media != "application/json" and not media.endswith("+json"):
            return JSONResponse({"detail": f"the body is sent as {media}, not JSON. Fix: send "
                                           "it with Content-Type: application/json"}, 415)
        try:
            body = request_model.model_validate_json(await request.body())
        except ValidationError as exc:
            # Without the input: a NaN or a byte that is not UTF-8 cannot be echoed as
            # JSON (it was a 500), and a body is not sent back to its sender.
            fields = ", ".join(request_model.model_fields)
            raise RequestValidationError([
                {**e, "loc": ("body", *e["loc"])} | (
                    # A list of customers, most likely: say what one request is.
                    {"msg": f"{e['msg']}: one request is one JSON object ({fields}). Fix: "
                            "send a request per customer"}
                    if not e["loc"] and e["type"] == "model_type" else {})
                for e in exc.errors(include_url=False, include_input=False)]) from None
        try:
            result = await scorer.score(body)
        except (OverflowError, SegwiseError) as exc:
            status, message = scoring_error(exc)
            return JSONResponse({"detail": message}, status)
        # Serialised by pydantic directly: FastAPI would validate the response model again.
        return Response(result.model_dump_json(), media_type="application/json")

    body_schema = {"$ref": f"#/components/schemas/{request_model.__name__}"}
    app.post(path, response_model=scorer.response_model, dependencies=[Depends(auth)],
             summary=f"{scorer.description} (token required)",
             name=f"score_{scorer.name}" + ("_default" if path == "/score" else ""),
             responses=_errors(401, 413, 415, 422, 503),
             openapi_extra={"requestBody": {
                 "required": True, "content": {"application/json": {"schema": body_schema}}}},
             )(score)


def _document_bodies(app: FastAPI, models: Sequence[type[BaseModel]]) -> None:
    """Add request body models that routes read themselves to the schema's components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(found.pop("$defs", {}))
                components[model.__name__] = found
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _schema_type(schema: Mapping[str, Any]) -> str:
    """Say a JSON schema in a few words: ``text, 1 to 100 characters``, ``list of OrderLine``."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:  # null too, for what may be left out: the page says so apart
        return " or ".join(_schema_type(s) for s in schema["anyOf"] if s.get("type") != "null")
    kind = schema.get("type", "any")
    said = {"string": "text", "integer": "whole number", "number": "number",
            "boolean": "true or false", "array": "list", "object": "object"}.get(kind, kind)
    if schema.get("format") == "date-time":
        said = "time (ISO 8601 text)"
    if kind == "array" and "items" in schema:
        said += " of " + _schema_type(schema["items"])
    def bound(key: str) -> str | None:
        value = schema.get(key)
        return None if value is None else (f"{int(value):,}" if float(value).is_integer()
                                           else f"{value:,}")

    for low, high, unit in (("minimum", "maximum", ""), ("minLength", "maxLength", " characters"),
                            ("minItems", "maxItems", " items")):
        lo, hi = bound(low), bound(high)
        if lo is not None and hi is not None:
            said += f", {lo} to {hi}{unit}"
        elif lo is not None:
            said += f", at least {lo}{unit}"
        elif hi is not None:
            said += f", at most {hi}{unit}"
    return said


def _api_reference(openapi: Mapping[str, Any]) -> dict[str, Any]:
    """Return what ``/docs`` shows: every operation of the OpenAPI document, its bodies' fields.

    Rendered on the server: it needs no script, so it reads offline and under the content
    security policy, as every page of the dashboard does.
    """
    schemas = openapi.get("components", {}).get("schemas", {})
    operations, bodies = [], []
    for path, methods in openapi.get("paths", {}).items():
        for method, op in methods.items():
            body = (op.get("requestBody", {}).get("content", {}).get("application/json", {})
                    .get("schema", {}))
            if "$ref" in body:
                bodies.append(_schema_type(body))
            operations.append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "token": bool(op.get("security")), "body": _schema_type(body) if body else None,
                "parameters": [{"name": p["name"], "in": p["in"],
                                "required": bool(p.get("required")),
                                "type": _schema_type(p.get("schema", {})),
                                "description": p.get("description")
                                or p.get("schema", {}).get("description", "")}
                               for p in op.get("parameters", [])],
                "responses": [{"status": code,
                               "description": r.get("description", "").rstrip(".")}
                              for code, r in op.get("responses", {}).items()],
            })
    # The bodies' models, and the models their fields hold (an order's lines).
    models: dict[str, dict[str, Any]] = {}
    while bodies:
        name = bodies.pop(0)
        schema = schemas.get(name)
        if name in models or schema is None:
            continue
        required = set(schema.get("required", []))
        fields = []
        for field, spec in schema.get("properties", {}).items():
            fields.append({"name": field, "type": _schema_type(spec),
                           "required": field in required,
                           "description": spec.get("description", "")})
            bodies += [s["$ref"].rsplit("/", 1)[-1] for s in
                       (spec, spec.get("items", {}), *spec.get("anyOf", [])) if "$ref" in s]
        models[name] = {"name": name, "description": schema.get("description", ""),
                        "fields": fields, "extra": schema.get("additionalProperties") is False}
    return {"page": "api", "title": f"API · {openapi['info']['title']} "
                                    f"{openapi['info']['version']}",
            "operations": operations, "models": list(models.values()), "charts": []}


@functools.cache
def _plotly_path() -> Path:
    """plotly.js as the plotly package ships it (served locally, never from a CDN)."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:  # pragma: no cover - plotly is a dependency
        raise InputError("the plotly package is not installed")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"
