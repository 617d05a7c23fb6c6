"""GitHub's Checks and Statuses endpoints on 127.0.0.1, answering with GitHub's JSON shapes.

`POST /repos/{o}/{r}/check-runs` creates a check run (201 with its id and
html_url), `PATCH /repos/{o}/{r}/check-runs/{id}` appends its annotations,
`POST /repos/{o}/{r}/statuses/{sha}` creates a commit status. Like GitHub it
refuses more than 50 annotations in one request (422) and an update whose
output lacks title or summary (422). It can answer check-run creation with
403 as GitHub does for a token that is not a GitHub App's ("Resource not
accessible by integration"), or with a rate limit. Every request is
recorded with its headers and decoded body.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPO = "contoso/offers"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeChecks:
    refuse_check_runs: str = ""  # "": accept; "forbidden" or "rate-limited": 403
    requests: list[Recorded] = field(default_factory=list)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> run, annotations
    statuses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    base_url: str = ""

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if method == "POST" and path == f"/repos/{REPO}/check-runs":
            if self.refuse_check_runs == "forbidden":
                return 403, {
                    "message": "Resource not accessible by integration",
                    "documentation_url": "https://docs.github.com/rest/checks/runs#create-a-check-run",
                    "status": "403",
                }
            if self.refuse_check_runs == "rate-limited":
                return 403, {"message": "API rate limit exceeded for user ID 1."}
            problem = _check_output(body.get("output"), creating=True)
            if problem or not body.get("name") or not body.get("head_sha"):
                return 422, {"message": problem or "name and head_sha are required"}
            run_id = 4000 + len(self.runs)
            run = {
                "id": run_id,
                "head_sha": body["head_sha"],
                "name": body["name"],
                "status": body.get("status", "queued"),
                "conclusion": body.get("conclusion"),
                "html_url": f"https://github.com/{REPO}/runs/{run_id}",
                "output": {
                    "title": body["output"]["title"],
                    "summary": body["output"]["summary"],
                    "annotations_count": len(body["output"].get("annotations", [])),
                },
            }
            self.runs[run_id] = {"run": run, "annotations": list(body["output"]["annotations"])}
            return 201, run
        if method == "PATCH" and (m := re.fullmatch(rf"/repos/{REPO}/check-runs/(\d+)", path)):
            stored = self.runs.get(int(m.group(1)))
            if stored is None:
                return 404, {"message": "Not Found"}
            problem = _check_output(body.get("output"), creating=False)
            if problem:
                return 422, {"message": problem}
            stored["annotations"] += body["output"].get("annotations", [])
            stored["run"]["output"]["annotations_count"] = len(stored["annotations"])
            return 200, stored["run"]
        if method == "POST" and (
            m := re.fullmatch(rf"/repos/{REPO}/statuses/([0-9a-f]{{40}})", path)
        ):
            if body.get("state") not in ("error", "failure", "pending", "success"):
                return 422, {"message": "Validation Failed"}
            self.statuses.append((m.group(1), body))
            return 201, {
                "id": len(self.statuses),
                "state": body["state"],
                "context": body.get("context"),
            }
        return 404, {"message": "Not Found"}


def _check_output(output: Any, *, creating: bool) -> str:
    if output is None:
        return "" if not creating else "output is required here"
    if not isinstance(output, dict) or not output.get("title") or not output.get("summary"):
        return "output.title and output.summary are required"
    notes = output.get("annotations", [])
    if len(notes) > 50:
        return "Only 50 annotations may be sent at a time"
    for note in notes:
        missing = {"path", "start_line", "end_line", "annotation_level", "message"} - set(note)
        if missing or note["annotation_level"] not in ("notice", "warning", "failure"):
            return f"annotation is invalid: {sorted(missing)}"
    return ""


def _handler(fake: FakeChecks) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.requests.append(Recorded(self.command, self.path, headers, body))
            status, answer = fake.route(self.command, self.path, body or {})
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

    return Handler


@contextmanager
def serve(fake: FakeChecks | None = None) -> Iterator[FakeChecks]:
    fake = fake or FakeChecks()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
