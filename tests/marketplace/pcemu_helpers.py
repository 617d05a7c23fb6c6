"""Driving the Partner Center emulator in tests: a contract-checking v1 caller, a product builder.

`V1` sends real HTTP to an emulator and checks every request body and every
response body against the v1 JSON Schemas (`pc_contract`), so each test that
uses it is also a contract test of the emulator.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from pc_contract import check, request_document, response_document

TOKEN = "test-token-not-a-secret"


@functools.cache
def shared_http() -> httpx.Client:
    """One client for every test: building one costs an SSL context (~0.3 s on a busy machine)."""
    return httpx.Client(timeout=10.0)


class V1:
    """A minimal v1 caller for tests; `calls` records (method, path, status)."""

    def __init__(self, base: str, *, headers: dict[str, str] | None = None) -> None:
        self.base = base
        self.http = shared_http()
        self.headers = {"Authorization": f"Bearer {TOKEN}", **(headers or {})}
        self.calls: list[tuple[str, str, int]] = []

    def close(self) -> None:
        """Nothing to release: the HTTP client is shared."""

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        etag: str | None = None,
        expect: int | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        headers = dict(self.headers)
        if etag is not None:
            headers["If-Match"] = etag
        document = request_document(method, path)
        if body is not None and document is not None:
            check(document, body)
        response = self.http.request(
            method, self.base + path, json=body, headers=headers, params=params
        )
        self.calls.append((method, path, response.status_code))
        if expect is not None:
            assert response.status_code == expect, response.text
        answer = response.json() if response.content else None
        schema = response_document(method, path, response.status_code)
        if schema is not None:
            check(schema, answer)
        return answer


@dataclass
class ProductIds:
    pid: str
    drafts: dict[str, str]
    listing: str
    prop: dict[str, Any]
    availability: dict[str, Any]
    package: dict[str, Any]


def create_product(v1: V1, offer: str, *, package_uri: str, description: str = "") -> ProductIds:
    """A complete CE product with an en-us listing, markets and a package, ready to submit."""
    product = v1.call(
        "POST",
        "/products",
        {
            "resourceType": "AzureDynamics365ForCustomerEngagement",
            "name": offer,
            "externalIDs": [{"type": "AzureOfferId", "value": offer}],
            "isModularPublishing": True,
        },
        expect=201,
    )
    pid = product["id"]
    v1.call(
        "POST",
        f"/products/{pid}/setup",
        {
            "resourceType": "AzureProductSetup",
            "sellingOption": "ListingOnly",
            "callToAction": "free",
            "enableTestDrive": False,
            "channelStates": [{"type": "Reseller", "value": "Disabled"}],
        },
        expect=201,
    )
    drafts = {}
    for module in ("Property", "Listing", "Availability", "Package"):
        (branch,) = v1.call("GET", f"/products/{pid}/branches/getByModule(module={module})")[
            "value"
        ]
        drafts[module] = branch["currentDraftInstanceID"]
    (prop,) = v1.call(
        "GET", f"/products/{pid}/properties/getByInstanceID(instanceID={drafts['Property']})"
    )["value"]
    prop = v1.call(
        "PUT",
        f"/products/{pid}/properties/{prop['id']}",
        {"resourceType": "AzureProperty", "categories": ["Sales"], "appVersion": "1.0.0"},
        etag=prop["@odata.etag"],
        expect=200,
    )
    listing = v1.call(
        "POST",
        f"/products/{pid}/listings/createWithInstanceID(instanceID={drafts['Listing']})",
        {
            "resourceType": "AzureListing",
            "languageCode": "en-us",
            "title": "Contoso App",
            "summary": "Sales insights for Dynamics 365.",
            "shortDescription": "Sales insights.",
            "description": description or "<p>Sales insights for your team.</p>",
            "listingUris": [{"type": "PrivacyUri", "uri": "https://contoso.example/privacy"}],
            "listingContacts": [
                {
                    "type": "CustomerSupport",
                    "email": "s@contoso.example",
                    "name": "Support",
                    "phone": "+1 425 555 0100",
                    "uri": "https://contoso.example/support",
                }
            ],
        },
        expect=201,
    )
    (availability,) = v1.call(
        "GET",
        f"/products/{pid}/featureAvailabilities/getByInstanceID"
        f"(instanceID={drafts['Availability']})",
        params={"$expand": "MarketStates"},
    )["value"]
    availability = v1.call(
        "PUT",
        f"/products/{pid}/featureavailabilities/{availability['id']}",
        {**availability, "marketStates": [{"marketCode": "US", "state": "Enabled"}]},
        etag=availability["@odata.etag"],
        params={"$expand": "MarketStates"},
        expect=200,
    )
    (package,) = v1.call(
        "GET",
        f"/products/{pid}/packageConfigurations/getByInstanceID(instanceID={drafts['Package']})",
    )["value"]
    package = v1.call(
        "PUT",
        f"/products/{pid}/packageconfigurations/{package['id']}",
        {
            "resourceType": "Dynamics365CustomerEngagementPackageConfiguration",
            "baseLicenseModel": "User",
            "packageLocationUri": package_uri,
            "packageRegionAvailabilities": [{"region": "NorthAmerica", "isAvailable": True}],
        },
        etag=package["@odata.etag"],
        expect=200,
    )
    v1.call(
        "POST",
        f"/products/{pid}/resellerConfiguration",
        {
            "resourceType": "ResellerConfiguration",
            "resellerChannelState": "Disabled",
            "tenantIds": [],
        },
    )
    return ProductIds(pid, drafts, listing["id"], prop, availability, package)


def submission_request(ids: ProductIds, key: str = "") -> dict[str, Any]:
    resources = [{"type": m, "value": i} for m, i in ids.drafts.items()]
    resources.append({"type": "ResellerConfiguration", "value": f"{ids.pid}-ResellerInstance"})
    request: dict[str, Any] = {
        "resourceType": "SubmissionCreationRequest",
        "targets": [{"type": "Scope", "value": "preview"}],
        "resources": resources,
        "publishOption": {"isManualPublish": True, "isAutoPromote": False},
    }
    if key:
        request["extendedProperties"] = [{"type": "offerctlIdempotencyKey", "value": key}]
    return request


@contextmanager
def file_server(files: dict[str, bytes]) -> Iterator[str]:
    """A loopback HTTP server serving `files` by path, standing in for a package's blob."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = files.get(self.path.split("?", 1)[0])
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
