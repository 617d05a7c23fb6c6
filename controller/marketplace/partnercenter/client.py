"""`PartnerCenterMarketplace`: offerctl's Marketplace over Partner Center ingestion API v1.

submit: find the product by AzureOfferId (create it and its setup when
absent) → bring each draft module in line with the manifest (PUT with
If-Match; listing media through the upload flow, only when their content
changed) → POST a preview-scope submission naming every module's draft
instance. The attempt is recorded before the POST (state.py), so after a
crash the controller adopts its own in-progress submission instead of making
another. An in-progress submission it did not make (portal) is never
cancelled: submit raises `PortalSubmission` and the offer waits.

Reads are bounded by `poll_interval`: a submission read less than that ago
is answered from memory; a settled one is never read again. `listing` makes
no call at all (it is answered from what this client observed), so settled
offers cost 0 calls per pass.

Submission ids are `PRODUCT-ID/SUBMISSION-ID`, so each id names the product
(and through its AzureOfferId the offer) it belongs to.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from controller.core.model import ConditionType, Stage, StageState, Target
from controller.failpoint import failpoint
from controller.http import HttpError
from controller.marketplace import wire
from controller.marketplace.api import (
    InvalidState,
    MarketplaceError,
    NotFound,
    OfferListing,
    OfferPayload,
    StageProgress,
    Submission,
    SubmissionResult,
)

from . import adopt, mapping
from .package import (
    BlobPackageStore,
    PackageError,
    given_location,
    needs_renewal,
    secret_from_env,
)
from .state import Attempt, ClientState
from .v1 import StaleEtag, V1Api

log = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 60.0  # Microsoft asks clients to poll no more than once a minute
MEDIA_PROCESS_POLLS = 20
RESELLER_MODULE = "ResellerConfiguration"
AFTER_POST = "partnercenter-after-post"  # failpoint: submission created, its id not recorded
DRIFT_MARK = "__drift__"  # baseline entry: the generation a drift was reported for
DRIFT_CHECKED = "__drift_checked__"  # baseline entry: when the draft was last compared (ISO)
DRIFT_FOUND = "__drift_found__"  # baseline entry: {"generation", "fields"} of a drift seen
DEFAULT_DRIFT_INTERVAL = 3600.0  # a resting offer's draft is compared at most once an hour
# Module → collection for getByInstanceID reads and for PUTs (v1 spells them differently).
COLLECTIONS = {"Property": "properties", "Listing": "listings",
               "Availability": "featureAvailabilities",
               "Package": "packageConfigurations"}  # fmt: skip
PUT_COLLECTIONS = {"Property": "properties", "Listing": "listings",
                   "Availability": "featureavailabilities",
                   "Package": "packageconfigurations"}  # fmt: skip


class PortalSubmission(MarketplaceError):
    """An in-progress submission offerctl did not make: never cancelled, waited for."""

    reason = "PortalSubmissionInProgress"

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


class StopDistributionInPortal(MarketplaceError):
    """`target: withdrawn` on Partner Center: a person presses Stop distribution in the portal."""

    reason = "StopDistributionInPartnerCenter"

    def __init__(self, offer: str) -> None:
        super().__init__(
            f"{offer}: offerctl cannot withdraw a Dynamics 365 offer: Partner Center's ingestion "
            "API documents no stop-distribution flow for this offer type. Use Stop distribution "
            "on the offer's overview page in Partner Center (customers who have the app keep "
            "it); status keeps this condition while target is withdrawn",
            transient=False,
        )


class Drift(MarketplaceError):
    """The draft was changed outside offerctl since the last submitted generation."""

    reason = "Drift"
    condition = ConditionType.DRIFT

    def __init__(self, message: str, fields: tuple[str, ...]) -> None:
        super().__init__(message, transient=False)
        self.fields = fields


@dataclass(frozen=True, slots=True)
class RemoteOffer:
    """An offer as Partner Center holds it: documents by module and listings with media."""

    offer: str
    product: str
    product_doc: dict[str, Any]
    setup: dict[str, Any]
    documents: dict[str, dict[str, Any]]  # Property, Availability, Package, Listing.<lang>
    listings: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]
    leads: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class _Raw:
    """The last v1 reads of a submission, and which reads a transition still owes.

    A poll makes exactly one call: the read the last answers call for. A
    transition that needs several reads to be told whole (the submission's
    state after the steps moved, the steps after the state moved, the
    certification reports, the validation items) gets them on the following
    polls, one each, while the last whole observation is told again.
    """

    item: dict[str, Any]
    workflows: list[dict[str, Any]]
    findings: tuple[Any, ...]
    findings_at: str  # "", "certified" or "failed": the moment the findings are whole for
    parts: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)  # "moment:part"
    item_behind: bool = False  # the steps moved so the state may have: read the submission
    steps_behind: bool = False  # the state moved since the steps were read: read them

    def owed(self) -> list[str]:
        """The reads this transition still needs, in the order they are made."""
        owed = []
        if self.item_behind:
            owed.append("submission")
        if self.steps_behind:
            owed.append("workflowdetails")
        moment = _moment(self.item, self.workflows)
        if moment and self.findings_at != moment:
            parts = ("validations", "reports") if moment == "failed" else ("reports",)
            owed += [p for p in parts if f"{moment}:{p}" not in self.parts]
        return owed

    def complete(self) -> _Raw:
        """Findings made whole from the parts read for the current moment, if all are in."""
        moment = _moment(self.item, self.workflows)
        if not moment or self.findings_at == moment or self.owed():
            return self
        validations = self.parts.get(f"{moment}:validations", []) if moment == "failed" else []
        findings = mapping.findings_of(validations, self.parts.get(f"{moment}:reports", []))
        return replace(self, findings=findings, findings_at=moment)


@dataclass(slots=True)
class _Seen:
    submission: Submission
    read_at: float  # monotonic


class PartnerCenterMarketplace:
    """A Marketplace backed by Partner Center (or its emulator) over HTTP."""

    def __init__(
        self,
        api: V1Api,
        *,
        state: ClientState,
        env: Mapping[str, str],
        package_store: BlobPackageStore | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        drift_interval: float = DEFAULT_DRIFT_INTERVAL,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.state = state
        self._env = env
        self._store = package_store
        self.poll_interval = poll_interval
        self.drift_interval = drift_interval
        self._clock = clock or (lambda: datetime.now(UTC))
        self._monotonic = monotonic
        self._sleep = sleep
        self._seen: dict[str, _Seen] = {}
        self._products: dict[str, str] = state.products()  # offer → product id
        self._pending_baselines: dict[str, Any] = {}  # written once the submission exists
        self._raw: dict[str, _Raw] = {}
        self._looked: set[str] = set()  # offers whose submissions were listed for adoption

    def close(self) -> None:
        """Close the HTTP connections (the daemon keeps one client for its lifetime)."""
        self.api.http.close()

    # --- the Marketplace protocol ---------------------------------------------------------

    def submit(
        self, offer: str, generation: str, target: Target, payload: OfferPayload, key: str
    ) -> Submission:
        known = self.state.attempt(key)
        if known is not None and known.submission:
            return self.get(_full_id(known.product, known.submission))
        product = self._product(offer, payload.spec)
        items = self.api.submissions(product)
        adopted = self._adopt_listed(offer, product, items, key)
        if adopted is None:
            adopted = self._in_progress(offer, product, key, items)
        if adopted is not None:
            return adopted
        try:
            resources = self._sync_draft(offer, generation, product, payload)
        except mapping.MappingError as exc:
            raise MarketplaceError(f"{offer}: {exc}", transient=False) from None
        attempt = Attempt(key=key, offer=offer, generation=generation, target=str(target),
                          product=product, resources=resources,
                          created_at=self._clock().isoformat())  # fmt: skip
        self.state.record(attempt)  # before the call: a crash after it is recognisable
        try:
            answer = self.api.create_submission(product, mapping.submission_request(resources, key))
        except MarketplaceError as exc:
            if not exc.transient:
                raise
            # The answer was lost; the submission may exist. Look it up before anything else.
            found = self.find(key)
            if found is None:
                raise
            return found
        failpoint(AFTER_POST)
        attempt.submission = str(answer["id"])
        self.state.record(attempt)
        self.state.set_baselines(product, {**self._pending_baselines, DRIFT_MARK: None,
                                           DRIFT_FOUND: None,
                                           DRIFT_CHECKED: self._clock().isoformat()})  # fmt: skip
        self._pending_baselines = {}
        return self._observe(attempt, answer, force=True)

    def find(self, key: str) -> Submission | None:
        attempt = self.state.attempt(key)
        if attempt is None:
            return self._adopt(key)  # another shard's (or a lost clone's) submission?
        if attempt.submission:
            return self.get(_full_id(attempt.product, attempt.submission))
        # Recorded before a POST whose answer was lost: look for it in Partner Center.
        for item in self.api.submissions(attempt.product):
            if _key_of(item) == key or (
                str(item.get("state")) == "InProgress" and _resources_of(item) == attempt.resources
            ):
                attempt.submission = str(item.get("id", ""))
                self.state.record(attempt)
                return self._observe(attempt, item, force=True)
        return None

    def get(self, submission_id: str) -> Submission:
        product, sid = _split_id(submission_id)
        seen = self._seen.get(submission_id)
        if seen is not None and (
            seen.submission.result is not SubmissionResult.PENDING
            or self._monotonic() - seen.read_at < self.poll_interval
        ):
            return seen.submission
        attempt = self.state.by_submission(product, sid)
        if attempt is not None and attempt.final:
            settled = wire.submission_from_json(attempt.final)
            self._seen[submission_id] = _Seen(settled, self._monotonic())
            return settled
        if attempt is None:
            attempt = self._foreign(product, sid)
        if attempt.target == "cancelled":
            return self._cancelled(attempt)
        return self._poll(attempt, product, sid)

    def go_live(self, submission_id: str) -> Submission:
        product, sid = _split_id(submission_id)
        attempt = self.state.by_submission(product, sid)
        if attempt is None:
            raise InvalidState(f"submission {submission_id} was not made by offerctl; "
                               "Go Live for it belongs in Partner Center")  # fmt: skip
        current = self.api.submission(product, sid)
        substate = (str(current.get("state")), str(current.get("substate")))
        if attempt.promoted and substate[1] in ("Publishing", "Published", "InStore"):
            return self._observe(attempt, current, force=True)  # promoted once already
        if substate != ("Published", "ReadyToPublish"):
            raise InvalidState(
                f"submission {submission_id} is {substate[0]}/{substate[1]}; Go Live needs "
                "Published/ReadyToPublish"
            )
        attempt.promoted = True
        self.state.record(attempt)
        try:
            self.api.promote(product, sid)
        except (InvalidState, MarketplaceError) as exc:
            # The answer may have been lost after the promote happened: read before deciding.
            after = self.api.submission(product, sid)
            if str(after.get("substate")) == "ReadyToPublish":
                raise exc from None
            current = after
        else:
            current = self.api.submission(product, sid)
        return self._observe(attempt, current, force=True)

    def cancel(self, submission_id: str) -> Submission:
        product, sid = _split_id(submission_id)
        attempt = self.state.by_submission(product, sid)
        if attempt is None:
            raise InvalidState(f"submission {submission_id} was not made by offerctl; "
                               "it is never cancelled")  # fmt: skip
        if attempt.promoted:
            raise InvalidState(f"submission {submission_id} is past sign-off; it cannot be "
                               "cancelled")  # fmt: skip
        current = self.api.submission(product, sid)
        if (str(current.get("state")), str(current.get("substate"))) == (
            "Published",
            "ReadyToPublish",
        ):
            # A preview awaiting Go Live cannot be deleted; it is superseded by the next
            # submission and offerctl never promotes it.
            attempt.target = "cancelled"
            self.state.record(attempt)
            return self._cancelled(attempt)
        if str(current.get("state")) != "InProgress":
            raise InvalidState(f"submission {submission_id} is {current.get('state')}/"
                               f"{current.get('substate')}; only one in progress can be "
                               "cancelled")  # fmt: skip
        self.api.cancel(product, sid)
        attempt.target = "cancelled"
        self.state.record(attempt)
        return self._cancelled(attempt)

    def withdraw(self, offer: str) -> OfferListing:
        """Refused, plainly: the documented v1 API has no stop-distribution flow for this type.

        The v1 swagger lists `StopSelling` among an availability's market states,
        but no Microsoft document or client shows that writing it (and publishing)
        withdraws a Dynamics 365 app; Stop distribution is documented only as a
        portal action (shared/partnercenter/README.md §1.7, §3.3). Status gets a
        MarketplaceError condition with reason `StopDistributionInPartnerCenter`.
        """
        raise StopDistributionInPortal(offer)

    def listing(self, offer: str) -> OfferListing:
        """What this client saw go live, and any drift of the draft; usually no call.

        Settled offers cost nothing per pass, except one drift check (a few
        reads of the draft) per `drift_interval` for an offer at rest (see
        `_drift_check`).
        """
        live = ""
        for seen in self._seen.values():
            s = seen.submission
            if s.offer == offer and s.result is SubmissionResult.SUCCEEDED:
                live = s.generation
        return OfferListing(offer, live_generation=live, drift=self._drift_check(offer))

    # --- drift of a resting offer's draft ---------------------------------------------------

    def _drift_check(self, offer: str) -> str:
        """A Drift message when the draft differs from the last generation offerctl submitted.

        The draft is read (8 calls) at most once per `drift_interval` per offer,
        and only while no submission of the offer is being polled (in-flight
        polls keep to one call); what a check found is remembered in the
        client's record and told on every pass until a later check or a new
        submission clears it. The interval starts at each submission, which
        writes the draft and so compares it.
        """
        product = self._products.get(offer)
        if not product:
            return ""
        baseline = self.state.baseline(product)
        if not any(isinstance(baseline.get(m), Mapping) for m in ("Property", "Availability")):
            return ""  # offerctl has submitted nothing for this offer: no baseline to differ from
        now = self._clock()
        checked = _parse_time(str(baseline.get(DRIFT_CHECKED) or ""))
        if checked is None:  # a record from before drift checks: start the interval now
            self.state.set_baseline(product, DRIFT_CHECKED, now.isoformat())
        elif (now - checked).total_seconds() >= self.drift_interval and not self._polled(offer):
            fields = self._draft_drift(product, baseline)
            generation = self._last_generation(offer)
            found = {"generation": generation, "fields": fields} if fields else None
            entries: dict[str, Any] = {DRIFT_CHECKED: now.isoformat(), DRIFT_FOUND: found}
            if fields:
                entries[DRIFT_MARK] = generation  # a new generation overwrites; this one does not
            self.state.set_baselines(product, entries)
            baseline = {**baseline, **entries}
        found = baseline.get(DRIFT_FOUND)
        if not isinstance(found, Mapping) or not found.get("fields"):
            return ""
        names = ", ".join(str(f) for f in found["fields"])
        return (f"{offer}: the Partner Center draft was changed outside offerctl since "
                f"generation {found.get('generation') or '?'}, the last it submitted ({names}); "
                "offerctl does not overwrite it. Bring the change into offer.yaml (offerctl "
                "import / offerctl diff) or commit a new generation to overwrite it")  # fmt: skip

    def _polled(self, offer: str) -> bool:
        """Whether a submission of `offer` is in flight (read every poll, one call each)."""
        return any(seen.submission.offer == offer
                   and seen.submission.result is SubmissionResult.PENDING
                   and not seen.submission.preview_url for seen in self._seen.values())  # fmt: skip

    def _last_generation(self, offer: str) -> str:
        attempts = [a for a in self.state.ours(self._products.get(offer, "")) if a.submission]
        return max(attempts, key=lambda a: a.created_at).generation if attempts else ""

    def _draft_drift(self, product: str, baseline: Mapping[str, Any]) -> list[str]:
        """The managed fields whose draft values differ from what offerctl last submitted."""
        fields: list[str] = []
        instances = {m: self.api.branch_instance(product, m) for m in mapping.MODULES}
        for module in ("Property", "Availability", "Package"):
            before = baseline.get(module)
            if isinstance(before, Mapping):
                current = self._single(product, module, instances[module])
                fields += [f"{module}.{n}" for n in mapping.managed_differences(before, current)]
        listings = {
            str(item.get("languageCode", "")).lower(): item
            for item in self.api.by_instance(product, "listings", instances["Listing"])
        }
        for module, before in sorted(baseline.items()):
            if not module.startswith("Listing.") or not isinstance(before, Mapping):
                continue
            listing = listings.get(module.removeprefix("Listing."))
            if listing is None:
                fields.append(module)
            else:
                fields += [f"{module}.{n}" for n in mapping.managed_differences(before, listing)]
        return fields

    # --- reading an offer back (diff, import) -----------------------------------------------

    def remote_offer(self, offer: str, view: str = "draft") -> RemoteOffer | None:
        """The offer's documents in Partner Center: its draft, or what its preview/live shows.

        None when Partner Center has no such offer, or no preview/live of it yet.
        """
        found = self.api.find_product(offer)
        if found is None:
            return None
        product = str(found["id"])
        instances: dict[str, str] | None
        if view == "draft":
            instances = {m: self.api.branch_instance(product, m) for m in mapping.MODULES}
        else:
            instances = self._published_instances(product, view)
        if instances is None:
            return None
        docs: dict[str, dict[str, Any]] = {}
        for module in ("Property", "Availability", "Package"):
            docs[module] = self._single(product, module, instances[module])
        listings: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        for item in self.api.by_instance(product, "listings", instances["Listing"]):
            lang = str(item.get("languageCode", "")).lower()
            docs[f"Listing.{lang}"] = item
            base = f"/products/{product}/listings/{item.get('id', '')}"
            media = [*self.api.items(f"{base}/images?$expand=FileSasUri"),
                     *self.api.items(f"{base}/videos?$expand=FileSasUri")]  # fmt: skip
            listings[lang] = (item, media)
        try:
            setup = self.api.call("GET", f"/products/{product}/setup")
        except NotFound:
            setup = {}
        try:
            leads = self.api.call("GET", f"/products/{product}/leadconfiguration")
        except NotFound:
            leads = None
        return RemoteOffer(offer, product, found, setup if isinstance(setup, dict) else {},
                           docs, listings, leads if isinstance(leads, dict) else None)  # fmt: skip

    def _published_instances(self, product: str, view: str) -> dict[str, str] | None:
        wanted = ("InStore",) if view == "live" else ("ReadyToPublish", "Publishing", "Published",
                                                       "InStore")  # fmt: skip
        chosen: dict[str, Any] | None = None
        for item in self.api.submissions(product):
            if str(item.get("substate")) in wanted and (
                chosen is None
                or int(item.get("releaseNumber") or 0) >= int(chosen.get("releaseNumber") or 0)
            ):
                chosen = item
        if chosen is None:
            return None
        resources = _resources_of(chosen)
        if not all(m in resources for m in mapping.MODULES):
            return None
        return resources

    def download(self, url: str) -> bytes:
        """The bytes behind a SAS URL (media, package), without sending our token."""
        try:
            response = self.api.http.fetch(url)
        except HttpError as exc:
            raise MarketplaceError(f"download failed: HTTP {exc.status or 'error'}",
                                   transient=exc.transient) from None  # fmt: skip
        return response

    # --- products and drafts ----------------------------------------------------------------

    def _product(self, offer: str, spec: Mapping[str, Any]) -> str:
        cached = self._products.get(offer)
        if cached:
            return cached
        found = self.api.find_product(offer)
        if found is None:
            found = self.api.create_product(mapping.product_document(offer, spec))
            self.api.setup(str(found["id"]), mapping.setup_document(spec))
        product = str(found["id"])
        self._products[offer] = product
        return product

    def _foreign(self, product: str, sid: str) -> Attempt:
        """An attempt-like record for a submission offerctl did not make (or forgot)."""
        offer = ""
        for ext in self.api.product(product).get("externalIDs") or []:
            if isinstance(ext, Mapping) and ext.get("type") == mapping.OFFER_ID_TYPE:
                offer = str(ext.get("value", ""))
        return Attempt(key="", offer=offer, generation="", target=str(Target.PREVIEW),
                       product=product, submission=sid)  # fmt: skip

    def _adopt(self, key: str) -> Submission | None:
        """The submission made under `key` without this client's record of it (adopt.py).

        Only for an offer this checkout never submitted (a shard that took it
        over, a new machine), once per process: the product is found by its
        AzureOfferId and its submissions listed; every one carrying an offerctl
        key of this offer is recorded as ours. An offer with attempts of its own
        costs nothing here: its record is where it starts, and `submit` adopts
        whatever another shard made since (it lists the submissions anyway).
        Keys of another shape (not `OFFER@GENERATION`) are never looked up.
        """
        offer = adopt.offer_of_key(key)
        if not offer or offer in self._looked:
            return None
        product = self._products.get(offer)
        if product and any(a.offer == offer and a.submission for a in self.state.ours(product)):
            return None
        if not product:
            found = self.api.find_product(offer)
            if found is None:
                self._looked.add(offer)  # no product: nothing was ever submitted
                return None
            product = str(found["id"])
            self._products[offer] = product
        return self._adopt_listed(offer, product, self.api.submissions(product), key)

    def _adopt_listed(self, offer: str, product: str, items: list[dict[str, Any]],
                      key: str) -> Submission | None:  # fmt: skip
        """Record `items` carrying this offer's offerctl keys as ours; the one for `key`."""
        self._looked.add(offer)
        known = [a.key for a in self.state.ours(product) if a.submission]
        wanted: Submission | None = None
        for attempt in adopt.adoptable(offer, product, items, known):
            log.info("offer %s: adopting submission %s (key %s) from Partner Center",
                     offer, attempt.submission, attempt.key)  # fmt: skip
            self.state.record(attempt)
            if attempt.key == key:
                item = next(i for i in items if str(i.get("id")) == attempt.submission)
                wanted = self._observe(attempt, item, force=True)
        return wanted

    def _in_progress(self, offer: str, product: str, key: str,
                     items: list[dict[str, Any]]) -> Submission | None:  # fmt: skip
        """Adopt our own in-progress submission for `key`; refuse to race anyone else's."""
        for item in items:
            if str(item.get("state")) != "InProgress" or str(item.get("substate")) in (
                "Failed",
                "FailedInCertification",
            ):
                continue
            sid = str(item.get("id", ""))
            mine = self.state.by_submission(product, sid)
            item_key = _key_of(item)
            if mine is None and item_key:
                mine = self.state.attempt(item_key)
            if mine is None:
                attempt = self.state.attempt(key)
                if attempt is not None and _resources_of(item) == attempt.resources:
                    mine = attempt
            if mine is not None and mine.key == key:
                mine.submission = sid
                self.state.record(mine)
                return self._observe(mine, item, force=True)
            if mine is not None:
                raise MarketplaceError(
                    f"{offer}: offerctl's submission {sid} of an older generation is still in "
                    "progress; waiting for it to be cancelled or to finish",
                    transient=True,
                )
            raise PortalSubmission(
                f"{offer}: submission {sid} was started in Partner Center, not by offerctl, and "
                "is in progress; offerctl never cancels it and waits until it finishes"
            )
        return None

    def _sync_draft(self, offer: str, generation: str, product: str,
                    payload: OfferPayload) -> dict[str, str]:  # fmt: skip
        """PUT what differs from the manifest into each draft module; their instance ids."""
        spec = payload.spec
        baseline = self.state.baseline(product)
        self._pending_baselines = {}
        drifted: list[str] = []
        instances: dict[str, str] = {}
        for module in mapping.MODULES:
            instances[module] = self.api.branch_instance(product, module)
        # Property, Availability, Package: one document each.
        singles = {
            "Property": mapping.property_document(spec),
            "Availability": mapping.availability_document(spec, stop_selling=False),
        }
        for module, desired in singles.items():
            drifted += self._put_single(product, module, instances[module], desired,
                                        baseline=baseline, generation=generation)  # fmt: skip
        current_pkg = self._single(product, "Package", instances["Package"])
        package_uri = self._package_uri(spec, payload.files, current_pkg)
        drifted += self._put_single(product, "Package", instances["Package"],
                                    mapping.package_document(spec, package_uri),
                                    baseline=baseline, generation=generation,
                                    current=current_pkg)  # fmt: skip
        drifted += self._sync_listings(product, instances["Listing"], payload, baseline,
                                       generation)  # fmt: skip
        if drifted:
            self.state.set_baseline(product, DRIFT_MARK, generation)
            raise Drift(
                f"{offer}: the Partner Center draft was changed outside offerctl since the last "
                f"submitted generation ({', '.join(drifted)}); offerctl does not overwrite it. "
                "Bring the change into offer.yaml (offerctl import / offerctl diff) or commit a "
                "new generation to overwrite it",
                tuple(drifted),
            )
        self._sync_leads(product, spec)
        resources = dict(instances)
        resources[RESELLER_MODULE] = f"{product}-ResellerInstance"
        return resources

    def _single(self, product: str, module: str, instance: str) -> dict[str, Any]:
        expand = "MarketStates" if module == "Availability" else ""
        found = self.api.by_instance(product, COLLECTIONS[module], instance, expand)
        if not found:
            raise MarketplaceError(f"product {product}: draft {module} {instance} not found",
                                   transient=False)  # fmt: skip
        return found[0]

    def _put_single(self, product: str, module: str, instance: str, desired: dict[str, Any],
                    *, baseline: Mapping[str, Any], generation: str,
                    current: dict[str, Any] | None = None) -> list[str]:  # fmt: skip
        """PUT `desired` unless the draft already has it; the drifted field names otherwise."""
        if current is None:
            current = self._single(product, module, instance)
        drift = self._drift(module, desired, current, baseline, generation)
        if drift:
            return drift
        self._pending_baselines[module] = desired
        if not mapping.managed_differences(desired, current):
            return []
        expand = "MarketStates" if module == "Availability" else ""
        try:
            self.api.put(product, PUT_COLLECTIONS[module], {**current, **desired}, expand)
        except StaleEtag:
            fresh = self._single(product, module, instance)
            fields = self._drift(module, desired, fresh, baseline, "") or [
                f"{module}.{name}" for name in mapping.managed_differences(desired, fresh)
            ]
            return fields or [module]
        return []

    def _drift(self, module: str, desired: Mapping[str, Any], current: Mapping[str, Any],
               baseline: Mapping[str, Any], generation: str) -> list[str]:  # fmt: skip
        """Fields the draft has that offerctl neither wrote last time nor wants now."""
        before = baseline.get(module)
        if not isinstance(before, Mapping):
            return []  # nothing submitted yet: the draft is whatever the portal made
        if generation and baseline.get(DRIFT_MARK) not in (None, generation):
            return []  # drift was reported for an older generation: a new commit overrides it
        changed = set(mapping.managed_differences(before, current))
        unwanted = set(mapping.managed_differences(desired, current))
        return [f"{module}.{name}" for name in sorted(changed & unwanted)]

    def _package_uri(self, spec: Mapping[str, Any], files: Mapping[str, bytes],
                     current: Mapping[str, Any]) -> str:  # fmt: skip
        tech = spec.get("technicalConfiguration")
        tech = tech if isinstance(tech, Mapping) else {}
        given = given_location(tech, self._env)
        if given is not None:
            return given
        path = str(tech.get("packageFile", ""))
        content = files.get(path)
        if content is None:
            raise PackageError(f"technicalConfiguration.packageFile {path!r} is not in the offer")
        if self._store is None:
            raise PackageError(
                "the offer gives only packageFile: set OFFERCTL_PACKAGE_STORAGE (and "
                "AZURE_STORAGE_CONNECTION_STRING or an Azure identity) so offerctl can upload it, "
                "or give technicalConfiguration.packageLocationUrl"
            )
        existing = str(current.get("packageLocationUri", "") or "")
        name = mapping_blob_name(content)
        if (
            existing
            and name in existing.split("?", maxsplit=1)[0]
            and not needs_renewal(existing, self._clock())
        ):
            return existing  # same content, SAS still good for RENEW_DAYS: keep it
        return self._store.location(content)

    def _sync_listings(self, product: str, instance: str, payload: OfferPayload,
                       baseline: Mapping[str, Any], generation: str) -> list[str]:  # fmt: skip
        spec = payload.spec
        wanted = spec.get("listings")
        wanted = wanted if isinstance(wanted, Mapping) else {}
        current = {str(item.get("languageCode", "")).lower(): item
                   for item in self.api.by_instance(product, "listings", instance)}  # fmt: skip
        drifted: list[str] = []
        for language, listing in wanted.items():
            lang = str(language).lower()
            desired = mapping.listing_document(lang, listing, spec)
            module = f"Listing.{lang}"
            have = current.get(lang)
            if have is None:
                have = self.api.create_listing(product, instance, desired)
                self._pending_baselines[module] = desired
            else:
                drift = self._drift(module, desired, have, baseline, generation)
                if drift:
                    drifted += drift
                    continue
                self._pending_baselines[module] = desired
                if mapping.managed_differences(desired, have):
                    try:
                        have = self.api.put(product, "listings", {**have, **desired})
                    except StaleEtag:
                        drifted.append(module)
                        continue
            self._sync_media(product, str(have.get("id", "")),
                             mapping.media_of(listing, payload.files), payload.files)  # fmt: skip
        for lang, item in current.items():
            if lang not in {str(k).lower() for k in wanted}:
                self.api.delete(f"/products/{product}/listings/{item.get('id', '')}")
        return drifted

    def _sync_media(self, product: str, listing_id: str, media: tuple[mapping.Media, ...],
                    files: Mapping[str, bytes]) -> None:  # fmt: skip
        """Upload media whose content (and so name) changed; delete what the manifest dropped."""
        base = f"/products/{product}/listings/{listing_id}"
        for collection in ("images", "videos"):
            wanted = [m for m in media if m.collection == collection]
            present = list(self.api.items(f"{base}/{collection}"))
            keep: set[str] = set()
            for item in wanted:
                match = next((p for p in present if _same_media(item, p)
                              and str(p.get("id")) not in keep), None)  # fmt: skip
                if match is not None:
                    keep.add(str(match.get("id")))
                    continue
                keep.add(self._upload(f"{base}/{collection}", item, files[item.path]))
            for old in present:
                if str(old.get("id")) not in keep:
                    self.api.delete(f"{base}/{collection}/{old.get('id')}")

    def _upload(self, path: str, media: mapping.Media, content: bytes) -> str:
        """POST PendingUpload → PUT bytes to fileSasUri → PUT Uploaded → wait for Processed."""
        created = self.api.call("POST", path, body=media.document(), retry=False)
        if not isinstance(created, dict) or not created.get("id"):
            raise MarketplaceError(f"POST {path}: the answer has no id", transient=False)
        holder = created.get("thumbnail") if media.collection == "videos" else created
        sas = str(holder.get("fileSasUri") or "") if isinstance(holder, Mapping) else ""
        sas = sas or str(created.get("fileSasUri") or "")
        if not sas.startswith(("https://", "http://")):
            raise MarketplaceError(f"POST {path}: no fileSasUri to upload to", transient=False)
        try:
            self.api.http.send("PUT", sas, content=content, auth=False,
                               headers={"x-ms-blob-type": "BlockBlob",
                                        "Content-Type": "application/octet-stream"})  # fmt: skip
        except HttpError as exc:
            raise MarketplaceError(f"upload of {media.file_name}: HTTP {exc.status or 'error'}",
                                   transient=exc.transient) from None  # fmt: skip
        item_path = f"{path}/{created['id']}"
        uploaded = dict(created)
        if media.collection == "videos" and isinstance(uploaded.get("thumbnail"), Mapping):
            uploaded["thumbnail"] = {**uploaded["thumbnail"], "state": "Uploaded"}
        uploaded["state"] = "Uploaded"
        self.api.call("PUT", item_path, body=uploaded, etag=str(created.get("@odata.etag", "")))
        for _ in range(MEDIA_PROCESS_POLLS):
            item = self.api.call("GET", item_path)
            state = _media_state(item, media.collection)
            if state == "Processed":
                break
            if state == "ProcessFailed":
                raise MarketplaceError(f"Partner Center could not process {media.file_name}",
                                       transient=False)  # fmt: skip
            self._sleep(min(self.poll_interval, 2.0))
        return str(created["id"])

    def _sync_leads(self, product: str, spec: Mapping[str, Any]) -> None:
        desired = mapping.lead_document(spec, lambda name: secret_from_env(name, self._env))
        if desired is None:
            return
        try:
            current = self.api.call("GET", f"/products/{product}/leadconfiguration")
        except NotFound:
            current = None  # none configured yet
        public = {k: v for k, v in desired.items() if k not in mapping.LEAD_SECRETS}
        has_secret = len(public) != len(desired)
        if (isinstance(current, Mapping) and not has_secret
                and not mapping.managed_differences(public, current)):  # fmt: skip
            return
        self.api.call("POST", f"/products/{product}/leadconfiguration", body=desired)

    # --- observation ----------------------------------------------------------------------

    def _poll(self, attempt: Attempt, product: str, sid: str) -> Submission:
        """One read of an in-flight submission: exactly one call.

        The first read in this process learns everything (`_observe`). After
        that each poll makes the one read the last answers call for (`_Raw.owed`),
        else the phase's cheap read: the workflow details while the steps run
        (InProgress/Submitted), the submission itself after that. While a
        transition still owes reads, the last whole observation is told again,
        so nothing half-read reaches status and the offer stays in flight until
        the transition is whole (a poll or two later).
        """
        full = _full_id(product, sid)
        raw, seen = self._raw.get(full), self._seen.get(full)
        if raw is None or seen is None:
            return self._observe(attempt, self.api.submission(product, sid))
        owed = raw.owed()
        if owed:
            read = owed[0]
        else:
            read = "workflowdetails" if _phase(raw.item) == _RUNNING else "submission"
        if read == "submission":
            item = self.api.submission(product, sid)
            # Steps read one poll ago (they are why the state is read) are as fresh as
            # they get; after a steady read of the state, a moved state owes the steps.
            moved = _phase(item) != _phase(raw.item) and not raw.item_behind
            raw = replace(raw, item=dict(item), item_behind=False,
                          steps_behind=raw.steps_behind or moved)  # fmt: skip
        elif read == "workflowdetails":
            workflows = self.api.submission_part(product, sid, "workflowdetails")
            raw = replace(
                raw,
                workflows=workflows,
                steps_behind=False,
                item_behind=raw.item_behind or _state_may_move(raw.item, workflows),
            )
        else:  # validations or reports of the current moment
            moment = _moment(raw.item, raw.workflows)
            got = self.api.submission_part(product, sid, read)
            raw = replace(raw, parts={**raw.parts, f"{moment}:{read}": got})
        raw = raw.complete()
        self._raw[full] = raw
        if raw.owed():
            self._seen[full] = _Seen(seen.submission, self._monotonic())
            return seen.submission
        return self._report(attempt, raw)

    def _observe(self, attempt: Attempt, item: Mapping[str, Any], *, force: bool = True,
                 workflows: list[dict[str, Any]] | None = None) -> Submission:  # fmt: skip
        """A whole read (submit, adoption, go-live, first read): every part it needs, now."""
        product, sid = attempt.product, str(item.get("id", attempt.submission))
        full = _full_id(product, sid)
        if workflows is None:
            workflows = self.api.submission_part(product, sid, "workflowdetails")
        before = self._raw.get(full)
        raw = _Raw(dict(item), workflows, before.findings if before else (),
                   before.findings_at if before else "")  # fmt: skip
        moment = _moment(raw.item, raw.workflows)
        if moment and raw.findings_at != moment:
            # Validation items only on failure (a passed validation has none to tell); the
            # certification reports once certification finished, even before sign-off.
            parts = ("validations", "reports") if moment == "failed" else ("reports",)
            raw = replace(raw, parts={f"{moment}:{p}": self.api.submission_part(product, sid, p)
                                      for p in parts}).complete()  # fmt: skip
        self._raw[full] = raw
        return self._report(attempt, raw)

    def _report(self, attempt: Attempt, raw: _Raw) -> Submission:
        """The Submission offerctl sees: stages from the workflow details, findings when whole."""
        product, sid = attempt.product, str(raw.item.get("id", attempt.submission))
        progress = mapping.progress_of(raw.item, raw.workflows)
        submission = Submission(
            id=_full_id(product, sid),
            offer=attempt.offer,
            generation=attempt.generation,
            idempotency_key=attempt.key,
            target=_target(attempt.target),
            created_at=_parse_time(attempt.created_at) or self._clock(),
            result=progress.result,
            stages=progress.stages,
            feedback=raw.findings,
            preview_url=_preview_url(attempt.offer) if progress.awaiting_promote else "",
        )
        self._seen[submission.id] = _Seen(submission, self._monotonic())
        self._settle(attempt, submission)
        return submission

    def _cancelled(self, attempt: Attempt) -> Submission:
        seen = self._seen.get(_full_id(attempt.product, attempt.submission))
        stages = tuple(
            replace(p, state=StageState.SKIPPED) if p.state in (StageState.PENDING,
                                                                StageState.RUNNING) else p
            for p in (seen.submission.stages if seen else
                      tuple(StageProgress(s, StageState.PENDING) for s in Stage))
        )  # fmt: skip
        submission = Submission(
            id=_full_id(attempt.product, attempt.submission), offer=attempt.offer,
            generation=attempt.generation, idempotency_key=attempt.key,
            target=Target.PREVIEW, created_at=_parse_time(attempt.created_at) or self._clock(),
            result=SubmissionResult.CANCELLED, stages=stages,
        )  # fmt: skip
        self._seen[submission.id] = _Seen(submission, self._monotonic())
        self._settle(attempt, submission)
        return submission

    def _settle(self, attempt: Attempt, submission: Submission) -> None:
        """Remember a settled outcome of our own submission, so it is never read again."""
        if attempt.key and submission.result is not SubmissionResult.PENDING and not attempt.final:
            attempt.final = wire.submission_to_json(submission)
            self.state.record(attempt)


