"""`offerctl suspend` changes one line; YAML aliases must not let that line change more.

An offer.yaml may anchor a mapping and alias it elsewhere. When `spec` is
such an alias, the line inserted into the anchored mapping lands in every
place that aliases it. The after-edit check compared the result with a deep
copy of the original with spec.suspend set, and a deep copy keeps the
aliasing, so the copy changed in all those places too and the check passed.
"""

from __future__ import annotations

import pytest

from controller.core.errors import UserError
from controller.files.suspendedit import set_suspend

ALIASED_SPEC = b"""\
apiVersion: offerctl/v1
kind: Offer
metadata:
  name: contoso-app
defaults: &shared
  target: live
spec: *shared
"""

ALIAS_ELSEWHERE = b"""\
apiVersion: offerctl/v1
kind: Offer
metadata:
  name: contoso-app
spec: &shared
  target: live
template: *shared
"""


@pytest.mark.parametrize("text", [ALIASED_SPEC, ALIAS_ELSEWHERE], ids=["spec-is-alias", "anchor"])
def test_suspend_refuses_an_edit_that_also_changes_an_aliased_mapping(text: bytes) -> None:
    with pytest.raises(UserError, match=r"changed more than spec\.suspend"):
        set_suspend(text, True, name="offers/contoso-app/offer.yaml")


def test_suspend_of_an_anchored_spec_used_nowhere_else_still_works() -> None:
    text = ALIAS_ELSEWHERE.replace(b"template: *shared\n", b"")
    edited = set_suspend(text, True, name="offers/contoso-app/offer.yaml")
    assert edited == text.replace(b"  target: live\n", b"  target: live\n  suspend: true\n")
