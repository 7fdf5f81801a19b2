"""``GET /docs``: Swagger UI served from the assets of the installed ``fastapi-offline`` package
(Swagger UI 5, which reads OpenAPI 3.1), so the API reference renders with no network (FastAPI's
default loads it from a CDN)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" type="text/css" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: {openapi},
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
}});
</script>
</body>
</html>
"""


def swagger_ui_folder() -> Path:
    from importlib.util import find_spec

    spec = find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("fastapi-offline is not installed (pip install fastapi-offline)")
    return Path(spec.origin).parent / "static"


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and its assets under ``/docs/assets``, all local."""
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_folder()), name="docs-assets")
    page = PAGE.format(
        title=html.escape(f"{app.title} — API"),
        assets=ASSETS,
        openapi=json.dumps(app.openapi_url or "/openapi.json"),
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        # No validator badge (validatorUrl: null): it would be fetched from validator.swagger.io.
        return HTMLResponse(page)