def mapping_blob_name(content: bytes) -> str:
    import hashlib  # noqa: PLC0415 - local: only the package name needs it

    return hashlib.sha256(content).hexdigest() + ".zip"


_RUNNING = ("InProgress", "Submitted")  # the steps run: the workflow details tell progress


def _phase(item: Mapping[str, Any]) -> tuple[str, str]:
    return str(item.get("state", "")), str(item.get("substate", ""))


def _state_may_move(item: Mapping[str, Any], workflows: list[dict[str, Any]]) -> bool:
    """Whether steps read while the submission runs say its state may have moved on.

    Sign-off awaited, or no step running any more (between steps, or all
    done): read the submission. A failed step tells the outcome by itself.
    """
    if _phase(item) != _RUNNING:
        return False
    steps = _steps(workflows)
    states = {str(step.get("state", "")) for step in steps}
    if states - {"InProgress", "NotStarted", "Success"}:
        return False
    signoff = any(str(step.get("name", "")).strip().lower() == "publisher signoff"
                  and step.get("state") == "InProgress" for step in steps)  # fmt: skip
    return signoff or "InProgress" not in states


def _moment(item: Mapping[str, Any], workflows: list[dict[str, Any]]) -> str:
    """When findings are due: "failed", "certified" (certification finished) or ""."""
    progress = mapping.progress_of(item, workflows)
    if progress.result is SubmissionResult.FAILED:
        return "failed"
    return "certified" if _certified(workflows, ready=progress.awaiting_promote) else ""


