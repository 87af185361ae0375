"""`/docs` and `/redoc` work offline: every file they load is served by the service itself,
and `/docs` starts Swagger UI without an inline script."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import Settings


class _Refs(HTMLParser):
    """The URLs a page loads (src, href, Swagger UI's spec url, ReDoc's spec-url) and the
    text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href", "spec-url") and v]
        if "data-config" in found:
            self.urls.append(json.loads(found["data-config"] or "{}")["url"])
        self._in_script = tag == "script" and "src" not in found

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The app, not started: the docs pages need neither the model nor the database."""
    db = Path(tmp_path_factory.mktemp("docs")) / "service.db"
    return TestClient(create_app(Settings(database_url=f"sqlite:///{db}")))


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_files_the_service_serves(client: TestClient, page: str):
    res = client.get(page)
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/html")
    refs = _Refs()
    refs.feed(res.text)
    assert refs.urls, f"{page} loads nothing?"
    assert refs.inline_scripts == [], f"{page} has an inline script"
    for url in refs.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), \
            f"{page} loads {url!r} from another host"
        asset = client.get(url)
        assert asset.status_code == 200 and asset.content, f"{page}: {url} -> {asset.status_code}"
    scripts = [u for u in refs.urls if u.endswith(".js")]
    assert scripts and all(len(client.get(u).content) > 100 for u in scripts)


def test_docs_assets_are_the_packaged_swagger_ui_and_redoc(client: TestClient):
    bundle = client.get("/docs-assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text[:2000]
    assert "javascript" in bundle.headers["content-type"]
    redoc = client.get("/docs-assets/redoc.standalone.js")
    assert redoc.status_code == 200 and "javascript" in redoc.headers["content-type"]
    assert "Redoc" in redoc.text[:1000]
    assert "https://cdn.redoc.ly/" not in redoc.text  # its logo: a blank image, not a fetch
