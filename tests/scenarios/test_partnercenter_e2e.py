"""`offerctl reconcile --marketplace partnercenter+http://…` end to end, over real HTTP.

The Partner Center emulator (`offerctl marketplace serve --api partnercenter`)
runs in a subprocess on a free loopback port; packages are uploaded to
Azurite (HTTPS, the session fixture) with a read-only, https-only SAS the
emulator downloads through, as Partner Center does. Each pass is a real
`python -m controller reconcile` subprocess on a real git repository.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml
from azurite_helpers import Azurite
from git_helpers import GitRepos, git
from pc_helpers import TOKEN, Emulator, client, emulator
from test_failpoints import POLICY, Setup

from controller import failpoint as fp
from controller.marketplace.partnercenter.client import AFTER_POST
from controller.marketplace.partnercenter.mapping import product_document

pytestmark = pytest.mark.slow(budget=90)

EXAMPLES = Path(__file__).resolve().parents[2] / "offers"
CONTOSO = "contoso-field-insights"  # target live
FABRIKAM = "fabrikam-case-triage"  # target preview
PASS_TIMEOUT = 120.0
MAX_PASSES = 10
LEADS_KEY = "fabrikam-leads-app-key-93b1"
SAS_SIGNATURE = re.compile(r"sig=[A-Za-z0-9%+/=]{8,}")


def offer_files(*offers: str) -> dict[str, bytes]:
    """The shipped examples, their package left for offerctl to upload (no packageLocationUrl)."""
    files: dict[str, bytes] = {"publishing.yaml": POLICY.encode()}
    for offer in offers:
        folder = EXAMPLES / offer
        for path in folder.rglob("*"):
            if path.is_file() and path.name not in ("status.yaml", "signoff.yaml"):
                data = path.read_bytes()
                if path.name == "offer.yaml":
                    data = b"".join(
                        line for line in data.splitlines(keepends=True)
                        if b"packageLocationUrl:" not in line and b"sasTokenSecretRef:" not in line
                    )  # fmt: skip
                files[f"offers/{offer}/{path.relative_to(folder).as_posix()}"] = data
    return files


class PcSetup(Setup):
    """The failpoint tests' repository layout, reconciled against the emulator."""

    emu: Emulator
    extra_env: Mapping[str, str]

    def reconcile(self, failpoint: str = "", *extra: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "controller", "reconcile", "--repo", str(self.controller),
                "--branch", "main", "--marketplace", f"partnercenter+{self.emu.url}",
                "--poll-interval", "0", *extra]  # fmt: skip
        env = {k: v for k, v in os.environ.items()
               if k not in (fp.ENV, "OFFERCTL_TIME_SCALE", "OFFERCTL_MARKETPLACE")}  # fmt: skip
        env.update(self.extra_env)
        env["OFFERCTL_PARTNERCENTER_TOKEN"] = TOKEN
        env["FABRIKAM_LEADS_APP_KEY"] = LEADS_KEY
        if failpoint:
            env[fp.ENV] = failpoint
        return subprocess.run(argv, env=env, capture_output=True, text=True,
                              timeout=PASS_TIMEOUT, check=False)  # fmt: skip

    def run_until(self, want: Mapping[str, str]) -> dict[str, str]:
        phases: dict[str, str] = {}
        for _ in range(MAX_PASSES):
            proc = self.reconcile()
            assert proc.returncode == 0, proc.stderr
            self.outputs.append(proc.stdout + proc.stderr)
            phases = self.phases()
            if phases == want:
                break
        return phases

    outputs: list[str]

    def status_doc(self, offer: str) -> dict[str, object]:
        doc = yaml.safe_load(self.statuses()[offer])
        assert isinstance(doc, dict)
        return doc

    def submissions(self, offer: str) -> int:
        stats = self.emu.stats()
        product = stats["products"][offer]
        return int(stats["submissions"].get(product, 0)) - int(
            stats["portalSubmissions"].get(product, 0)
        )


@pytest.fixture
def offers() -> tuple[str, ...]:
    return (CONTOSO, FABRIKAM)


@pytest.fixture
def time_scale() -> str:
    return "1e7"  # a week in 60 ms: every stage is done by the next pass