def _certified(workflows: list[dict[str, Any]], *, ready: bool) -> bool:
    """Whether certification finished: its step says so, or (no such step) sign-off awaits."""
    steps = [step for step in _steps(workflows)
             if str(step.get("name", "")).strip().lower() == "certification"]  # fmt: skip
    if not steps:
        return ready
    return any(str(step.get("state", "")) in ("Success", "Failed") for step in steps)


def _steps(workflows: list[dict[str, Any]]) -> list[Mapping[str, Any]]:
    return [step for w in workflows for step in (w.get("workflowSteps") or [])
            if isinstance(step, Mapping)]  # fmt: skip


def _full_id(product: str, submission: str) -> str:
    return f"{product}/{submission}"


def _split_id(submission_id: str) -> tuple[str, str]:
    product, sep, sid = submission_id.rpartition("/")
    if not sep or not product or not sid:
        raise NotFound(f"{submission_id!r} is not a Partner Center submission id (PRODUCT/ID)")
    return product, sid


def _key_of(item: Mapping[str, Any]) -> str:
    for prop in item.get("extendedProperties") or []:
        if isinstance(prop, Mapping) and prop.get("type") == mapping.KEY_PROPERTY:
            return str(prop.get("value", ""))
    return ""


def _resources_of(item: Mapping[str, Any]) -> dict[str, str]:
    return {str(r.get("type")): str(r.get("value")) for r in item.get("resources") or []
            if isinstance(r, Mapping)}  # fmt: skip


def _same_media(media: mapping.Media, item: Mapping[str, Any]) -> bool:
    if str(item.get("fileName", "")) != media.file_name:
        return False
    if media.collection == "videos":
        return str(item.get("streamingUri", "")) == media.streaming_uri
    if str(item.get("type", "")) != media.type:
        return False
    if media.collection == "images" and int(item.get("order") or 0) != media.order:
        return False
    return str(item.get("description", "") or "") == media.description


def _media_state(item: Any, collection: str) -> str:
    if not isinstance(item, Mapping):
        return ""
    if collection == "videos" and isinstance(item.get("thumbnail"), Mapping):
        return str(item["thumbnail"].get("state", ""))
    return str(item.get("state", ""))


def _target(value: str) -> Target:
    try:
        return Target(value)
    except ValueError:
        return Target.PREVIEW


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _preview_url(offer: str) -> str:
    return f"https://appsource.microsoft.com/product/dynamics-365/{offer}?preview"
