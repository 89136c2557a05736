"""The page's web server (the standard library's): GET shows, POST changes, and only a POST from the page's own
confirmation form (it carries this server's random token) changes anything.

  GET  /                             the group: every version, the champion, a compare form
  GET  /versions/<n>                 one version
  GET  /versions/<n>/approve|reject  the confirmation form
  POST /versions/<n>/approve|reject  UpdateModelPackage, then back to the version
  GET  /compare?a=<n>&b=<n>          two versions side by side
A problem is one sentence on the page (and a status code that says what kind); a traceback goes to the log only."""

from __future__ import annotations

import logging
import re
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

from registry import pages
from registry.aws import NotFound, Registry, RegistryError

LOG = logging.getLogger("registry")
_ROUTES = [
    (re.compile(r"/"), "_group"),
    (re.compile(r"/versions/(\d+)"), "_version"),
    (re.compile(r"/versions/(\d+)/(approve|reject)"), "_confirm"),
    (re.compile(r"/compare"), "_compare"),
]
_MAX_FORM_BYTES = 16 * 1024


class Refused(Exception):
    """A request the page will not carry out: (status, sentence)."""

    def __init__(self, status: HTTPStatus, sentence: str):
        super().__init__(sentence)
        self.status = status


class RegistryPage:
    """The server and what its handlers share: the registry, whether approving is allowed, the form token."""

    def __init__(self, registry: Registry, allow_approve: bool = False, host: str = "127.0.0.1", port: int = 0):
        self.registry, self.allow_approve = registry, allow_approve
        self.token = secrets.token_urlsafe(16)
        handler = type("Handler", (_Handler,), {"page": self})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_port}/"

    def start(self) -> RegistryPage:
        threading.Thread(target=self.server.serve_forever, daemon=True, name="registry-page").start()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    page: RegistryPage

    def do_GET(self):
        self._answer(lambda: self._route(urlsplit(self.path).path))

    def do_POST(self):
        self._answer(self._change)

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        LOG.info("%s %s", self.address_string(), format % args)

    # Pages ---------------------------------------------------------------------------------------------------------
    def _route(self, path: str) -> str:
        for pattern, method in _ROUTES:
            match = pattern.fullmatch(path)
            if match:
                return getattr(self, method)(*match.groups())
        raise Refused(HTTPStatus.NOT_FOUND, f"There is no page at {path}: start from the group page.")

    def _group(self) -> str:
        registry = self.page.registry
        versions = registry.versions()
        evaluations = registry.evaluations(versions)
        return self._layout(
            f"{registry.group}", pages.group_view(registry.group, versions, evaluations, registry.champion(versions))
        )

    def _version(self, number: str) -> str:
        registry = self.page.registry
        versions = registry.versions()
        version = registry.version(versions, int(number))
        context = {
            "version": version,
            "package": registry.package(version, fresh=True),
            "evaluation": registry.evaluation(version),
            "champion": registry.champion(versions),
            "manifest": registry.manifest(version),
            "runs": registry.scoring_runs(version),
            "allow_approve": self.page.allow_approve,
        }
        return self._layout(f"Version {version.number}", pages.version_view(context))

    def _confirm(self, number: str, action: str) -> str:
        self._require_approving()
        registry = self.page.registry
        version = registry.version(registry.versions(), int(number))
        return self._layout(
            f"{action} version {number}", pages.confirm_view(registry.group, version, action, self.page.token)
        )

    def _compare(self) -> str:
        query = parse_qs(urlsplit(self.path).query)
        registry = self.page.registry
        versions = registry.versions()
        try:
            numbers = [int(query[name][0]) for name in ("a", "b")]
        except (KeyError, ValueError):
            raise Refused(HTTPStatus.BAD_REQUEST, "Compare needs two version numbers, as /compare?a=1&b=2.") from None
        sides = [self._side(registry, registry.version(versions, number)) for number in numbers]
        return self._layout("Compare", pages.compare_view(*sides))

    @staticmethod
    def _side(registry: Registry, version) -> dict:
        return {
            "version": version,
            "package": registry.package(version),
            "evaluation": registry.evaluation(version),
            "manifest": registry.manifest(version),
        }

    # The change ----------------------------------------------------------------------------------------------------
    def _change(self) -> str:
        match = re.fullmatch(r"/versions/(\d+)/(approve|reject)", urlsplit(self.path).path)
        if not match:
            raise Refused(HTTPStatus.NOT_FOUND, "Only a version's approve or reject form can be sent here.")
        self._require_approving()
        form = self._form()
        if not secrets.compare_digest(form.get("token", ""), self.page.token):
            raise Refused(
                HTTPStatus.FORBIDDEN,
                "This form is not from this page (or the page was restarted): "
                "open the version again and use its buttons.",
            )
        registry = self.page.registry
        version = registry.version(registry.versions(), int(match.group(1)))
        status = pages.ACTIONS[match.group(2)]
        registry.set_status(version, status, form.get("description", "").strip())
        notice = quote(f"Version {version.number} is now {status}.")
        raise _Redirect(f"/versions/{version.number}?notice={notice}")

    def _require_approving(self) -> None:
        if not self.page.allow_approve:
            raise Refused(
                HTTPStatus.FORBIDDEN,
                "This page is read-only: start it with --allow-approve to approve or reject versions.",
            )

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_FORM_BYTES:
            raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "The form is too large.")
        fields = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        return {name: values[0] for name, values in fields.items()}

    # Answers -------------------------------------------------------------------------------------------------------
    def _layout(self, title: str, body: str) -> str:
        notice = parse_qs(urlsplit(self.path).query).get("notice", [""])[0]
        return pages.layout(title, body, self.page.registry.group, self.page.allow_approve, notice)

    def _answer(self, render) -> None:
        try:
            status, body, location = HTTPStatus.OK, render(), None
        except _Redirect as redirect:
            status, body, location = HTTPStatus.SEE_OTHER, "", redirect.location
        except Refused as refused:
            status, body, location = refused.status, self._problem(str(refused)), None
        except NotFound as error:
            status, body, location = HTTPStatus.NOT_FOUND, self._problem(str(error)), None
        except RegistryError as error:  # AWS's answer, or no answer
            status, body, location = HTTPStatus.BAD_GATEWAY, self._problem(str(error)), None
        except Exception as error:  # the page shows one sentence; the log keeps the traceback
            LOG.exception("registry page failed on %s", self.path)
            sentence = f"The page failed ({type(error).__name__}: {error}); the server's log has the details."
            status, body, location = HTTPStatus.INTERNAL_SERVER_ERROR, self._problem(sentence), None
        self._send(status, body, location)

    def _problem(self, sentence: str) -> str:
        return pages.layout("Problem", pages.problem(sentence), self.page.registry.group, self.page.allow_approve)

    def _send(self, status: HTTPStatus, body: str, location: str | None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        # Nothing on the page loads from elsewhere or runs script; the browser is told so.
        self.send_header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(data)


class _Redirect(Exception):
    def __init__(self, location: str):
        super().__init__(location)
        self.location = location
