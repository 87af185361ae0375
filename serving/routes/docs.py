"""The API's documentation pages, `/docs` (Swagger UI) and `/redoc` (ReDoc), working offline.

Their JavaScript, CSS and icon come from the `fastapi-offline` package and are served by the
service at `/docs-assets/` (no CDN). `/docs` starts Swagger UI from `serving/web/docs/
swagger-init.js` rather than an inline script; `/redoc` is FastAPI's own page (no inline
script either, one inline style). The app is created with `docs_url=None, redoc_url=None`.

ReDoc's bundle asks one other host for one file, the logo of its "API docs by Redocly" link;
the service serves the bundle with that address replaced by a blank image, so the page makes
no request (and logs no error) when the machine has no internet.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, swagger_ui_default_parameters
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from serving.routes.ui import WEB_DIR

__all__ = ["ASSETS_URL", "mount_docs"]

ASSETS_URL = "/docs-assets"
ASSET_PACKAGE = ("fastapi_offline", "static")  # swagger-ui-bundle.js, swagger-ui.css, ...
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
BLANK_IMAGE = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"

_SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-config="{config}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""


def mount_docs(app: FastAPI) -> None:
    """Serve `/docs`, `/redoc` and their files at `/docs-assets/` from installed packages."""

    @app.get(f"{ASSETS_URL}/redoc.standalone.js", include_in_schema=False)
    def redoc_js() -> Response:  # before the mount, which would answer this path otherwise
        return Response(_redoc_bundle(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    app.mount(ASSETS_URL, StaticFiles(directory=WEB_DIR / "docs", packages=[ASSET_PACKAGE]),
              name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        config = {**swagger_ui_default_parameters, **(app.swagger_ui_parameters or {}),
                  "url": f"{root}{app.openapi_url}",
                  "validatorUrl": None}  # no badge fetched from validator.swagger.io
        return HTMLResponse(_SWAGGER_PAGE.format(
            title=html.escape(f"{app.title} - Swagger UI"), assets=f"{root}{ASSETS_URL}",
            config=html.escape(json.dumps(config), quote=True)))

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}{app.openapi_url}",
                              title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                              with_google_fonts=False)


@cache
def _redoc_bundle() -> bytes:
    """The packaged ReDoc bundle, its one request to another host pointed at a blank image."""
    package, folder = ASSET_PACKAGE
    bundle = (files(package) / folder / "redoc.standalone.js").read_bytes()
    return bundle.replace(REDOC_LOGO.encode(), BLANK_IMAGE.encode())
