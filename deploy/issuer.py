"""The local OpenID Connect issuer, for machines with no identity provider of their own (development, tests).

python -m deploy.issuer serve                        discovery, JWKS and a client-credentials token endpoint
python -m deploy.issuer token --sub demo-auditor     print an access token for a subject (1 hour; --ttl SECONDS)
python -m deploy.issuer rotate                       sign with a new key from now on (the old one stays published)
python -m deploy.issuer retire KID                   stop publishing a key: tokens it signed are refused
python -m deploy.issuer keys                         list the keys (kid, created, signing / published / retired)
python -m deploy.issuer client add ID [--sub SUB]    a service account for client credentials; prints its secret once

Its keys and service accounts live under LOCAL_ISSUER_DIR (default .local/issuer/), generated on first use and
never committed. It serves on 127.0.0.1:LOCAL_ISSUER_PORT (default 8009); its issuer URL (`iss`) is
http://127.0.0.1:LOCAL_ISSUER_PORT. Every request reads the key files again, so `rotate` and `retire` take effect on
a running server without a restart.

A service account gets a token from the token endpoint:

    curl -s -u ID:SECRET -d grant_type=client_credentials http://127.0.0.1:8009/token
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.jwk import RSAKey

ALGORITHM = "RS256"
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks.json"
TOKEN_PATH = "/token"


class LocalIssuer:
    """Keys (`keys.json`) and service accounts (`clients.json`) in `directory`; tokens for `url` and `audience`."""

    def __init__(self, directory: Path, url: str, audience: str) -> None:
        self.directory = Path(directory)
        self.url = url.rstrip("/")
        self.audience = audience
        self._lock = threading.Lock()

    # -------------------------------------------------------------------------------------------- files

    @property
    def _keys_file(self) -> Path:
        return self.directory / "keys.json"

    @property
    def _clients_file(self) -> Path:
        return self.directory / "clients.json"

    def _read(self, path: Path, empty: dict[str, Any]) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        except FileNotFoundError:
            return empty

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private keys: the owner only
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=1)
        os.replace(tmp, path)

    def _keys(self) -> dict[str, Any]:
        """{"signing": kid, "keys": [{"kid", "created", "retired", "jwk"}]}: generated on first use."""
        with self._lock:
            data = self._read(self._keys_file, {"signing": None, "keys": []})
            if data["signing"] is None:
                data = self._add_key(data)
                self._write(self._keys_file, data)
            return data

    def _add_key(self, data: dict[str, Any]) -> dict[str, Any]:
        key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": ALGORITHM}, private=True)
        kid = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        entry = {"kid": kid, "created": datetime.now(UTC).isoformat(), "retired": False}
        entry["jwk"] = {**key.as_dict(private=True), "kid": kid}
        return {"signing": kid, "keys": [*data["keys"], entry]}

    # -------------------------------------------------------------------------------------------- keys

    def rotate(self) -> str:
        """A new signing key; the previous ones stay published (tokens they signed stay valid) until retired."""
        with self._lock:
            data = self._add_key(self._read(self._keys_file, {"signing": None, "keys": []}))
            self._write(self._keys_file, data)
            return str(data["signing"])

    def retire(self, kid: str) -> None:
        """Stop publishing a key (not the signing one): tokens it signed are refused once verifiers refetch."""
        with self._lock:
            data = self._read(self._keys_file, {"signing": None, "keys": []})
            if kid == data["signing"]:
                raise ValueError(f"{kid} signs new tokens: rotate first")
            found = [k for k in data["keys"] if k["kid"] == kid]
            if not found:
                raise KeyError(kid)
            found[0]["retired"] = True
            self._write(self._keys_file, data)

    def key_list(self) -> list[dict[str, Any]]:
        data = self._keys()
        return [
            {"kid": k["kid"], "created": k["created"], "signing": k["kid"] == data["signing"], "retired": k["retired"]}
            for k in data["keys"]
        ]

    def jwks(self) -> dict[str, Any]:
        """The public keys still published."""
        keys = []
        for entry in self._keys()["keys"]:
            if not entry["retired"]:
                public = RSAKey.import_key(entry["jwk"]).as_dict(private=False)
                keys.append({**public, "kid": entry["kid"], "use": "sig", "alg": ALGORITHM})
        return {"keys": keys}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": self.url + JWKS_PATH,
            "token_endpoint": self.url + TOKEN_PATH,
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        }

    # -------------------------------------------------------------------------------------------- tokens

    def token(self, subject: str, *, ttl_s: int = 3600, kid: str | None = None, **claims: Any) -> str:
        """An access token for `subject`, signed with the signing key (or the published key `kid`). `claims` add to
        or override the standard ones (e.g. `exp`, `aud`, `iss` for a test of a bad token)."""
        data = self._keys()
        kid = kid or data["signing"]
        entry = next(k for k in data["keys"] if k["kid"] == kid)
        now = int(time.time())
        body = {
            "iss": self.url,
            "sub": subject,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
            **claims,
        }
        return jwt.encode({"alg": ALGORITHM, "kid": kid}, body, RSAKey.import_key(entry["jwk"]))

    # -------------------------------------------------------------------------------------------- service accounts

    def add_client(self, client_id: str, subject: str | None = None) -> str:
        """A service account (client credentials); returns its secret, stored only as a hash."""
        secret = secrets.token_urlsafe(32)
        with self._lock:
            data = self._read(self._clients_file, {})
            data[client_id] = {"subject": subject or client_id, "secret_sha256": _sha256(secret)}
            self._write(self._clients_file, data)
        return secret

    def ensure_client(self, client_id: str) -> Path:
        """A development service account, created once: its secret is kept in `{client_id}.secret` beside the keys
        (for the demo account of `make up`; never for a real partner, whose secret is given to it alone)."""
        secret_file = self.directory / f"{client_id}.secret"
        if client_id not in self._read(self._clients_file, {}) or not secret_file.exists():
            secret = self.add_client(client_id)
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secret + "\n")
        return secret_file

    def client_subject(self, client_id: str, secret: str) -> str | None:
        """The account's subject when the secret is its own."""
        entry = self._read(self._clients_file, {}).get(client_id)
        if entry is None or not hmac.compare_digest(entry["secret_sha256"], _sha256(secret)):
            return None
        return str(entry["subject"])


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------------------------ the server


