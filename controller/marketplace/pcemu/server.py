"""The v1 surface over HTTP: routes, authentication, faults and the `/_emulator/` admin API.

Routes live under `/v1.0/ingestion` with the exact v1 paths, including the
OData-style segments (`branches/getByModule(module=Listing)`,
`listings/getByInstanceID(instanceID=...)`); literal path words match
case-insensitively because v1 itself mixes `productavailabilities` and
`productAvailabilities`.

Every API call needs `Authorization: Bearer ...` (any token, or exactly
`--token`); with `--publisher-id` it also needs `x-ms-publisherId` with that
value, answered otherwise with the 400 problem document v1 gave in June 2026.
Tokens never reach the log: only method, path and status are logged.

Faults (`FaultConfig`) apply per API request: 503, 429 with `Retry-After`
(delta-seconds, or an HTTP date with `retry_after_date`), a request held past
the client's timeout, or a dropped connection after the call took effect.
`/_emulator/` (admin: portal edits, portal-made submissions, runtime fault
settings, request counts) and `/_blob/` (the `fileSasUri` uploads) are neither
authenticated nor faulted; bind to loopback.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any

import httpx

from controller.core.model import Stage
from controller.http.serving import (
    BODY_METHODS,
    BodyRefused,
    JsonHandler,
    JsonServer,
    serving,
)
from controller.validation.v1schemas import v1_errors

from ..faults import Fault, FaultConfig, FaultConfigError, FaultInjector
from ..simulated import SimulatedMarketplace
from . import contract, views
from .store import MEDIA_KINDS, ApiError, Store

API_PREFIX = "/v1.0/ingestion"
MAX_BODY = 64 * 1024 * 1024
MAX_PACKAGE = 64 * 1024 * 1024
PAGE_SIZE = 100

_ID = r"([^/()]+)"
_P = rf"/products/{_ID}"
_ROUTES: list[tuple[str, str]] = [
    ("products", r"/products"),
    ("product", rf"{_P}"),
    ("setup", rf"{_P}/setup"),
    ("branch", rf"{_P}/branches/getByModule\(module={_ID}\)"),
    ("property_instance", rf"{_P}/properties/getByInstanceID\(instanceID={_ID}\)"),
    ("property", rf"{_P}/properties/{_ID}"),
    ("listing_instance", rf"{_P}/listings/getByInstanceID\(instanceID={_ID}\)"),
    ("listing_create", rf"{_P}/listings/createWithInstanceID\(instanceID={_ID}\)"),
    ("media_list", rf"{_P}/listings/{_ID}/(images|assets|videos)"),
    ("media", rf"{_P}/listings/{_ID}/(images|assets|videos)/{_ID}"),
    ("listing", rf"{_P}/listings/{_ID}"),
    ("availability_instance", rf"{_P}/featureAvailabilities/getByInstanceID\(instanceID={_ID}\)"),
    ("availability", rf"{_P}/featureavailabilities/{_ID}"),
    ("package_instance", rf"{_P}/packageConfigurations/getByInstanceID\(instanceID={_ID}\)"),
    ("package", rf"{_P}/packageconfigurations/{_ID}"),
    ("lead", rf"{_P}/leadconfiguration"),
    ("reseller", rf"{_P}/resellerConfiguration"),
    ("submissions", rf"{_P}/submissions"),
    ("promote", rf"{_P}/submissions/{_ID}/promote"),
    ("workflow", rf"{_P}/submissions/{_ID}/workflowdetails"),
    ("validations", rf"{_P}/submissions/{_ID}/validations"),
    ("reports", rf"{_P}/submissions/{_ID}/reports"),
    ("submission", rf"{_P}/submissions/{_ID}"),
]
ROUTES = [(name, re.compile(f"^{pattern}$", re.IGNORECASE)) for name, pattern in _ROUTES]
_OFFER_FILTER = re.compile(r"i/Value\s+eq\s+'([^']*)'", re.IGNORECASE)
_TYPE_FILTER = re.compile(r"ResourceType\s+eq\s+'([^']*)'", re.IGNORECASE)
_MODULE_OF = {
    "property": "Property",
    "listing": "Listing",
    "availability": "Availability",
    "package": "Package",
}


class Reply(Exception):
    """An answer other than 200 with a JSON document."""

    def __init__(
        self,
        status: int,
        document: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.document = document
        self.headers = headers or {}
        self.raw = raw


def error_reply(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message, "details": []}}, headers)


class PartnerCenterEmulator(JsonServer):
    """A threading HTTP server holding one `Store` (and through it one engine)."""

    def __init__(
        self,
        address: tuple[str, int],
        engine: SimulatedMarketplace,
        *,
        token: str | None = None,
        publisher_id: str | None = None,
        faults: FaultConfig | None = None,
        certification_after_signoff: bool = False,
        check_requests: bool = True,
        log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.check_requests = check_requests
        self.violations: list[str] = []  # request bodies off the v1 contract, newest last
        self._http: httpx.Client | None = None
        self.store = Store(
            engine,
            fetch_package=lambda uri: fetch_package(self.http, uri),
            certification_after_signoff=certification_after_signoff,
        )
        self.token = token
        self.publisher_id = publisher_id
        self.faults = FaultInjector(faults or FaultConfig())
        self.log = log
        self.requests: Counter[str] = Counter()  # product id -> API requests
        self.total_requests = 0
        self.uploads = 0

    @property
    def url(self) -> str:
        """The API base the client is given: `http://HOST:PORT/v1.0/ingestion`."""
        return self.base_url + API_PREFIX

    @property
    def http(self) -> httpx.Client:
        """One client for every package download, made on first use: it builds an SSL context."""
        if self._http is None:
            self._http = httpx.Client(timeout=30.0)
        return self._http

    def set_faults(self, settings: list[str]) -> FaultConfig:
        config = FaultConfig().with_settings(settings)
        self.faults = FaultInjector(config)
        return config

    def stats(self) -> dict[str, Any]:
        store = self.store
        with store.lock:
            return {
                "total": self.total_requests,
                "requests": dict(self.requests),
                "uploads": self.uploads,
                "submissions": {pid: len(p.submissions) for pid, p in store.products.items()},
                "portalSubmissions": {
                    pid: sum(1 for s in p.submissions if s.by_portal)
                    for pid, p in store.products.items()
                },
                "promotes": dict(store.promotes),
                "products": {p.offer_id: pid for pid, p in store.products.items()},
                "faults": {k.value: v for k, v in self.faults.counts.items()},
                "contractViolations": len(self.violations),
                "lastViolations": self.violations[-10:],
            }

    def stop(self) -> None:
        super().stop()
        if self._http is not None:
            self._http.close()


def fetch_package(http: httpx.Client, uri: str) -> bytes | None:
    """The package behind a `packageLocationUri`, as Partner Center fetches it; None: unreadable.

    Only https, or http to a loopback host (Azurite in tests), is fetched.
    """
    parts = urllib.parse.urlsplit(uri)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        return None
    try:
        with http.stream("GET", uri) as response:
            if response.status_code != 200:
                return None
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_PACKAGE:
                    return None
            return bytes(data)
    except httpx.HTTPError:
        return None


@contextmanager
def running_emulator(
    engine: SimulatedMarketplace, **options: Any
) -> Iterator[PartnerCenterEmulator]:
    """An emulator on a loopback port, on a background thread, for the block (tests)."""
    emulator = PartnerCenterEmulator(("127.0.0.1", 0), engine, **options)
    with serving(emulator, "pcemu-http") as server:
        yield server


# Error codes of a refused body (`serving.BodyRefused`), by status.
_BODY_CODES = {
    HTTPStatus.BAD_REQUEST: "InvalidRequest",
    HTTPStatus.LENGTH_REQUIRED: "LengthRequired",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "RequestTooLarge",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "UnsupportedMediaType",
}


class _Handler(JsonHandler):
    server: PartnerCenterEmulator
    server_version = "offerctl-pcemu"
    protocol_version = "HTTP/1.1"

    _body = b""

    def log_message(self, format: str, *args: Any) -> None:
        # The request line only: headers (tokens) and query strings (SAS) stay out.
        if self.server.log is not None:
            path = self.path.split("?", 1)[0]
            self.server.log(f"{self.command} {path} {args[1] if len(args) > 1 else ''}")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.log_message("%s %s %s", self.command, code, size)

    # --- dispatch ---------------------------------------------------------------------

    def answer(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path).rstrip("/") or "/"
        query = urllib.parse.parse_qs(url.query)
        fault: Fault | None = None
        try:
            # Read the whole body before any answer: an early answer (a fault, a 401) that
            # left it unread would have it parsed as the next request on a kept-alive connection.
            self._body = b""
            self._body = self.read_body(MAX_BODY)
            if path.startswith("/_emulator/"):
                result: Any = self._admin(method, path[len("/_emulator") :], query)
            elif path.startswith("/_blob/"):
                result = self._blob(method, path[len("/_blob/") :], query)
            elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                fault = self.server.faults.draw()
                self._before(fault)
                self._authorize()
                body = self._json_body(method)
                with self.server.store.lock:
                    self._count(path[len(API_PREFIX) :], query)
                    result = self._api(method, path[len(API_PREFIX) :] or "/", query, body)
            else:
                raise error_reply(404, "NoRoute", f"no route {path}")
        except BodyRefused as refused:
            reply = error_reply(refused.status, _BODY_CODES[refused.status], refused.message)
            self.send_json(reply.status, reply.document)
            return
        except Reply as reply:
            self.send_json(reply.status, reply.document, reply.headers, reply.raw)
            return
        except ApiError as exc:
            self.send_json(
                exc.status, {"error": {"code": exc.code, "message": exc.message, "details": []}}
            )
            return
        if fault == Fault.RESET:
            self.drop()
            return
        status, document = result if isinstance(result, tuple) else (200, result)
        self.send_json(status, document)

    def _before(self, fault: Fault | None) -> None:
        config = self.server.faults.config
        if fault == Fault.ERROR:
            raise error_reply(503, "ServiceUnavailable", "injected fault: service unavailable")
        if fault == Fault.THROTTLE:
            raise error_reply(
                429,
                "TooManyRequests",
                "Request rate exceeds limit",
                {"Retry-After": _retry_after(config)},
            )
        if fault == Fault.TIMEOUT:
            self.server.stopping.wait(config.timeout_delay)
            raise error_reply(504, "GatewayTimeout", "injected fault: timed out")

    def _authorize(self) -> None:
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise error_reply(
                401, "Unauthorized", "a bearer token is required", {"WWW-Authenticate": "Bearer"}
            )
        if self.server.token is not None and token.strip() != self.server.token:
            raise error_reply(
                401, "Unauthorized", "the bearer token is not valid", {"WWW-Authenticate": "Bearer"}
            )
        if self.server.publisher_id is not None:
            given = self.headers.get("x-ms-publisherId")
            if given != self.server.publisher_id:
                raise Reply(
                    400,
                    {
                        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                        "title": "One or more validation errors occurred.",
                        "status": 400,
                        "errors": {
                            "x-ms-publisherId": [
                                "PublisherId is a required header, and must be a positive number."
                            ]
                        },
                    },
                )

    def _count(self, path: str, query: dict[str, list[str]]) -> None:
        self.server.total_requests += 1
        parts = path.split("/")
        pid = parts[2] if len(parts) > 2 and parts[1].lower() == "products" else ""
        if not pid:
            m = _OFFER_FILTER.search(" ".join(query.get("$filter", [])))
            product = self.server.store.find_by_offer(m[1]) if m else None
            pid = product.id if product else "(none)"
        self.server.requests[pid] += 1

    # --- the v1 API -------------------------------------------------------------------

    def _api(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        if self.server.check_requests and body is not None:
            self._check_contract(method, path, body)
        for name, pattern in ROUTES:
            m = pattern.match(path)
            if m:
                handler = getattr(self, f"_r_{name}")
                return handler(method, query, body, m.groups())
        raise error_reply(404, "NoRoute", f"no route {path}")

    def _check_contract(self, method: str, path: str, body: Any) -> None:
        """Refuse a request body that breaks the v1 schema of its route: 400 with every reason."""
        try:
            document = contract.request_document(method, path)
        except contract.UnknownRoute:
            return  # answered 404/405 by the routing below
        if document is None:
            return
        problems = v1_errors(document, body)
        if problems:
            self.server.violations.append(f"{method} {path}: {document}: {'; '.join(problems)}")
            raise Reply(400, {"error": {
                "code": "InvalidRequest",
                "message": f"the body is not a valid {document}",
                "details": [{"code": "SchemaValidationError", "message": p} for p in problems],
            }})  # fmt: skip

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise error_reply(405, "MethodNotAllowed", f"use {' or '.join(allowed)}")

    @property
    def _store(self) -> Store:
        return self.server.store

    def _r_products(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        self._allow(method, "GET", "POST")
        if method == "POST":
            return 201, self._store.create_product(_object(body))
        text = " ".join(query.get("$filter", []))
        offer = _OFFER_FILTER.search(text)
        rtype = _TYPE_FILTER.search(text)
        items = self._store.list_products(offer[1] if offer else None, rtype[1] if rtype else None)
        return self._page(items, query, "/products")

    def _page(self, items: list[Any], query: dict[str, list[str]], path: str) -> Any:
        try:
            start = int((query.get("$skipToken") or ["0"])[0])
        except ValueError:
            raise error_reply(400, "InvalidRequest", "$skipToken is not ours") from None
        page: dict[str, Any] = {"value": items[start : start + PAGE_SIZE]}
        if start + PAGE_SIZE < len(items):
            rest = {k: v[0] for k, v in query.items() if k != "$skipToken"}
            rest["$skipToken"] = str(start + PAGE_SIZE)
            page["@odata.nextLink"] = f"{API_PREFIX}{path}?{urllib.parse.urlencode(rest)}"
        return page

    def _r_product(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        (pid,) = ids
        self._allow(method, "GET")
        return dict(self._store.product(pid).doc)

    def _r_setup(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        (pid,) = ids
        self._allow(method, "GET", "POST")
        if method == "POST":
            return 201, self._store.set_setup(pid, _object(body))
        setup = self._store.product(pid).setup
        if setup is None:
            raise error_reply(404, "NotFound", "the product has no setup yet")
        return dict(setup)

    def _r_branch(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, module = ids
        self._allow(method, "GET")
        return {"value": self._store.branch(pid, module)}

    def _instance(
        self,
        method: str,
        pid: str,
        module: str,
        instance: str,
        query: dict[str, list[str]] | None = None,
    ) -> Any:
        self._allow(method, "GET")
        docs = self._store.by_instance(pid, module, instance)
        if module == "Availability" and not _expands(query or {}, "MarketStates"):
            for doc in docs:
                doc["marketStates"] = None
        return {"value": docs}

    def _r_property_instance(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, inst = ids
        return self._instance(method, pid, "Property", inst)

    def _r_listing_instance(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, inst = ids
        return self._instance(method, pid, "Listing", inst)

    def _r_availability_instance(
        self, method: str, query: Any, body: Any, ids: tuple[str, ...]
    ) -> Any:
        pid, inst = ids
        return self._instance(method, pid, "Availability", inst, query)

    def _r_package_instance(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, inst = ids
        return self._instance(method, pid, "Package", inst)

    def _doc_route(self, module: str, method: str, body: Any, pid: str, rid: str) -> Any:
        self._allow(method, "GET", "PUT")
        if method == "GET":
            return self._store.get_doc(pid, module, rid)
        return self._store.put_doc(pid, module, rid, _object(body), self.headers.get("If-Match"))

    def _r_property(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, rid = ids
        return self._doc_route("Property", method, body, pid, rid)

    def _r_availability(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, rid = ids
        doc = self._doc_route("Availability", method, body, pid, rid)
        if not _expands(query, "MarketStates"):
            doc["marketStates"] = None
        return doc

    def _r_package(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, rid = ids
        return self._doc_route("Package", method, body, pid, rid)

    def _r_listing(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, lid = ids
        if method == "DELETE":
            self._store.delete_listing(pid, lid)
            return 204, None
        return self._doc_route("Listing", method, body, pid, lid)

    def _r_listing_create(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, inst = ids
        self._allow(method, "POST")
        return 201, self._store.create_listing(pid, inst, _object(body))

    def _r_media_list(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, lid, kind = ids
        self._allow(method, "GET", "POST")
        kind = kind.lower()
        if method == "POST":
            return 201, self._store.create_media(pid, lid, kind, _object(body), self._blob_url)
        return {"value": self._store.list_media(pid, lid, kind)}

    def _r_media(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, lid, kind, mid = ids
        self._allow(method, "GET", "PUT", "DELETE")
        kind = kind.lower()
        if method == "GET":
            return self._store.get_media(pid, lid, kind, mid)
        if method == "DELETE":
            self._store.delete_media(pid, lid, kind, mid)
            return 204, None
        return self._store.put_media(
            pid, lid, kind, mid, body=_object(body), if_match=self.headers.get("If-Match")
        )

    def _blob_url(self, token: str, signature: str) -> str:
        expiry = (datetime.now(UTC) + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = urllib.parse.urlencode(
            {"sv": "2020-10-02", "sr": "b", "sp": "rcw", "se": expiry, "sig": signature}
        )
        return f"{self.server.base_url}/_blob/{token}?{query}"

    def _r_lead(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        (pid,) = ids
        self._allow(method, "GET", "POST")
        if method == "POST":
            return self._store.set_lead(pid, _object(body))
        lead = self._store.product(pid).lead
        if lead is None:
            raise error_reply(404, "NotFound", "no lead configuration")
        return dict(lead)

    def _r_reseller(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        (pid,) = ids
        self._allow(method, "GET", "POST")
        if method == "POST":
            return self._store.set_reseller(pid, _object(body))
        reseller = self._store.product(pid).reseller
        if reseller is None:
            return {
                "resourceType": "ResellerConfiguration",
                "resellerChannelState": "Disabled",
                "tenantIds": [],
            }
        return dict(reseller)

    # --- submissions ------------------------------------------------------------------

    def _submission_doc(self, pid: str, sub: Any, engine: Any) -> dict[str, Any]:
        state, substate = views.submission_state(engine)
        published = engine.stage(Stage.LIVE).finished_at
        return {
            "resourceType": "Submission",
            "id": sub.id,
            "state": state,
            "substate": substate,
            "targets": sub.targets,
            "resources": sub.resources,
            "variantResources": [],
            "publishOption": sub.publish_option,
            "publishedTimeInUtc": views.v1_time(published),
            "pendingUpdateInfo": None,
            "extendedProperties": sub.extended,
            "releaseNumber": sub.release,
            "friendlyName": f"Submission {sub.release}",
            "areResourcesReady": True,
        }

    def _r_submissions(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        (pid,) = ids
        self._allow(method, "GET", "POST")
        if method == "POST":
            sub = self._store.submit(pid, _object(body), by_portal=False)
            engine = self._store.engine_submission(sub)
            return 201, self._submission_doc(pid, sub, engine)
        subs = self._store.live_submissions(pid)
        return {"value": [self._submission_doc(pid, s, e) for s, e in subs]}

    def _r_submission(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, sid = ids
        self._allow(method, "GET", "DELETE")
        if method == "DELETE":
            self._store.delete_submission(pid, sid)
            return 204, None
        _, sub = self._store.find_submission(pid, sid)
        engine = self._store.engine_submission(sub)
        if engine.result.value == "cancelled":
            raise error_reply(404, "NotFound", f"submission {sid} was superseded")
        return self._submission_doc(pid, sub, engine)

    def _details(self, pid: str, sid: str) -> list[dict[str, Any]]:
        _, sub = self._store.find_submission(pid, sid)
        engine = self._store.engine_submission(sub)
        return views.workflow_details(
            engine, certification_after_signoff=self._store.certification_after_signoff
        )

    def _r_workflow(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, sid = ids
        self._allow(method, "GET")
        return {"value": self._details(pid, sid)}

    def _r_promote(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, sid = ids
        self._allow(method, "POST")
        self._store.promote(pid, sid)
        return self._details(pid, sid)[1]

    def _r_validations(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, sid = ids
        self._allow(method, "GET")
        _, sub = self._store.find_submission(pid, sid)
        engine = self._store.engine_submission(sub)
        return {"value": views.validation_items(engine.feedback)}

    def _r_reports(self, method: str, query: Any, body: Any, ids: tuple[str, ...]) -> Any:
        pid, sid = ids
        self._allow(method, "GET")
        _, sub = self._store.find_submission(pid, sid)
        engine = self._store.engine_submission(sub)
        uri = f"{self.server.base_url}/_emulator/reports/{pid}/{sid}"
        return {"value": views.certification_reports(engine, uri)}

    # --- admin and blobs --------------------------------------------------------------

    def _admin(self, method: str, path: str, query: dict[str, list[str]]) -> Any:
        store = self._store
        if path == "/stats":
            self._allow(method, "GET")
            return self.server.stats()
        if path == "/faults":
            self._allow(method, "POST")
            settings = _object(self._json_body(method)).get("settings", [])
            if not isinstance(settings, list) or not all(isinstance(s, str) for s in settings):
                raise error_reply(400, "InvalidRequest", "settings must be a list of NAME=VALUE")
            try:
                config = self.server.set_faults(settings)
            except FaultConfigError as exc:
                raise error_reply(400, "InvalidRequest", str(exc)) from None
            return {"enabled": config.enabled}
        if path == "/portal-edit":
            self._allow(method, "POST")
            body = _object(self._json_body(method))
            changes = body.get("changes")
            if not isinstance(changes, dict):
                raise error_reply(400, "InvalidRequest", "changes must be an object")
            with store.lock:
                return store.portal_edit(
                    str(body.get("productID")), str(body.get("module")), changes
                )
        if path == "/portal-submit":
            self._allow(method, "POST")
            body = _object(self._json_body(method))
            pid = str(body.get("productID"))
            with store.lock:
                product = store.product(pid)
                request = {
                    "resourceType": "SubmissionCreationRequest",
                    "targets": [{"type": "Scope", "value": "preview"}],
                    "resources": [{"type": m, "value": i} for m, i in product.drafts.items()],
                }
                sub = store.submit(pid, request, by_portal=True)
                return 201, self._submission_doc(pid, sub, store.engine_submission(sub))
        if m := re.match(r"^/reports/([^/]+)/([^/]+)$", path):
            self._allow(method, "GET")
            with store.lock:
                _, sub = store.find_submission(m[1], m[2])
                engine = store.engine_submission(sub)
            return {"submissionID": sub.id, "findings": views.certification_findings(engine)}
        raise error_reply(404, "NoRoute", f"no admin route {path}")

    def _blob(self, method: str, token: str, query: dict[str, list[str]]) -> Any:
        signature = (query.get("sig") or [""])[0]
        store = self._store
        if method == "GET":
            with store.lock:
                data = store.get_blob(token, signature)
            raise Reply(200, None, {"Content-Type": "application/octet-stream"}, raw=data)
        self._allow(method, "PUT")
        if self.headers.get("x-ms-blob-type") != "BlockBlob":
            raise error_reply(400, "MissingRequiredHeader", "x-ms-blob-type: BlockBlob is required")
        data = self._raw_body()
        with store.lock:
            store.put_blob(token, signature, data)
            self.server.uploads += 1
        raise Reply(201, None, {})

    # --- I/O --------------------------------------------------------------------------

    def _raw_body(self) -> bytes:
        return self._body

    def _json_body(self, method: str) -> Any:
        return self.json_body(self._body) if method in BODY_METHODS else None


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise error_reply(400, "InvalidRequest", "the body must be a JSON object")
    return body


def _expands(query: dict[str, list[str]], name: str) -> bool:
    values = ",".join(query.get("$expand", [])).lower().split(",")
    return name.lower() in (v.strip() for v in values)


def _retry_after(config: FaultConfig) -> str:
    """delta-seconds (rounded up), or an HTTP date when `retry_after_date` is set."""
    seconds = max(0.0, config.retry_after)
    if config.retry_after_date:
        return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)
    return str(math.ceil(seconds))


__all__ = ["API_PREFIX", "MEDIA_KINDS", "PartnerCenterEmulator", "running_emulator"]
