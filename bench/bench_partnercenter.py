"""Partner Center at scale: 1,000 offers through the v1 emulator, counting HTTP calls per pass.

The real adapter (`--marketplace partnercenter+http://...`) reconciles a git
repository of generated offers against `offerctl marketplace serve --api
partnercenter` in a subprocess, with packages uploaded to Azurite. The
emulator counts every v1 call per product (`/_emulator/stats`) and every
listing-file upload; Azurite's container shows how many packages were
uploaded. Passes:

- full: the first pass, which creates products and submits every offer
  (reported, not judged: creating a product takes many calls);
- settle: passes a second apart while offers are in flight (certification
  takes up to a minute at this time scale, so most polls find nothing new);
  goal: at most 1 call per in-flight offer per pass on average;
- no-op: nothing changed and everything settled; goal: 0 calls per settled offer;
- one offer changed (its description): goal: no listing file or package is
  uploaded again, since their content did not change.

    python bench/bench_partnercenter.py [--offers N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))

from azurite_helpers import start_azurite  # noqa: E402
from bench_reconcile import _git  # noqa: E402
from gen_offers import generate  # noqa: E402

from controller.git.repo import GitRepo  # noqa: E402
from controller.marketplace.partnercenter import open_partnercenter  # noqa: E402
from controller.reconcile.reconciler import (  # noqa: E402
    PassResult,
    Reconciler,
    Watch,
    default_validate,
)

TIME_SCALE = "10000"  # a week of certification in 60 s: many passes see an offer in flight
SETTLE_PASSES = 60
PASS_GAP_SECONDS = 1.0
TOKEN = "bench-token"  # noqa: S105 - the emulator is told to accept exactly this
IN_FLIGHT_GOAL = 1.0  # calls per in-flight offer per pass, on average
SETTLED_GOAL = 0.0  # calls per settled offer per pass


@contextmanager
def emulator(tmp: Path, env: dict[str, str]) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller", "marketplace", "serve", "--api", "partnercenter",
         "--listen", "127.0.0.1:0", "--quiet", "--db", str(tmp / "engine.sqlite3"),
         "--time-scale", TIME_SCALE, "--token", TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp,
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "serving " not in line:
            raise SystemExit(f"the emulator did not start: {line}{proc.communicate()[1]}")
        yield line.split("serving ", 1)[1].split()[0]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def stats(api_url: str) -> dict[str, Any]:
    root = api_url.split("/v1.0/", 1)[0]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{root}/_emulator/stats", timeout=30) as response:  # loopback only
        result: dict[str, Any] = json.loads(response.read())
    return result


def package_blobs(env: dict[str, str]) -> int:
    from azure.storage.blob import ContainerClient  # noqa: PLC0415 - only the bench needs it

    container = ContainerClient.from_connection_string(
        env["AZURE_STORAGE_CONNECTION_STRING"], "packages",
        connection_verify=env["REQUESTS_CA_BUNDLE"],
    )  # fmt: skip
    if not container.exists():
        return 0
    return sum(1 for _ in container.list_blobs())


def _secret_names(repo_dir: Path) -> set[str]:
    """The variables the manifests name for secrets (lead keys): the bench sets dummies."""
    names: set[str] = set()
    for manifest in repo_dir.glob("offers/*/offer.yaml"):
        names.update(re.findall(r"SecretRef: (\w+)", manifest.read_text(encoding="utf-8")))
    return names


def _only_package_files(repo_dir: Path) -> None:
    """Drop packageLocationUrl/sasTokenSecretRef: every package then goes through Azurite."""
    for manifest in repo_dir.glob("offers/*/offer.yaml"):
        text = manifest.read_text(encoding="utf-8")
        text = re.sub(r"^    (packageLocationUrl|sasTokenSecretRef): .*\n", "", text,
                      flags=re.MULTILINE)  # fmt: skip
        manifest.write_text(text, encoding="utf-8")


class Counter:
    """Calls per pass, split by whether the offer was in flight or settled before the pass."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.before = stats(api_url)

    def delta(self) -> tuple[dict[str, int], int, int]:
        after = stats(self.api_url)
        products = after["products"]  # offer id -> product id
        per_offer = {
            offer: after["requests"].get(pid, 0) - self.before["requests"].get(pid, 0)
            for offer, pid in products.items()
        }
        unattributed = after["requests"].get("(none)", 0) - self.before["requests"].get("(none)", 0)
        uploads = after["uploads"] - self.before["uploads"]
        self.before = after
        return per_offer, unattributed, uploads


def bench(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="offerctl-pcbench-") as name:
        tmp = Path(name)
        azurite = start_azurite(tmp)
        storage_env = azurite.azurite.env()
        # The Azure SDK (requests) finds the CA bundle only in this process's environment.
        os.environ.update(storage_env)
        try:
            return _run(tmp, count, storage_env)
        finally:
            azurite.stop()