class IssuerServer(ThreadingHTTPServer):
    daemon_threads = True
    issuer: LocalIssuer


def _handler() -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "local-issuer"
        server: IssuerServer

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the services log what matters
            pass

        def _json(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            issuer = self.server.issuer
            if self.path == DISCOVERY_PATH:
                self._json(200, issuer.discovery())
            elif self.path == JWKS_PATH:
                self._json(200, issuer.jwks())
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            issuer = self.server.issuer
            if self.path != TOKEN_PATH:
                self._json(404, {"error": "not_found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > 10_000:
                self._json(413, {"error": "invalid_request"})
                return
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("utf-8", "replace")).items()}
            client_id, secret = form.get("client_id"), form.get("client_secret")
            basic = self.headers.get("Authorization", "")
            if basic.lower().startswith("basic "):
                try:
                    client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
                except ValueError:
                    client_id = secret = None
            if form.get("grant_type") != "client_credentials":
                self._json(400, {"error": "unsupported_grant_type"})
                return
            subject = issuer.client_subject(client_id or "", secret or "")
            if subject is None:
                self._json(401, {"error": "invalid_client"})
                return
            ttl = 3600
            token = issuer.token(subject, ttl_s=ttl, client_id=client_id)
            self._json(200, {"access_token": token, "token_type": "Bearer", "expires_in": ttl})

    return Handler


def make_server(directory: Path, audience: str, host: str = "127.0.0.1", port: int = 0) -> IssuerServer:
    """The issuer's HTTP server bound to `port` (0: a free one); its issuer URL names the port it got."""
    server = IssuerServer((host, port), _handler())
    server.issuer = LocalIssuer(directory, f"http://{host}:{server.server_address[1]}", audience)
    return server


@contextmanager
def running(directory: Path, audience: str, host: str = "127.0.0.1", port: int = 0) -> Iterator[LocalIssuer]:
    """A local issuer served from a thread of this process, until the block ends."""
    server = make_server(directory, audience, host, port)
    thread = threading.Thread(target=server.serve_forever, name="local-issuer", daemon=True)
    thread.start()
    try:
        yield server.issuer
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------------------------ the CLI


def from_settings() -> LocalIssuer:
    from services.common.settings import get_settings

    settings = get_settings()
    return LocalIssuer(settings.local_issuer_dir, settings.local_issuer_url, settings.oidc_audience)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.issuer", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve discovery, JWKS and the token endpoint")
    token = commands.add_parser("token", help="print an access token")
    token.add_argument("--sub", required=True, help="the subject (e.g. demo-auditor)")
    token.add_argument("--ttl", type=int, default=3600, help="seconds the token lasts (default 3600)")
    commands.add_parser("rotate", help="sign with a new key from now on")
    retire = commands.add_parser("retire", help="stop publishing a key")
    retire.add_argument("kid")
    commands.add_parser("keys", help="list the keys")
    client = commands.add_parser("client", help="service accounts")
    client_commands = client.add_subparsers(dest="client_command", required=True)
    add = client_commands.add_parser("add", help="add (or give a new secret to) a service account")
    add.add_argument("client_id")
    add.add_argument("--sub", help="its subject (default: the client id)")
    args = parser.parse_args(argv)

    issuer = from_settings()
    if args.command == "serve":
        issuer.key_list()  # generate the first key now rather than on the first request
        server = make_server(issuer.directory, issuer.audience, "127.0.0.1", int(issuer.url.rsplit(":", 1)[1]))
        print(f"local issuer: {issuer.url} (keys in {issuer.directory})", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    elif args.command == "token":
        print(issuer.token(args.sub, ttl_s=args.ttl))
    elif args.command == "rotate":
        print(issuer.rotate())
    elif args.command == "retire":
        try:
            issuer.retire(args.kid)
        except (KeyError, ValueError) as exc:
            print(f"not retired: {exc}", file=sys.stderr)
            return 1
    elif args.command == "keys":
        for key in issuer.key_list():
            state = "signing" if key["signing"] else "retired" if key["retired"] else "published"
            print(f"{key['kid']}  {key['created']}  {state}")
    elif args.command == "client":
        print(issuer.add_client(args.client_id, args.sub))
    return 0


if __name__ == "__main__":
    sys.exit(main())
