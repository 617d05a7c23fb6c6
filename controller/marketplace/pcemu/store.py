"""The emulator's v1 resources: products and their modules, with ETags, behind one lock.

Resources live in memory for the life of the server process (publishing
state lives in the engine's SQLite file). Every document carries an
`@odata.etag` that changes on every write; a PUT must send the current one in
`If-Match` (missing: 409, stale: 412), so a client that read before a portal
edit cannot overwrite it.

A submission freezes the module instances it names under new instance ids
(readable with `getByInstanceID`), while the branches' `currentDraftInstanceID`
keeps pointing at the editable draft, so preview and live can be told apart
from the draft. Publishing goes through the engine (`SimulatedMarketplace`):
one engine submission per v1 submission, keyed by product and release.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.core.model import Target

from ..api import InvalidState, MarketplaceError, NotFound, OfferPayload, Submission
from ..simulated import SimulatedMarketplace
from . import views

MODULES = ("Property", "Listing", "Availability", "Package", "ResellerConfiguration")
SUBMITTED_MODULES = frozenset(MODULES)
MEDIA_KINDS = {"images": "ListingImage", "assets": "ListingAsset", "videos": "ListingVideo"}
MEDIA_STATES = ("PendingUpload", "Uploaded", "InProcessing", "Processed", "ProcessFailed")
FIRST_SUBMISSION_ID = 1152921505690000000  # v1 submission ids are large integers
OFFER_ID_TYPE = "AzureOfferId"
IDEMPOTENCY_PROPERTY = "offerctlIdempotencyKey"


class ApiError(Exception):
    """An error answer: HTTP status, v1-style code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class EmuSubmission:
    id: str
    release: int
    engine_id: str
    targets: list[dict[str, Any]]
    resources: list[dict[str, Any]]
    publish_option: dict[str, Any] | None
    extended: list[dict[str, Any]]
    by_portal: bool
    deleted: bool = False
    promoted: bool = False


@dataclass
class Product:
    id: str
    offer_id: str
    doc: dict[str, Any]
    setup: dict[str, Any] | None = None
    drafts: dict[str, str] = field(default_factory=dict)  # module -> draft instance id
    prop: dict[str, Any] = field(default_factory=dict)
    listings: dict[str, dict[str, Any]] = field(default_factory=dict)  # listing id -> doc
    media: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # lid/kind -> docs
    availability: dict[str, Any] = field(default_factory=dict)
    package: dict[str, Any] = field(default_factory=dict)
    reseller: dict[str, Any] | None = None
    lead: dict[str, Any] | None = None
    frozen: dict[str, tuple[str, Any]] = field(default_factory=dict)  # instance -> (module, docs)
    submissions: list[EmuSubmission] = field(default_factory=list)


PackageFetcher = Callable[[str], bytes | None]