def _run(tmp: Path, count: int, storage_env: dict[str, str]) -> dict[str, float]:  # noqa: PLR0915
    repo_dir = tmp / "repo"
    repo_dir.mkdir()
    _git(repo_dir, "init", "-q", "-b", "main")
    _git(repo_dir, "config", "gc.auto", "0")
    manifests = generate(count, repo_dir)
    _only_package_files(repo_dir)
    _git(repo_dir, "add", "-A")
    _git(repo_dir, "commit", "-q", "-m", f"{count} offers")
    with emulator(tmp, storage_env) as api_url:
        env = {**storage_env, "OFFERCTL_PARTNERCENTER_TOKEN": TOKEN,
               "OFFERCTL_PARTNERCENTER_STATE": str(tmp / "pc-state.json")}  # fmt: skip
        env.update(dict.fromkeys(_secret_names(repo_dir), "bench-dummy-value"))
        os.environ.update(env)
        market = open_partnercenter(f"partnercenter+{api_url}", repo_git_dir=None, env=env,
                                    poll_interval=0.0)  # fmt: skip
        counter = Counter(api_url)
        in_flight: tuple[str, ...] = ()

        def one_pass(label: str, changed: str = "") -> tuple[PassResult, int, int, float]:
            nonlocal in_flight
            polled = set(in_flight) - {changed}
            started = time.perf_counter()
            with GitRepo(repo_dir) as repo:
                result = Reconciler(
                    repo, market, validate=default_validate, watch=Watch(),
                    clock=lambda: datetime.now(UTC),
                ).run_pass()  # fmt: skip
            seconds = time.perf_counter() - started
            per_offer, unattributed, uploads = counter.delta()
            flying = sum(per_offer.get(o, 0) for o in polled)
            settled = [o for o in per_offer if o not in polled and o != changed]
            settled_calls = sum(per_offer[o] for o in settled)
            per_flying = flying / len(polled) if polled else 0.0
            per_settled = settled_calls / len(settled) if settled else 0.0
            print(
                f"  {label:<16} {seconds:7.2f} s  {len(polled):5,} polled: "
                f"{per_flying:5.2f} calls each; {len(settled):5,} others: "
                f"{per_settled:5.2f} calls each; {unattributed} lookups; "
                + (f"changed offer: {per_offer.get(changed, 0)} calls; " if changed else "")
                + f"{uploads} file uploads; {len(result.in_flight):,} in flight after; "
                f"{len(result.errors)} errors",
                flush=True,
            )
            in_flight = result.in_flight
            return result, flying, len(polled), per_settled

        started = time.perf_counter()
        one_pass("full pass")
        full_s = time.perf_counter() - started
        total = stats(api_url)["total"]
        print(f"  full pass: {total / count:.1f} calls per offer; {package_blobs(env)} packages "
              "in the container", flush=True)  # fmt: skip
        flying_calls = polled_offers = 0
        for _ in range(SETTLE_PASSES):
            if not in_flight:
                break
            time.sleep(PASS_GAP_SECONDS)
            _, calls, polled, _ = one_pass("settle pass")
            flying_calls += calls
            polled_offers += polled
        per_flying = flying_calls / polled_offers if polled_offers else 0.0
        print(
            f"  settle passes: {per_flying:.2f} calls per in-flight offer per pass on average "
            f"({flying_calls:,} calls, {polled_offers:,} offer-polls)",
            flush=True,
        )
        _, _, _, noop_settled = one_pass("no-op pass")
        blobs_before = package_blobs(env)
        # An offer that is submitted at all (a draft-target one would make no call anyway).
        manifest = next(m for m in manifests[count // 2 :] + manifests
                        if "  target: preview" in m.read_text(encoding="utf-8"))  # fmt: skip
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(text.replace("      name: ", "      name: Renamed ", 1), "utf-8")
        _git(repo_dir, "commit", "-q", "-am", "change one offer's listing name")
        uploads_before = stats(api_url)["uploads"]
        one_pass("one-offer pass", changed=manifest.parent.name)
        new_uploads = stats(api_url)["uploads"] - uploads_before
        new_packages = package_blobs(env) - blobs_before
        print(f"  after one change: {new_uploads} listing files and {new_packages} packages "
              "uploaded again", flush=True)  # fmt: skip
        market.close()
    return {"full_s": full_s, "in_flight": per_flying, "settled": noop_settled,
            "reuploads": float(new_uploads + new_packages)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--offers", type=int, default=1_000)
    args = parser.parse_args(argv)
    print(f"partnercenter: {args.offers:,} offers through the v1 emulator, time scale {TIME_SCALE}")
    figures = bench(args.offers)
    failures = []
    if figures["in_flight"] > IN_FLIGHT_GOAL:
        failures.append(f"{figures['in_flight']:.2f} calls per in-flight offer per pass "
                        f"(goal <= {IN_FLIGHT_GOAL:g})")  # fmt: skip
    if figures["settled"] > SETTLED_GOAL:
        failures.append(f"{figures['settled']:.2f} calls per settled offer (goal 0)")
    if figures["reuploads"]:
        failures.append(f"{figures['reuploads']:.0f} unchanged files uploaded again")
    for failure in failures:
        print(f"  FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
