"""The Partner Center ingestion API v1 calls offerctl makes, one method each.

Thin: paths, headers (`If-Match`, `x-ms-publisherId`), paging and error
mapping; no decisions. Errors become MarketplaceError subclasses:
404 NotFound, 409/412 on a PUT `StaleEtag`, other 409 InvalidState, 400 a
permanent error carrying the API's message, 429/5xx/connection errors
transient (already retried by `controller.http` before they get here).
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from controller.http import HttpError, JsonHttp, RetryPolicy, error_message
from controller.marketplace.api import InvalidState, MarketplaceError, NotFound

from .mapping import OFFER_ID_TYPE, PRODUCT_TYPE

MAX_PAGES = 50


class StaleEtag(MarketplaceError):
    """A PUT's If-Match no longer matches: the resource changed behind our back."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class V1Api:
    """Partner Center ingestion v1 at `base_url` (everything before `/products`)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: Callable[[], str],
        seller_id: str = "",
        policy: RetryPolicy | None = None,
        allow_http: bool = False,
    ) -> None:
        self._token = token
        self._seller_id = seller_id
        self.http = JsonHttp(base_url, policy=policy, headers=self._headers, allow_http=allow_http)

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._token()}"}
        if self._seller_id:
            headers["x-ms-publisherId"] = self._seller_id
        return headers

    @property
    def calls(self) -> int:
        return self.http.calls

    # --- plumbing --------------------------------------------------------------------------

    def call(self, method: str, path: str, *, body: Any = None,
             etag: str | None = None, retry: bool = True) -> Any:  # fmt: skip
        headers = {"If-Match": etag} if etag is not None else None
        try:
            data, _ = self.http.request(method, path, body=body, headers=headers, retry=retry)
        except HttpError as exc:
            raise _marketplace_error(exc, method, etag is not None) from None
        return data

    def items(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a paged collection, following `@odata.nextLink` within the base URL."""
        url: str | None = path
        for _ in range(MAX_PAGES):
            if url is None:
                return
            data = self.call("GET", url)
            if not isinstance(data, Mapping):
                raise MarketplaceError(f"GET {path.split('?', maxsplit=1)[0]}: not a collection",
                                       transient=False)  # fmt: skip
            for item in data.get("value") or []:
                if isinstance(item, dict):
                    yield item
            url = self._next(data.get("@odata.nextLink"))
        raise MarketplaceError(f"GET {path.split('?', maxsplit=1)[0]}: more than {MAX_PAGES} pages",
                               transient=False)  # fmt: skip

    def _next(self, link: object) -> str | None:
        if not isinstance(link, str) or not link:
            return None
        base = urllib.parse.urlsplit(self.http.base_url)
        target = urllib.parse.urlsplit(urllib.parse.urljoin(self.http.base_url + "/", link))
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise MarketplaceError("a next-page link points to another host; refused",
                                   transient=False)  # fmt: skip
        path = target.path
        if not path.startswith(base.path):
            # Partner Center has been seen to answer links relative to the API root.
            path = base.path.rstrip("/") + "/" + path.lstrip("/").removeprefix("v1.0/ingestion/")
        return path[len(base.path.rstrip("/")) :] + (f"?{target.query}" if target.query else "")

    # --- products ----------------------------------------------------------------------------

    def find_product(self, offer: str) -> dict[str, Any] | None:
        query = urllib.parse.quote(
            f"ExternalIDs/Any(i:i/Type eq '{OFFER_ID_TYPE}' and i/Value eq '{offer}')", safe=""
        )
        for product in self.items(f"/products?$filter={query}"):
            for ext in product.get("externalIDs") or product.get("externalIds") or []:
                if (isinstance(ext, Mapping) and ext.get("type") == OFFER_ID_TYPE
                        and ext.get("value") == offer):  # fmt: skip
                    if product.get("resourceType", PRODUCT_TYPE) != PRODUCT_TYPE:
                        raise MarketplaceError(
                            f"Partner Center offer {offer!r} is a {product.get('resourceType')}, "
                            f"not a Dynamics 365 for Customer Engagement offer",
                            transient=False,
                        )
                    return product
        return None

    def product(self, product_id: str) -> dict[str, Any]:
        data = self.call("GET", f"/products/{_seg(product_id)}")
        return data if isinstance(data, dict) else {}

    def create_product(self, document: Mapping[str, Any]) -> dict[str, Any]:
        data = self.call("POST", "/products", body=document, retry=False)
        if not isinstance(data, dict) or not data.get("id"):
            raise MarketplaceError("POST /products: the answer has no id", transient=False)
        return data

    def setup(self, product_id: str, document: Mapping[str, Any]) -> None:
        self.call("POST", f"/products/{_seg(product_id)}/setup", body=document)

    def branch_instance(self, product_id: str, module: str) -> str:
        path = f"/products/{_seg(product_id)}/branches/getByModule(module={module})"
        for branch in self.items(path):
            if not branch.get("variantID") and branch.get("currentDraftInstanceID"):
                return str(branch["currentDraftInstanceID"])
        raise MarketplaceError(f"product {product_id}: no draft {module} branch", transient=False)

    def by_instance(self, product_id: str, collection: str, instance: str,
                    expand: str = "") -> list[dict[str, Any]]:  # fmt: skip
        suffix = f"?$expand={expand}" if expand else ""
        return list(self.items(
            f"/products/{_seg(product_id)}/{collection}/getByInstanceID(instanceID={instance}){suffix}"
        ))  # fmt: skip

    def put(self, product_id: str, collection: str, document: Mapping[str, Any],
            expand: str = "") -> dict[str, Any]:  # fmt: skip
        resource = str(document.get("id", ""))
        suffix = f"?$expand={expand}" if expand else ""
        data = self.call(
            "PUT", f"/products/{_seg(product_id)}/{collection}/{_seg(resource)}{suffix}",
            body=document, etag=str(document.get("@odata.etag", "")),
        )  # fmt: skip
        return data if isinstance(data, dict) else dict(document)

    def create_listing(self, product_id: str, instance: str,
                       document: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
        path = f"/products/{_seg(product_id)}/listings/createWithInstanceID(instanceID={instance})"
        data = self.call("POST", path, body=document, retry=False)
        return data if isinstance(data, dict) else {}

    def delete(self, path: str) -> None:
        with contextlib.suppress(NotFound):  # gone already: the wanted outcome
            self.call("DELETE", path)

    # --- submissions -------------------------------------------------------------------------

    def submissions(self, product_id: str) -> list[dict[str, Any]]:
        return list(self.items(f"/products/{_seg(product_id)}/submissions"))

    def submission(self, product_id: str, submission_id: str) -> dict[str, Any]:
        data = self.call("GET", f"/products/{_seg(product_id)}/submissions/{_seg(submission_id)}")
        return data if isinstance(data, dict) else {}

    def create_submission(self, product_id: str, request: Mapping[str, Any]) -> dict[str, Any]:
        # Not retried blindly: an answer lost after the POST is found again by its key.
        data = self.call("POST", f"/products/{_seg(product_id)}/submissions", body=request,
                         retry=False)  # fmt: skip
        if not isinstance(data, dict) or not data.get("id"):
            raise MarketplaceError("POST submissions: the answer has no id", transient=False)
        return data

    def submission_part(self, product_id: str, submission_id: str,
                        part: str) -> list[dict[str, Any]]:  # fmt: skip
        return list(self.items(
            f"/products/{_seg(product_id)}/submissions/{_seg(submission_id)}/{part}"
        ))  # fmt: skip

    def promote(self, product_id: str, submission_id: str) -> None:
        self.call("POST", f"/products/{_seg(product_id)}/submissions/{_seg(submission_id)}/promote",
                  retry=False)  # fmt: skip

    def cancel(self, product_id: str, submission_id: str) -> None:
        self.call("DELETE", f"/products/{_seg(product_id)}/submissions/{_seg(submission_id)}")


def _marketplace_error(exc: HttpError, method: str, conditional: bool) -> MarketplaceError:
    text = str(exc)
    if exc.status == 404:
        return NotFound(text)
    if conditional and exc.status in (409, 412):
        return StaleEtag(text)
    if exc.status == 409:
        return InvalidState(text)
    if exc.status in (401, 403):
        return MarketplaceError(
            f"{text} (check the token and that the Entra app has the Manager role in Partner "
            "Center)",
            transient=False,
        )
    if exc.status == 400:
        message = error_message(exc.body)
        return MarketplaceError(f"{method}: Partner Center refused the request: {message or text}",
                                transient=False)  # fmt: skip
    return MarketplaceError(text, transient=exc.transient, retry_after=exc.retry_after)


def _seg(value: str) -> str:
    return urllib.parse.quote(value, safe="")
