"""A real external OAuth2/OpenID provider for tests: panva's oidc-provider (Node) on a loopback port.

    with OidcProvider(clients=[{"client_id": "ext", "extra_claims": {"roles": ["manager"]}}],
                      resources=[{"audience": "https://api.tokensvc.test/", "scope": "profile:read"}]) as op:
        op.token("ext", op.secrets["ext"], scope="profile:read").json()["access_token"]

The config format is documented at the top of node/server.mjs; this class fills in the port, the
signing keys (made here with jwcrypto, one per `alg` the resources use) and missing client secrets.
Needs `node` and `npm ci` in tests/providers/node (see `node_available()`).
"""

from __future__ import annotations

import copy
import json
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import requests
from jwcrypto import jwk

NODE_DIR = Path(__file__).resolve().parent / "node"
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
HTTP_TIMEOUT = 10.0


def node_available() -> bool:
    """Whether `node` is on PATH and oidc-provider is installed (`npm ci` in tests/providers/node)."""
    return shutil.which("node") is not None and (NODE_DIR / "node_modules" / "oidc-provider").is_dir()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def generate_key(alg: str) -> jwk.JWK:
    """A new private signing key for `alg` (RS*/PS*: RSA 2048; ES256: P-256; ES384: P-384), new kid."""
    kid = f"{alg.lower()}-{uuid.uuid4().hex[:12]}"
    if alg.startswith(("RS", "PS")):
        return jwk.JWK.generate(kty="RSA", size=2048, kid=kid, use="sig", alg=alg)
    curves = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
    if alg in curves:
        return jwk.JWK.generate(kty="EC", crv=curves[alg], kid=kid, use="sig", alg=alg)
    raise ValueError(f"no key type for alg {alg!r}")


class OidcProviderError(RuntimeError):
    pass


class OidcProvider:
    """One oidc-provider process. `clients` and `resources` as in node/server.mjs; a client without
    `client_secret` gets a random one (see `secrets`). Keys: one per distinct resource `alg`."""

    def __init__(
        self,
        clients: list[dict[str, Any]],
        resources: list[dict[str, Any]],
        port: int | None = None,
    ) -> None:
        self.clients = copy.deepcopy(clients)
        for client in self.clients:
            client.setdefault("client_secret", token_urlsafe(24))
        self.resources = copy.deepcopy(resources)
        if not self.resources:
            raise ValueError("at least one resource is needed")
        self.port = port or free_port()
        self._keys = self._new_keys()
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._workdir = Path(tempfile.mkdtemp(prefix="oidc-provider-"))
        self._stderr_path = self._workdir / "stderr.log"

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> OidcProvider:
        if self.running:
            return self
        if not node_available():
            raise OidcProviderError("needs node and `npm ci` in tests/providers/node")
        config_path = self._workdir / "config.json"
        config_path.write_text(json.dumps(self._config()))
        stderr = self._stderr_path.open("a")
        try:
            self._process = subprocess.Popen(  # noqa: S603 (our script, our config file)
                [shutil.which("node") or "node", str(NODE_DIR / "server.mjs"), str(config_path)],
                cwd=NODE_DIR,
                stdin=subprocess.PIPE,  # closed when this process dies: the server then exits too
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env={**os.environ, "NODE_ENV": "test"},
            )
        finally:
            stderr.close()
        lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read_stdout, args=(self._process, lines), daemon=True)
        self._reader.start()
        try:
            line = lines.get(timeout=READY_TIMEOUT)
        except queue.Empty:
            line = ""
        if line != f"READY {self.issuer}":
            self._terminate()
            raise OidcProviderError(
                f"oidc-provider on port {self.port} exited or did not print READY within "
                f"{READY_TIMEOUT:.0f} s; its stderr:\n{self.stderr()}"
            )
        return self

    def stop(self) -> None:
        self._terminate()

    def down(self) -> None:
        """Stop the process, keeping port, keys and clients: requests now fail to connect."""
        self._terminate()

    def up(self) -> None:
        """Start again on the same port after `down()` (in-memory opaque tokens are gone)."""
        self.start()

    def rotate_keys(self) -> list[str]:
        """Replace every signing key with a new one (new kids) and restart on the same port."""
        self._keys = self._new_keys()
        was_running = self.running
        self._terminate()
        if was_running:
            self.start()
        return self.kids

    def __enter__(self) -> OidcProvider:
        return self.start()

    def close(self) -> None:
        """Stop for good and remove the temporary config/log folder."""
        self.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stderr(self) -> str:
        try:
            return self._stderr_path.read_text()
        except FileNotFoundError:
            return ""

    # -- what tests use --------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def secrets(self) -> dict[str, str]:
        return {client["client_id"]: client["client_secret"] for client in self.clients}

    @property
    def kids(self) -> list[str]:
        return [key["kid"] for key in self._keys]

    def private_jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The current signing keys, private parts included (to forge tokens in tests)."""
        return {"keys": [json.loads(key.export_private()) for key in self._keys]}

    def jwks_public(self) -> dict[str, list[dict[str, Any]]]:
        """The current public keys, as the provider's jwks_uri serves them (computed here, no HTTP)."""
        return {"keys": [key.export_public(as_dict=True) for key in self._keys]}

    def key(self, alg: str) -> jwk.JWK:
        """The current private signing key for `alg`."""
        return next(key for key in self._keys if key["alg"] == alg)

    def discovery(self) -> dict[str, Any]:
        response = requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.json()

    def token(
        self,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        resource: str | None = None,
        method: str = "basic",
    ) -> requests.Response:
        """A client_credentials request. method: "basic" (client_secret_basic) or "post"
        (client_secret_post); oidc-provider accepts either for a client registered with one of them."""
        data = {"grant_type": "client_credentials"}
        if scope is not None:
            data["scope"] = scope
        if resource is not None:
            data["resource"] = resource
        auth = None
        if method == "basic":
            auth = (client_id, client_secret)
        elif method == "post":
            data.update(client_id=client_id, client_secret=client_secret)
        else:
            raise ValueError(f"method must be 'basic' or 'post', not {method!r}")
        return requests.post(f"{self.issuer}/token", data=data, auth=auth, timeout=HTTP_TIMEOUT)

    def introspect(self, token: str, client_id: str, client_secret: str) -> requests.Response:
        """RFC 7662 introspection (opaque tokens only: oidc-provider refuses JWTs there)."""
        return requests.post(
            f"{self.issuer}/token/introspection",
            data={"token": token},
            auth=(client_id, client_secret),
            timeout=HTTP_TIMEOUT,
        )

    # -- internals -------------------------------------------------------------------------------

    def _new_keys(self) -> list[jwk.JWK]:
        algs = dict.fromkeys(r.get("alg", "RS256") for r in self.resources if r.get("format", "jwt") == "jwt")
        return [generate_key(alg) for alg in algs or ["RS256"]]

    def _config(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "jwks": self.private_jwks(),
            "clients": self.clients,
            "resources": self.resources,
            "exit_with_stdin": True,
        }

    @staticmethod
    def _read_stdout(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
        """Hands the READY line to start(), or "" once stdout ends (the process died first)."""
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                if line.startswith("READY "):
                    lines.put(line.strip())
        lines.put("")

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
        if process.stdin:
            process.stdin.close()
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.join(STOP_TIMEOUT)  # it closes stdout on EOF
