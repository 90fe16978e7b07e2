"""The API docs (``/docs`` Swagger UI, ``/redoc`` ReDoc) from files this server ships.

FastAPI's own docs pages load Swagger UI and ReDoc from a CDN, so they stay blank on a
plant network without internet access, and their inline start script would need a
Content-Security-Policy exception. These pages load the files of the ``fastapi-offline``
package (Swagger UI 5, which reads OpenAPI 3.1, and ReDoc 2) from
:data:`ASSETS_PATH`, and start Swagger UI from a script file of their own: no CDN, no
inline script. The pages are fixed text: nothing of the request is written into them.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Final

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "install_docs"]

#: Where Swagger UI's and ReDoc's files are served.
ASSETS_PATH: Final = "/docs-assets"

_SWAGGER_PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Phactory API</title>
<link rel="stylesheet" href="/docs-assets/swagger-ui.css">
<link rel="icon" href="/docs-assets/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs-assets/swagger-ui-bundle.js"></script>
<script src="/docs-start.js"></script>
</body>
</html>
"""

_SWAGGER_START: Final = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""

_REDOC_PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Phactory API</title>
<link rel="icon" href="/docs-assets/favicon.png">
</head>
<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="/docs-assets/redoc.standalone.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and their files to ``app`` (built with ``docs_url=None``
    and ``redoc_url=None``)."""
    folder = files("fastapi_offline") / "static"
    app.mount(ASSETS_PATH, StaticFiles(directory=str(folder)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(_SWAGGER_PAGE)

    @app.get("/docs-start.js", include_in_schema=False)
    def swagger_start() -> Response:
        return Response(_SWAGGER_START, media_type="text/javascript")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return HTMLResponse(_REDOC_PAGE)