class Store:
    """Every product the emulator knows, and the operations the HTTP routes need."""

    def __init__(
        self,
        engine: SimulatedMarketplace,
        *,
        fetch_package: PackageFetcher,
        certification_after_signoff: bool = False,
    ) -> None:
        self.engine = engine
        self.fetch_package = fetch_package
        self.certification_after_signoff = certification_after_signoff
        self.lock = threading.RLock()
        self.products: dict[str, Product] = {}
        self.blobs: dict[str, bytes] = {}  # upload token -> bytes
        self.blob_signatures: dict[str, str] = {}
        self._etags = itertools.count(1)
        self._submission_ids = itertools.count(FIRST_SUBMISSION_ID)
        self.promotes: dict[str, int] = {}

    # --- helpers ------------------------------------------------------------------------

    def etag(self) -> str:
        return f'"{next(self._etags):016x}"'

    def stamp(self, doc: dict[str, Any]) -> dict[str, Any]:
        doc["@odata.etag"] = self.etag()
        return doc

    def product(self, pid: str) -> Product:
        found = self.products.get(pid)
        if found is None:
            raise ApiError(404, "NotFound", f"no product {pid}")
        return found

    @staticmethod
    def check_etag(doc: Mapping[str, Any], if_match: str | None) -> None:
        if if_match is None or not if_match.strip():
            raise ApiError(
                409, "PreconditionRequired", "If-Match is required: send the resource's @odata.etag"
            )
        if if_match.strip() == "*":
            raise ApiError(
                409, "PreconditionRequired", "If-Match must carry the resource's @odata.etag, not *"
            )
        if if_match.strip() != doc.get("@odata.etag"):
            raise ApiError(
                412,
                "PreconditionFailed",
                "the resource changed since it was read (stale @odata.etag)",
            )

    # --- products -------------------------------------------------------------------------

    def create_product(self, body: Mapping[str, Any]) -> dict[str, Any]:
        if body.get("resourceType") != "AzureDynamics365ForCustomerEngagement":
            raise ApiError(
                400,
                "InvalidRequest",
                "resourceType must be AzureDynamics365ForCustomerEngagement for this emulator",
            )
        offer_id = offer_id_of(body)
        if not offer_id:
            raise ApiError(400, "InvalidRequest", "externalIDs needs an AzureOfferId")
        if not isinstance(body.get("name"), str) or not body["name"]:
            raise ApiError(400, "InvalidRequest", "name is required")
        if self.find_by_offer(offer_id) is not None:
            raise ApiError(409, "Conflict", f"a product with AzureOfferId {offer_id} exists")
        pid = str(uuid.uuid4())
        doc = {
            "resourceType": body["resourceType"],
            "id": pid,
            "name": body["name"],
            "externalIDs": [{"type": OFFER_ID_TYPE, "value": offer_id}],
            "isModularPublishing": True,
        }
        product = Product(pid, offer_id, doc)
        for module in MODULES:
            product.drafts[module] = f"{pid}-{module.lower()}-draft"
        product.prop = self.stamp({"resourceType": "AzureProperty", "id": str(uuid.uuid4())})
        product.availability = self.stamp(
            {
                "resourceType": "FeatureAvailability",
                "id": str(uuid.uuid4()),
                "visibility": "Public",
                "marketStates": [],
                "isHidden": False,
            }
        )
        product.package = self.stamp(
            {
                "resourceType": "Dynamics365CustomerEngagementPackageConfiguration",
                "id": str(uuid.uuid4()),
            }
        )
        self.products[pid] = product
        return copy.deepcopy(doc)

    def find_by_offer(self, offer_id: str) -> Product | None:
        for product in self.products.values():
            if product.offer_id == offer_id:
                return product
        return None

    def list_products(self, offer_id: str | None, resource_type: str | None) -> list[Any]:
        out = []
        for product in self.products.values():
            if offer_id is not None and product.offer_id != offer_id:
                continue
            if resource_type is not None and product.doc["resourceType"] != resource_type:
                continue
            out.append(copy.deepcopy(product.doc))
        return out

    def set_setup(self, pid: str, body: Mapping[str, Any]) -> dict[str, Any]:
        product = self.product(pid)
        if body.get("resourceType") != "AzureProductSetup":
            raise ApiError(400, "InvalidRequest", "resourceType must be AzureProductSetup")
        product.setup = dict(body)
        return copy.deepcopy(product.setup)

    def branch(self, pid: str, module: str) -> list[dict[str, Any]]:
        product = self.product(pid)
        if module not in product.drafts:
            raise ApiError(400, "InvalidRequest", f"unknown module {module}")
        return [
            {
                "resourceType": "Branch",
                "id": f"{pid}-{module.lower()}-main",
                "friendlyName": "Main",
                "type": "Main",
                "module": module,
                "currentDraftInstanceID": product.drafts[module],
            }
        ]

    # --- modules by instance ---------------------------------------------------------------

    def by_instance(self, pid: str, module: str, instance: str) -> Any:
        """The module's documents in an instance: the draft, or one frozen by a submission."""
        product = self.product(pid)
        if instance == product.drafts.get(module):
            return self._module_docs(product, module)
        frozen = product.frozen.get(instance)
        if frozen is None or frozen[0] != module:
            raise ApiError(404, "NotFound", f"no {module} instance {instance}")
        return copy.deepcopy(frozen[1])

    def _module_docs(self, product: Product, module: str) -> Any:
        if module == "Property":
            return [copy.deepcopy(product.prop)]
        if module == "Listing":
            return [copy.deepcopy(doc) for doc in product.listings.values()]
        if module == "Availability":
            return [copy.deepcopy(product.availability)]
        if module == "Package":
            return [copy.deepcopy(product.package)]
        return [copy.deepcopy(product.reseller)] if product.reseller else []

    def put_doc(
        self, pid: str, module: str, rid: str, body: Mapping[str, Any], if_match: str | None
    ) -> dict[str, Any]:
        product = self.product(pid)
        current = self._doc(product, module, rid)
        self.check_etag(current, if_match)
        if body.get("resourceType") != current["resourceType"]:
            raise ApiError(400, "InvalidRequest", f"resourceType must be {current['resourceType']}")
        if body.get("id") not in (None, rid):
            raise ApiError(400, "InvalidRequest", "id does not match the URL")
        new = {k: copy.deepcopy(v) for k, v in body.items() if k != "@odata.etag"}
        new["id"] = rid
        self.stamp(new)
        self._replace(product, module, rid, new)
        return copy.deepcopy(new)

    def get_doc(self, pid: str, module: str, rid: str) -> dict[str, Any]:
        return copy.deepcopy(self._doc(self.product(pid), module, rid))

    def _doc(self, product: Product, module: str, rid: str) -> dict[str, Any]:
        if module == "Listing":
            doc = product.listings.get(rid)
        else:
            doc = {
                "Property": product.prop,
                "Availability": product.availability,
                "Package": product.package,
            }[module]
            doc = doc if doc.get("id") == rid else None
        if doc is None:
            raise ApiError(404, "NotFound", f"no {module} {rid}")
        return doc

    def _replace(self, product: Product, module: str, rid: str, new: dict[str, Any]) -> None:
        if module == "Listing":
            product.listings[rid] = new
        elif module == "Property":
            product.prop = new
        elif module == "Availability":
            product.availability = new
        else:
            product.package = new

    def create_listing(self, pid: str, instance: str, body: Mapping[str, Any]) -> dict[str, Any]:
        product = self.product(pid)
        if instance != product.drafts["Listing"]:
            raise ApiError(400, "InvalidRequest", f"{instance} is not the Listing draft")
        if body.get("resourceType") != "AzureListing":
            raise ApiError(400, "InvalidRequest", "resourceType must be AzureListing")
        lang = str(body.get("languageCode") or "").lower()
        if not lang:
            raise ApiError(400, "InvalidRequest", "languageCode is required")
        if any(str(d.get("languageCode")).lower() == lang for d in product.listings.values()):
            raise ApiError(409, "Conflict", f"a {lang} listing exists")
        doc = {k: copy.deepcopy(v) for k, v in body.items() if k != "@odata.etag"}
        doc["id"] = str(uuid.uuid4())
        self.stamp(doc)
        product.listings[doc["id"]] = doc
        return copy.deepcopy(doc)

    def delete_listing(self, pid: str, lid: str) -> None:
        product = self.product(pid)
        if product.listings.pop(lid, None) is None:
            raise ApiError(404, "NotFound", f"no listing {lid}")
        for kind in MEDIA_KINDS:
            product.media.pop(f"{lid}/{kind}", None)

    # --- listing media ------------------------------------------------------------------

    def media(self, pid: str, lid: str, kind: str) -> dict[str, dict[str, Any]]:
        product = self.product(pid)
        if lid not in product.listings:
            raise ApiError(404, "NotFound", f"no listing {lid}")
        return product.media.setdefault(f"{lid}/{kind}", {})

    def list_media(self, pid: str, lid: str, kind: str) -> list[dict[str, Any]]:
        docs = self.media(pid, lid, kind)
        for doc in docs.values():
            self._process(doc)
        return [copy.deepcopy(d) for d in docs.values()]

    def create_media(
        self,
        pid: str,
        lid: str,
        kind: str,
        body: Mapping[str, Any],
        blob_url: Callable[[str, str], str],
    ) -> dict[str, Any]:
        docs = self.media(pid, lid, kind)
        if body.get("resourceType") != MEDIA_KINDS[kind]:
            raise ApiError(400, "InvalidRequest", f"resourceType must be {MEDIA_KINDS[kind]}")
        if body.get("state") != "PendingUpload":
            raise ApiError(400, "InvalidRequest", "a new listing file starts in PendingUpload")
        if not isinstance(body.get("fileName"), str) or not body["fileName"]:
            raise ApiError(400, "InvalidRequest", "fileName is required")
        doc = {k: copy.deepcopy(v) for k, v in body.items() if k != "@odata.etag"}
        doc["id"] = str(uuid.uuid4())
        token, signature = uuid.uuid4().hex, uuid.uuid4().hex
        self.blob_signatures[token] = signature
        doc["fileSasUri"] = blob_url(token, signature)
        self.stamp(doc)
        docs[doc["id"]] = doc
        return copy.deepcopy(doc)

    def get_media(self, pid: str, lid: str, kind: str, mid: str) -> dict[str, Any]:
        doc = self.media(pid, lid, kind).get(mid)
        if doc is None:
            raise ApiError(404, "NotFound", f"no {MEDIA_KINDS[kind]} {mid}")
        self._process(doc)
        return copy.deepcopy(doc)

    def put_media(
        self,
        pid: str,
        lid: str,
        kind: str,
        mid: str,
        *,
        body: Mapping[str, Any],
        if_match: str | None,
    ) -> dict[str, Any]:
        docs = self.media(pid, lid, kind)
        current = docs.get(mid)
        if current is None:
            raise ApiError(404, "NotFound", f"no {MEDIA_KINDS[kind]} {mid}")
        self.check_etag(current, if_match)
        state = body.get("state")
        if state not in MEDIA_STATES:
            raise ApiError(400, "InvalidRequest", f"state {state!r} is not a v1 file state")
        new = {k: copy.deepcopy(v) for k, v in body.items() if k != "@odata.etag"}
        new["id"], new["fileSasUri"] = mid, current["fileSasUri"]
        if state == "Uploaded":
            # Processing starts; the next read finds it done (or failed without bytes).
            new["state"] = "InProcessing"
        self.stamp(new)
        docs[mid] = new
        return copy.deepcopy(new)

    def delete_media(self, pid: str, lid: str, kind: str, mid: str) -> None:
        if self.media(pid, lid, kind).pop(mid, None) is None:
            raise ApiError(404, "NotFound", f"no {MEDIA_KINDS[kind]} {mid}")

    def _process(self, doc: dict[str, Any]) -> None:
        if doc.get("state") == "InProcessing":
            token = blob_token(str(doc.get("fileSasUri") or ""))
            doc["state"] = "Processed" if token in self.blobs else "ProcessFailed"
            self.stamp(doc)

    def put_blob(self, token: str, signature: str, data: bytes) -> None:
        if self.blob_signatures.get(token) != signature:
            raise ApiError(403, "AuthenticationFailed", "the SAS signature does not match")
        self.blobs[token] = data

    def get_blob(self, token: str, signature: str) -> bytes:
        if self.blob_signatures.get(token) != signature or token not in self.blobs:
            raise ApiError(404, "BlobNotFound", "no such blob")
        return self.blobs[token]

    # --- lead and reseller configuration -----------------------------------------------

    def set_reseller(self, pid: str, body: Mapping[str, Any]) -> dict[str, Any]:
        product = self.product(pid)
        if body.get("resourceType") != "ResellerConfiguration":
            raise ApiError(400, "InvalidRequest", "resourceType must be ResellerConfiguration")
        product.reseller = dict(copy.deepcopy(body))
        return copy.deepcopy(product.reseller)

    def set_lead(self, pid: str, body: Mapping[str, Any]) -> dict[str, Any]:
        product = self.product(pid)
        if not str(body.get("resourceType") or "").endswith("LeadConfiguration"):
            raise ApiError(400, "InvalidRequest", "resourceType must name a LeadConfiguration")
        product.lead = dict(copy.deepcopy(body))
        return copy.deepcopy(product.lead)

    # --- submissions ------------------------------------------------------------------

    def engine_submission(self, sub: EmuSubmission) -> Submission:
        try:
            return self.engine.get(sub.engine_id)
        except NotFound as exc:
            raise ApiError(404, "NotFound", str(exc)) from None
        except MarketplaceError as exc:
            raise ApiError(503 if exc.transient else 500, "EngineError", str(exc)) from None

    def find_submission(self, pid: str, sid: str) -> tuple[Product, EmuSubmission]:
        product = self.product(pid)
        for sub in product.submissions:
            if sub.id == sid and not sub.deleted:
                return product, sub
        raise ApiError(404, "NotFound", f"no submission {sid}")

    def live_submissions(self, pid: str) -> list[tuple[EmuSubmission, Submission]]:
        product = self.product(pid)
        out = []
        for sub in product.submissions:
            if sub.deleted:
                continue
            engine = self.engine_submission(sub)
            if engine.result.value == "cancelled":  # superseded by a newer one
                continue
            out.append((sub, engine))
        return out

    def submit(self, pid: str, body: Mapping[str, Any], *, by_portal: bool) -> EmuSubmission:
        product = self.product(pid)
        if body.get("resourceType") != "SubmissionCreationRequest":
            raise ApiError(400, "InvalidRequest", "resourceType must be SubmissionCreationRequest")
        targets = body.get("targets")
        if targets != [{"type": "Scope", "value": "preview"}]:
            raise ApiError(
                400, "InvalidRequest", 'targets must be [{"type": "Scope", "value": "preview"}]'
            )
        resources = body.get("resources")
        if not isinstance(resources, list) or not all(
            isinstance(r, Mapping) and isinstance(r.get("type"), str) for r in resources
        ):
            raise ApiError(400, "InvalidRequest", "resources must be a list of {type, value}")
        named = {str(r["type"]): r.get("value") for r in resources}
        if "ResellerConfiguration" not in named:
            raise ApiError(400, "Resell-20007", "ResellerConfiguration module is missing..")
        for module in MODULES:
            if module == "ResellerConfiguration":
                continue
            if named.get(module) != product.drafts[module]:
                raise ApiError(
                    400,
                    "InvalidRequest",
                    f"resources: {module} must be the current draft instance "
                    f"{product.drafts[module]}",
                )
        for sub, engine in self.live_submissions(pid):
            state, substate = views.submission_state(engine)
            if (state, substate) in (("InProgress", "Submitted"), ("Published", "Publishing")):
                raise ApiError(
                    409,
                    "InvalidState",
                    f"submission {sub.id} is in progress ({state}/{substate}); "
                    "only one submission per product may be in progress",
                )
        release = len(product.submissions) + 1
        frozen = []
        for module in MODULES:
            instance = f"{pid}-{module.lower()}-r{release}"
            product.frozen[instance] = (module, self._module_docs(product, module))
            frozen.append({"type": module, "value": instance})
        payload = self._payload(product)
        key = f"{pid}/release-{release}"
        try:
            engine = self.engine.submit(
                product.offer_id, str(release), Target.PREVIEW, payload, key
            )
        except MarketplaceError as exc:
            raise ApiError(503 if exc.transient else 400, "EngineError", str(exc)) from None
        extended = body.get("extendedProperties")
        sub = EmuSubmission(
            id=str(next(self._submission_ids)),
            release=release,
            engine_id=engine.id,
            targets=[{"type": "Scope", "value": "preview"}],
            resources=frozen,
            publish_option=copy.deepcopy(body.get("publishOption")),
            extended=copy.deepcopy(extended) if isinstance(extended, list) else [],
            by_portal=by_portal,
        )
        product.submissions.append(sub)
        return sub

    def _payload(self, product: Product) -> OfferPayload:
        files: dict[str, bytes] = {}
        images: dict[str, list[dict[str, Any]]] = {}
        for lid, listing in product.listings.items():
            lang = str(listing.get("languageCode") or "").lower()
            for doc in product.media.get(f"{lid}/images", {}).values():
                images.setdefault(lid, []).append(doc)
                token = blob_token(str(doc.get("fileSasUri") or ""))
                if token in self.blobs:
                    files[views.image_file(lang, doc)] = self.blobs[token]
        package_bytes = None
        uri = product.package.get("packageLocationUri")
        if isinstance(uri, str) and uri:
            package_bytes = self.fetch_package(uri)
        if package_bytes is not None:
            files[views.PACKAGE_FILE] = package_bytes
        spec = views.certification_spec(
            product.doc,
            product.prop,
            list(product.listings.values()),
            images=images,
            package=product.package,
            has_package=package_bytes is not None,
        )
        return OfferPayload(spec=spec, files=files)

    def promote(self, pid: str, sid: str) -> Submission:
        _, sub = self.find_submission(pid, sid)
        engine = self.engine_submission(sub)
        state = views.submission_state(engine)
        if state != ("Published", "ReadyToPublish"):
            raise ApiError(
                409,
                "InvalidState",
                f"submission {sid} is {state[0]}/{state[1]}; promote needs "
                "Published/ReadyToPublish",
            )
        try:
            done = self.engine.go_live(sub.engine_id)
        except InvalidState as exc:
            raise ApiError(409, "InvalidState", str(exc)) from None
        sub.promoted = True
        self.promotes[pid] = self.promotes.get(pid, 0) + 1
        return done

    def delete_submission(self, pid: str, sid: str) -> None:
        _, sub = self.find_submission(pid, sid)
        engine = self.engine_submission(sub)
        state, substate = views.submission_state(engine)
        if state != "InProgress":
            raise ApiError(
                409,
                "InvalidState",
                f"submission {sid} is {state}/{substate}; only an in-progress "
                "submission can be deleted",
            )
        if substate == "Submitted":
            try:
                self.engine.cancel(sub.engine_id)
            except InvalidState as exc:
                raise ApiError(409, "InvalidState", str(exc)) from None
        sub.deleted = True

    def portal_edit(self, pid: str, module: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change a draft document behind the client's back, as an edit in the portal does."""
        product = self.product(pid)
        if module == "Listing":
            if not product.listings:
                raise ApiError(404, "NotFound", "the product has no listing to edit")
            doc = next(iter(product.listings.values()))
        elif module in ("Property", "Availability", "Package"):
            doc = {
                "Property": product.prop,
                "Availability": product.availability,
                "Package": product.package,
            }[module]
        else:
            raise ApiError(400, "InvalidRequest", f"module {module} cannot be edited here")
        for name, value in changes.items():
            if name in ("id", "resourceType", "@odata.etag"):
                raise ApiError(400, "InvalidRequest", f"{name} cannot be edited")
            doc[name] = copy.deepcopy(value)
        self.stamp(doc)
        return copy.deepcopy(doc)


def offer_id_of(doc: Mapping[str, Any]) -> str:
    for key in ("externalIDs", "externalIds"):
        for pair in doc.get(key) or []:
            if isinstance(pair, Mapping) and pair.get("type") == OFFER_ID_TYPE:
                return str(pair.get("value") or "")
    return ""


def blob_token(uri: str) -> str:
    """The upload token in a `fileSasUri` the emulator handed out (`.../_blob/TOKEN?sig=...`)."""
    path = uri.split("?", 1)[0]
    marker = "/_blob/"
    return path.rsplit(marker, 1)[-1] if marker in path else ""
