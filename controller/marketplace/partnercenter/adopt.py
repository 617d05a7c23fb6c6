"""Adopting offerctl's own submissions from what Partner Center reports (no local record).

Each daemon shard has its own clone, so its own client record (`state.py`).
When `--shard K/N` changes N, an offer moves to a shard that never submitted
it: that shard has no attempt for the offer's idempotency key, although a
submission made under that key by the shard before it may be in flight, or
may already be awaiting sign-off or live. So the client looks in Partner
Center: `find` for an offer this checkout never submitted (once per offer and
process), and `submit` always, with the listing it makes before creating
anything. The product's submissions (`GET /products/{id}/submissions`) that
carry an offerctl idempotency key (the `offerctlIdempotencyKey` extended
property `mapping.submission_request` writes) of this offer are recorded as
this client's attempts. The submission is
then followed, promoted and settled as if this client had made it; it is never
made again. status.yaml plays no part: it is output, never authority.

Unconfirmed (shared/partnercenter/README.md §3.2-3.4, §8): the v1 swagger lists
`extendedProperties` on both `SubmissionCreationRequest` and `Submission`, but
no Microsoft document or client shows that Partner Center returns the
properties a request carried, on a GET of one submission or in the list.
Without them nothing is adopted: an in-progress submission is then treated as
one made elsewhere (`PortalSubmission`: waited for, never cancelled), so it is
still never raced; a finished one is not recognised and its generation would
be submitted again (the draft is unchanged, so Partner Center gets the same
content once more; nothing is lost, a review is repeated).

This module is pure: which listed submissions to adopt, and as what.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from controller.core.model import Target
from controller.repo.layout import OFFER_ID

from . import mapping
from .state import Attempt

KEY_SEPARATOR = "@"  # controller.marketplace.api.idempotency_key: OFFER@GENERATION[#N]
ATTEMPT_SEPARATOR = "#"  # controller.core.pipeline.attempt_key
PROMOTED = frozenset({"Publishing", "Published", "InStore"})  # substates after a Go Live


def offer_of_key(key: str) -> str:
    """The offer an offerctl idempotency key names; "" for a key of another shape."""
    offer, sep, rest = key.partition(KEY_SEPARATOR)
    if not sep or not rest or OFFER_ID.fullmatch(offer) is None:
        return ""
    return offer


def generation_of_key(key: str) -> str:
    _, _, rest = key.partition(KEY_SEPARATOR)
    return rest.split(ATTEMPT_SEPARATOR, 1)[0]


def key_of(item: Mapping[str, Any]) -> str:
    """The offerctl idempotency key a submission carries; "" when it carries none."""
    for prop in item.get("extendedProperties") or []:
        if isinstance(prop, Mapping) and prop.get("type") == mapping.KEY_PROPERTY:
            return str(prop.get("value", ""))
    return ""


def resources_of(item: Mapping[str, Any]) -> dict[str, str]:
    return {str(r.get("type")): str(r.get("value")) for r in item.get("resources") or []
            if isinstance(r, Mapping)}  # fmt: skip


def adoptable(
    offer: str, product: str, items: Iterable[Mapping[str, Any]], known: Iterable[str]
) -> list[Attempt]:
    """Attempts for `offer`'s submissions that carry an offerctl key this client lacks.

    `known` are the keys this client has an attempt for (with a submission id);
    those are left as they are. A submission of another offer's key (a product
    whose AzureOfferId changed hands) is never adopted. When two submissions
    carry one key (they should not), the later release is kept.
    """
    have = set(known)
    chosen: dict[str, Mapping[str, Any]] = {}
    for item in items:
        key = key_of(item)
        if not key or key in have or offer_of_key(key) != offer or not item.get("id"):
            continue
        before = chosen.get(key)
        if before is None or _release(item) >= _release(before):
            chosen[key] = item
    return [_attempt(offer, product, key, item) for key, item in sorted(chosen.items())]


def _attempt(offer: str, product: str, key: str, item: Mapping[str, Any]) -> Attempt:
    substate = str(item.get("substate", ""))
    promoted = str(item.get("state", "")) == "Published" and substate in PROMOTED
    return Attempt(
        key=key,
        offer=offer,
        generation=generation_of_key(key),
        # Partner Center knows no target (every submission is preview-scoped): a promoted
        # one was headed live; otherwise the reconciler's desired target decides.
        target=str(Target.LIVE if promoted else Target.PREVIEW),
        product=product,
        resources=resources_of(item),
        submission=str(item["id"]),
        created_at="",  # unknown: the first observation's clock stands in
        promoted=promoted,
    )


def _release(item: Mapping[str, Any]) -> int:
    try:
        return int(item.get("releaseNumber") or 0)
    except (TypeError, ValueError):
        return 0
