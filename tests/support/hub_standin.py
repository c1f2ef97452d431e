"""A stand-in for the model hub on 127.0.0.1, serving one folder as one repository.

It answers the HTTP calls huggingface_hub's snapshot_download makes (revision
info, tree listing, file metadata and download), so the project's real hub
code path runs offline. It records the Authorization headers it received.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


class HubStandIn:
    def __init__(self, repo_id: str, folder: Path, revisions: dict[str, str]):
        """`revisions` maps names a client may ask for (tags, hashes) to the commit hash."""
        self.repo_id, self.folder, self.revisions = repo_id, folder, revisions
        self.authorizations: list[str | None] = []
        self.files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body=b"", headers=None, content_type="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _not_found(self, code):
                self._send(404, json.dumps({"error": code}).encode(), {"X-Error-Code": code})

            def _route(self):
                hub.authorizations.append(self.headers.get("Authorization"))
                path = unquote(urlparse(self.path).path)
                api = f"/api/models/{hub.repo_id}/"
                if path.startswith(api + "revision/"):
                    commit = hub.revisions.get(path[len(api + "revision/") :])
                    if commit is None:
                        return self._not_found("RevisionNotFound")
                    siblings = [{"rfilename": f} for f in hub.files]
                    return self._send(
                        200, json.dumps({"id": hub.repo_id, "sha": commit, "siblings": siblings}).encode()
                    )
                if path.startswith(api + "tree/"):
                    if hub.revisions.get(path[len(api + "tree/") :].split("/")[0]) is None:
                        return self._not_found("RevisionNotFound")
                    entries = [
                        {
                            "type": "file",
                            "path": f,
                            "size": (hub.folder / f).stat().st_size,
                            "oid": hashlib.sha1((hub.folder / f).read_bytes()).hexdigest(),
                        }
                        for f in hub.files
                    ]
                    return self._send(200, json.dumps(entries).encode())
                resolve = f"/{hub.repo_id}/resolve/"
                if path.startswith(resolve):
                    revision, _, name = path[len(resolve) :].partition("/")
                    commit = hub.revisions.get(revision)
                    if commit is None:
                        return self._not_found("RevisionNotFound")
                    if name not in hub.files:
                        return self._not_found("EntryNotFound")
                    data = (hub.folder / name).read_bytes()
                    headers = {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
                    return self._send(200, data, headers, "application/octet-stream")
                return self._not_found("RepoNotFound")

            do_GET = do_HEAD = _route

        return Handler