@pytest.fixture
def pc(gitrepos: GitRepos, azurite: Azurite, tmp_path: Path,
       offers: tuple[str, ...], time_scale: str) -> Iterator[PcSetup]:  # fmt: skip
    trust = {k: v for k, v in azurite.env().items() if k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
    with emulator(tmp_path, time_scale=time_scale, env_extra=trust) as emu:
        remote = gitrepos.bare(files=offer_files(*offers))
        setup = PcSetup(gitrepos, remote, gitrepos.clone(remote, "controller"),
                        gitrepos.clone(remote, "person"), local=True)  # fmt: skip
        setup.emu = emu
        setup.extra_env = azurite.env()
        setup.outputs = []
        yield setup


SETTLED = {CONTOSO: "AwaitingSignOff", FABRIKAM: "Preview"}
PREVIEW = {FABRIKAM: "Preview"}
ONE_OFFER = pytest.mark.parametrize("offers", [(FABRIKAM,)])  # one offer keeps the test short


class TestPublishToPartnerCenter:
    """Offers reach their targets through Partner Center; only a sign-off makes one live."""

    def test_preview_stays_preview_and_live_goes_live_once_after_signoff(self, pc: PcSetup) -> None:
        assert pc.run_until(SETTLED) == SETTLED
        stats = pc.emu.stats()
        assert sum(stats["promotes"].values()) == 0
        pc.sign_off(CONTOSO)
        assert pc.run_until({CONTOSO: "Live", FABRIKAM: "Preview"}) == {
            CONTOSO: "Live", FABRIKAM: "Preview"}  # fmt: skip
        stats = pc.emu.stats()
        assert stats["promotes"].get(stats["products"][CONTOSO]) == 1
        assert stats["promotes"].get(stats["products"][FABRIKAM], 0) == 0
        assert pc.submissions(CONTOSO) == 1 and pc.submissions(FABRIKAM) == 1
        # Passes after Live make no call about the settled offers.
        before = pc.emu.stats()["total"]
        assert pc.reconcile().returncode == 0
        assert pc.emu.stats()["total"] == before
        # No token, SAS or connection string in status, output or the repository's history.
        history = git(pc.controller, "log", "-p", "--all")
        seen = "\n".join([*pc.outputs, history, *(s.decode() for s in pc.statuses().values())])
        assert TOKEN not in seen
        assert LEADS_KEY not in seen
        assert not SAS_SIGNATURE.search(seen)
        assert "AccountKey" not in seen

    @ONE_OFFER
    def test_kill_9_between_the_post_and_its_record_then_restart_adopts_the_submission(
        self, pc: PcSetup
    ) -> None:
        where = AFTER_POST  # the submission exists in Partner Center; its id is written nowhere
        for _ in range(MAX_PASSES):
            proc = pc.reconcile(where)
            if proc.returncode == -signal.SIGKILL:
                break
            assert proc.returncode == 0, proc.stderr
        else:
            pytest.fail(f"no pass reached failpoint {where}")
        assert pc.run_until(PREVIEW) == PREVIEW
        assert pc.submissions(FABRIKAM) == 1


@ONE_OFFER
class TestDriftAndPortal:
    """Changes made in Partner Center are reported, never overwritten or cancelled."""

    def test_a_portal_edit_gives_a_drift_condition_naming_the_field(self, pc: PcSetup) -> None:
        assert pc.run_until(PREVIEW) == PREVIEW
        product = pc.emu.stats()["products"][FABRIKAM]
        pc.emu.admin("portal-edit", {"productID": product, "module": "Property",
                                     "changes": {"appVersion": "9.9.9"}})  # fmt: skip
        manifest = pc.controller / "offers" / FABRIKAM / "offer.yaml"
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(text.replace("Case Triage", "Case Triage Pro", 1), encoding="utf-8")
        git(pc.controller, "commit", "-q", "-am", "Rename the offer")
        assert pc.reconcile().returncode in (0, 1)
        conditions = {c["type"]: c for c in pc.status_doc(FABRIKAM)["conditions"]}  # type: ignore[union-attr]
        assert conditions["Drift"]["status"] == "True"
        assert "Property.appVersion" in conditions["Drift"]["message"]
        assert pc.submissions(FABRIKAM) == 1

    def test_a_portal_edit_of_a_resting_offer_gives_drift_without_a_commit(
        self, pc: PcSetup
    ) -> None:
        # A resting offer is evaluated by a full pass (the daemon makes one every resync,
        # cron runs `reconcile --full`); its draft is checked once per drift interval,
        # here every pass (0; the default is an hour).
        pc.extra_env = {**pc.extra_env, "OFFERCTL_DRIFT_INTERVAL": "0"}
        assert pc.run_until(PREVIEW) == PREVIEW
        before = pc.emu.stats()["total"]
        assert pc.reconcile("", "--full").returncode == 0
        quiet = pc.emu.stats()["total"] - before
        assert "Drift" not in {c["type"] for c in pc.status_doc(FABRIKAM)["conditions"]}  # type: ignore[union-attr]
        product = pc.emu.stats()["products"][FABRIKAM]
        pc.emu.admin("portal-edit", {"productID": product, "module": "Property",
                                     "changes": {"appVersion": "9.9.9"}})  # fmt: skip
        before = pc.emu.stats()["total"]
        assert pc.reconcile("", "--full").returncode == 0  # the manifest is unchanged
        conditions = {c["type"]: c for c in pc.status_doc(FABRIKAM)["conditions"]}  # type: ignore[union-attr]
        assert conditions["Drift"]["status"] == "True"
        assert "Property.appVersion" in conditions["Drift"]["message"]
        assert pc.emu.stats()["total"] - before == quiet  # reads only: nothing was written back
        assert pc.phases() == PREVIEW
        assert pc.submissions(FABRIKAM) == 1

    @pytest.mark.parametrize("time_scale", ["1"])  # the portal's submission stays in progress
    def test_a_portal_submission_in_progress_is_waited_for_not_cancelled(
        self, pc: PcSetup, tmp_path: Path
    ) -> None:
        # The offer was made in the portal, and a submission of it is running there.
        portal = client(pc.emu, tmp_path, state="portal.json")
        product = str(portal.api.create_product(product_document(FABRIKAM, {}))["id"])
        portal.close()
        pc.emu.admin("portal-submit", {"productID": product})
        assert pc.reconcile().returncode in (0, 1)
        conditions = {c["type"]: c for c in pc.status_doc(FABRIKAM)["conditions"]}  # type: ignore[union-attr]
        error = conditions["MarketplaceError"]
        assert error["reason"] == "PortalSubmissionInProgress"
        assert "never cancels" in error["message"]
        stats = pc.emu.stats()
        assert stats["portalSubmissions"][product] == 1
        assert stats["submissions"][product] == 1  # the portal's: offerctl made none
        assert pc.phases() == {FABRIKAM: "Validating"}


@pytest.mark.parametrize("offers", [(CONTOSO,)])
class TestWithdrawal:
    """`target: withdrawn` is refused plainly: Stop distribution is a portal action."""

    def test_withdrawing_a_live_offer_says_plainly_to_stop_distribution_in_partner_center(
        self, pc: PcSetup
    ) -> None:
        assert pc.run_until({CONTOSO: "AwaitingSignOff"}) == {CONTOSO: "AwaitingSignOff"}
        pc.sign_off(CONTOSO)
        assert pc.run_until({CONTOSO: "Live"}) == {CONTOSO: "Live"}
        manifest = pc.controller / "offers" / CONTOSO / "offer.yaml"
        text = manifest.read_text(encoding="utf-8")
        assert "  target: live" in text
        manifest.write_text(text.replace("  target: live", "  target: withdrawn", 1), "utf-8")
        git(pc.controller, "commit", "-q", "-am", "Withdraw the offer")
        before = pc.emu.stats()
        assert pc.reconcile().returncode in (0, 1)
        conditions = {c["type"]: c for c in pc.status_doc(CONTOSO)["conditions"]}  # type: ignore[union-attr]
        error = conditions["MarketplaceError"]
        assert error["status"] == "True"
        assert error["reason"] == "StopDistributionInPartnerCenter"
        assert "Stop distribution" in error["message"]
        after = pc.emu.stats()
        assert after["submissions"] == before["submissions"]  # nothing submitted or withdrawn
        assert after["total"] == before["total"]  # refused before any call
