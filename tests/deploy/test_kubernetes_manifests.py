"""deploy/kubernetes/: every manifest is valid Kubernetes, and the pieces fit together.

Built-in kinds are checked offline by kubernetes-validate (it ships the API
schemas) against a pinned Kubernetes version, strictly (unknown fields fail).
The ServiceMonitor is a Prometheus Operator CRD, which kubernetes-validate has
no schema for: it is checked against the structure below and against the
Service it selects. Any other kind without a schema fails the test.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from controller.cli import build_parser
from controller.daemon.shard import parse_shard

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES_VERSION = "1.30"  # oldest release still common on managed clusters
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}

# The fields of monitoring.coreos.com/v1 ServiceMonitor that the example uses, as the
# Prometheus Operator's CRD types them; additionalProperties false catches misspellings.
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": {
                    "type": "object",
                    "required": ["matchLabels"],
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "minProperties": 1,
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {"type": "string", "pattern": "^([0-9]+(ms|s|m|h))+$"},
                            "scrapeTimeout": {
                                "type": "string",
                                "pattern": "^([0-9]+(ms|s|m|h))+$",
                            },
                        },
                    },
                },
            },
        },
    },
}


def _manifests() -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                found.append((path, doc))
    return found


MANIFESTS = _manifests()


def _one(kind: str) -> dict[str, Any]:
    docs = [doc for _, doc in MANIFESTS if doc["kind"] == kind]
    assert len(docs) == 1, f"expected one {kind}, found {len(docs)}"
    return docs[0]


def _validate(doc: dict[str, Any]) -> None:
    if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
        jsonschema.validate(doc, SERVICE_MONITOR)
        return
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_deploy_folder_has_every_piece() -> None:
    kinds = sorted(doc["kind"] for _, doc in MANIFESTS)
    assert kinds == [
        "ConfigMap",
        "PodDisruptionBudget",
        "Service",
        "ServiceMonitor",
        "StatefulSet",
    ]


@pytest.mark.parametrize(
    ("path", "doc"), MANIFESTS, ids=[f"{p.name}:{d['kind']}" for p, d in MANIFESTS]
)
def test_every_manifest_validates_against_its_schema(path: Path, doc: dict[str, Any]) -> None:
    _validate(doc)


@pytest.mark.parametrize(
    ("kind", "breakage"),
    [
        ("StatefulSet", lambda d: d["spec"].__setitem__("replicas", "three")),
        ("StatefulSet", lambda d: d["spec"]["template"]["spec"].__setitem__("restartPolcy", "x")),
        ("Service", lambda d: d["spec"]["ports"][0].pop("port")),
        ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].__setitem__("intreval", "30s")),
        ("ServiceMonitor", lambda d: d["spec"].pop("selector")),
    ],
)
def test_a_broken_manifest_is_rejected(kind: str, breakage: Any) -> None:
    doc = copy.deepcopy(_one(kind))
    breakage(doc)
    with pytest.raises(jsonschema.ValidationError):
        _validate(doc)


def test_a_kind_without_a_schema_is_not_waved_through() -> None:
    with pytest.raises(kubernetes_validate.utils.SchemaNotFoundError):
        _validate({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})


def _container() -> dict[str, Any]:
    containers = _one("StatefulSet")["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "offerctl")


def _run_args() -> Any:
    container = _container()
    assert container["command"][-2:] == ["offerctl", "run"]
    return build_parser().parse_args(["run", *container["args"]])


def test_the_pod_ordinal_is_the_shard_index_and_n_is_the_replica_count() -> None:
    replicas = _one("StatefulSet")["spec"]["replicas"]
    name = _one("StatefulSet")["metadata"]["name"]
    args = _run_args()
    shards = [parse_shard(args.shard, hostname=f"{name}-{k}") for k in range(replicas)]
    assert [(s.index, s.count) for s in shards] == [(k, replicas) for k in range(replicas)]


def test_probes_and_metrics_use_the_port_the_daemon_listens_on() -> None:
    container = _container()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    listen_port = int(_run_args().listen.rsplit(":", 1)[1])
    assert ports["http"] == listen_port
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_the_service_and_servicemonitor_select_the_shards() -> None:
    sts, service, monitor = _one("StatefulSet"), _one("Service"), _one("ServiceMonitor")
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"  # headless: one DNS name per shard
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert sts["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    port_names = {p["name"] for p in service["spec"]["ports"]}
    container_ports = {p["name"] for p in _container()["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= port_names
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports
    assert [e["path"] for e in monitor["spec"]["endpoints"]] == ["/metrics"]


def test_the_checkout_lives_on_the_claimed_volume() -> None:
    sts = _one("StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    claims = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
    volumes = {v["name"] for v in pod["volumes"]} | claims
    for container in pod["initContainers"] + pod["containers"]:
        assert {m["name"] for m in container["volumeMounts"]} <= volumes
    state_mounts = [m["mountPath"] for m in _container()["volumeMounts"] if m["name"] in claims]
    repo = Path(_run_args().repo)
    assert any(repo.is_relative_to(mount) for mount in state_mounts), (repo, state_mounts)
    clone = " ".join(pod["initContainers"][0]["command"])
    assert f"{repo}/.git" in clone and f'"$OFFERS_URL" {repo}' in clone
    config = _one("ConfigMap")["data"]
    assert {"OFFERS_URL", "OFFERS_BRANCH"} <= config.keys()


def test_every_shard_uses_one_shared_marketplace() -> None:
    container = _container()
    sources = [ref["configMapRef"]["name"] for ref in container.get("envFrom", [])]
    assert sources == [_one("ConfigMap")["metadata"]["name"]]
    assert _one("ConfigMap")["data"]["OFFERCTL_MARKETPLACE"] == "partnercenter"


def test_no_secret_is_written_into_the_manifests() -> None:
    env = [
        e for c in _one("StatefulSet")["spec"]["template"]["spec"]["containers"] for e in c["env"]
    ]
    for entry in env:
        if any(word in entry["name"] for word in ("TOKEN", "SECRET", "PASSWORD", "KEY_")):
            if entry["name"].startswith("GIT_CONFIG_KEY_"):
                continue  # a git config key's name, not a key
            assert "value" not in entry and "secretKeyRef" in entry["valueFrom"], entry
