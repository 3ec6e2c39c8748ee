"""Local OAuth 1.0a (RFC 5849) provider for Portcullis development and tests.

The provider side is oauthlib's (oauthlib.oauth1: request token, authorization
and access token endpoints, and protected-resource checks): every signature,
timestamp and nonce is checked by it, not by this file. This file only keeps
the credentials in memory, renders the authorization page and serves one API
shaped like X's v1.1 `account/verify_credentials`.

Environment (all optional):
  OAUTH1_PORT              port to listen on; 0 (default) lets the OS pick one
  OAUTH1_CONSUMER_KEY      the one client's key, default "portcullisdevconsumerkey"
  OAUTH1_CONSUMER_SECRET   its shared secret, default "portcullis-dev-consumer-secret"
  OAUTH1_CALLBACK_PREFIX   callbacks must start with it,
                           default "http://127.0.0.1:3000/auth/callback/"
  OAUTH1_CLOCK_OFFSET      seconds added to this provider's clock (tests: a client
                           whose timestamps look expired), default 0
  OAUTH1_TEST_CONTROLS     "1" enables GET /__test/requests: the API requests
                           received, with their Authorization header, to replay

Endpoints: POST /oauth/request_token, GET /oauth/authorize (or
/oauth/authenticate) and POST /oauth/authorize (the person's decision: allow
or deny), POST /oauth/access_token,
GET /1.1/account/verify_credentials.json.

Once listening it prints exactly one line to stdout:
  OAUTH1_READY {"url":"http://127.0.0.1:NNNNN","port":NNNNN}
and exits by itself once the process that started it is gone.
"""

import html
import json
import os
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)
from oauthlib.oauth1.rfc5849 import errors
from oauthlib.oauth1.rfc5849.endpoints import base as endpoints_base

ENV = os.environ
CONSUMER_KEY = ENV.get("OAUTH1_CONSUMER_KEY", "portcullisdevconsumerkey")
CONSUMER_SECRET = ENV.get("OAUTH1_CONSUMER_SECRET", "portcullis-dev-consumer-secret")
CALLBACK_PREFIX = ENV.get("OAUTH1_CALLBACK_PREFIX", "http://127.0.0.1:3000/auth/callback/")
CLOCK_OFFSET = int(ENV.get("OAUTH1_CLOCK_OFFSET", "0"))
TEST_CONTROLS = ENV.get("OAUTH1_TEST_CONTROLS") == "1"

# The one account, as X's v1.1 API shows a user.
ACCOUNT = {
    "id": 783214,
    "id_str": "783214",
    "name": "Olivia Oauth",
    "screen_name": "olivia",
    "email": "olivia@oauth1.portcullis.test",
    "profile_image_url_https": "https://pbs.oauth1.portcullis.test/olivia.png",
}


class ShiftedClock:
    """time.time() as this provider's clock, OAUTH1_CLOCK_OFFSET ahead."""

    @staticmethod
    def time():
        return time.time() + CLOCK_OFFSET


endpoints_base.time = ShiftedClock


def token():
    """A credential identifier or secret: 24 letters and digits."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(24))


class Validator(RequestValidator):
    """Every credential in memory; each nonce is accepted once."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.request_tokens = {}  # token -> {secret, callback, verifier}
        self.access_tokens = {}  # token -> secret
        self.nonces = set()

    # What oauthlib checks before asking us.
    allowed_signature_methods = ("HMAC-SHA1", "PLAINTEXT")
    nonce_length = (16, 64)
    enforce_ssl = False  # loopback in development and tests
    realms = []

    @property
    def dummy_client(self):
        return "dummyconsumerkeyfortiming"

    @property
    def dummy_request_token(self):
        return "dummyrequesttokenfortiming"

    @property
    def dummy_access_token(self):
        return "dummyaccesstokenfortiming"

    def validate_client_key(self, client_key, request):
        return client_key == CONSUMER_KEY

    def get_client_secret(self, client_key, request):
        return CONSUMER_SECRET if client_key == CONSUMER_KEY else "dummy-secret"

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request,
                                     request_token=None, access_token=None):
        key = (client_key, timestamp, nonce, request_token or access_token or "")
        with self.lock:
            if key in self.nonces:
                return False
            self.nonces.add(key)
            return True

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        return redirect_uri.startswith(CALLBACK_PREFIX)

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def get_default_realms(self, client_key, request):
        return []

    def save_request_token(self, credentials, request):
        with self.lock:
            self.request_tokens[credentials["oauth_token"]] = {
                "secret": credentials["oauth_token_secret"],
                "callback": request.redirect_uri,
                "verifier": None,
            }

    def verify_request_token(self, token, request):
        return token in self.request_tokens

    def verify_realms(self, token, realms, request):
        return True

    def get_realms(self, token, request):
        return []

    def get_redirect_uri(self, token, request):
        return self.request_tokens[token]["callback"]

    def save_verifier(self, token, verifier, request):
        with self.lock:
            self.request_tokens[token]["verifier"] = verifier["oauth_verifier"]

    def validate_request_token(self, client_key, token, request):
        return token in self.request_tokens

    def get_request_token_secret(self, client_key, token, request):
        entry = self.request_tokens.get(token)
        return entry["secret"] if entry else "dummy-secret"

    def validate_verifier(self, client_key, token, verifier, request):
        entry = self.request_tokens.get(token)
        return bool(entry and entry["verifier"] and secrets.compare_digest(entry["verifier"], verifier))

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True

    def invalidate_request_token(self, client_key, request_token, request):
        with self.lock:
            self.request_tokens.pop(request_token, None)

    def save_access_token(self, credentials, request):
        with self.lock:
            self.access_tokens[credentials["oauth_token"]] = credentials["oauth_token_secret"]

    def validate_access_token(self, client_key, token, request):
        return token in self.access_tokens

    def get_access_token_secret(self, client_key, token, request):
        return self.access_tokens.get(token, "dummy-secret")


VALIDATOR = Validator()
REQUEST_TOKEN = RequestTokenEndpoint(VALIDATOR, token_generator=token)
AUTHORIZATION = AuthorizationEndpoint(VALIDATOR, token_generator=token)
ACCESS_TOKEN = AccessTokenEndpoint(VALIDATOR, token_generator=token)
RESOURCE = ResourceEndpoint(VALIDATOR)
RECEIVED = []  # API requests, for GET /__test/requests


class Handler(BaseHTTPRequestHandler):
    server_version = "portcullis-oauth1-provider"

    def log_message(self, fmt, *args):  # keep stdout for the ready line
        sys.stderr.write("oauth1-provider: " + (fmt % args) + "\n")

    def uri(self):
        host = self.headers.get("Host", "127.0.0.1")
        return f"http://{host}{self.path}"

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode("utf-8") if length else ""

    def answer(self, status, body="", headers=None, content_type="application/x-www-form-urlencoded"):
        payload = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(payload)

    def endpoint(self, create, method, body):
        headers, payload, status = create(
            self.uri(), http_method=method, body=body, headers=dict(self.headers)
        )
        self.answer(status, payload or "", headers)

    def do_POST(self):
        path = urlsplit(self.path).path
        body = self.body()
        if path == "/oauth/request_token":
            return self.endpoint(REQUEST_TOKEN.create_request_token_response, "POST", body)
        if path == "/oauth/access_token":
            return self.endpoint(ACCESS_TOKEN.create_access_token_response, "POST", body)
        if path == "/oauth/authorize":
            return self.decide(parse_qs(body))
        self.answer(404, "not found", content_type="text/plain")

    def do_GET(self):
        url = urlsplit(self.path)
        # X's "Sign in with X" page is /oauth/authenticate.
        if url.path in ("/oauth/authorize", "/oauth/authenticate"):
            return self.authorization_page(parse_qs(url.query))
        if url.path == "/1.1/account/verify_credentials.json":
            return self.verify_credentials()
        if url.path == "/__test/requests" and TEST_CONTROLS:
            return self.answer(200, json.dumps(RECEIVED), content_type="application/json")
        self.answer(404, "not found", content_type="text/plain")

    def authorization_page(self, query):
        oauth_token = (query.get("oauth_token") or [""])[0]
        if not VALIDATOR.verify_request_token(oauth_token, None):
            return self.answer(400, "unknown or used request token", content_type="text/plain")
        value = html.escape(oauth_token, quote=True)
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize Portcullis</title></head>
<body><main>
<h1>Authorize Portcullis to use your account?</h1>
<p>Signed in as {html.escape(ACCOUNT["name"])} (@{html.escape(ACCOUNT["screen_name"])}).</p>
<form method="post" action="/oauth/authorize">
<input type="hidden" name="oauth_token" value="{value}">
<button type="submit" name="decision" value="allow">Authorize app</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form></main></body></html>"""
        self.answer(200, page, content_type="text/html; charset=utf-8")

    def decide(self, form):
        oauth_token = (form.get("oauth_token") or [""])[0]
        decision = (form.get("decision") or [""])[0]
        if not VALIDATOR.verify_request_token(oauth_token, None):
            return self.answer(400, "unknown or used request token", content_type="text/plain")
        if decision != "allow":
            # As X does: back with `denied`, the request token spent.
            callback = VALIDATOR.get_redirect_uri(oauth_token, None)
            VALIDATOR.invalidate_request_token(CONSUMER_KEY, oauth_token, None)
            separator = "&" if "?" in callback else "?"
            location = f"{callback}{separator}{urlencode({'denied': oauth_token})}"
            return self.answer(303, "", {"Location": location})
        try:
            headers, _body, status = AUTHORIZATION.create_authorization_response(
                f"http://127.0.0.1/oauth/authorize?{urlencode({'oauth_token': oauth_token})}"
            )
        except errors.OAuth1Error as err:
            return self.answer(err.status_code, err.urlencoded)
        self.answer(303 if status in (301, 302) else status, "", headers)

    def verify_credentials(self):
        RECEIVED.append({
            "method": "GET",
            "url": self.uri(),
            "authorization": self.headers.get("Authorization", ""),
        })
        valid, _request = RESOURCE.validate_protected_resource_request(
            self.uri(), http_method="GET", body=None, headers=dict(self.headers)
        )
        if not valid:
            error = {"errors": [{"code": 32, "message": "Could not authenticate you."}]}
            return self.answer(401, json.dumps(error), content_type="application/json")
        self.answer(200, json.dumps(ACCOUNT), content_type="application/json")


def stop_with_parent(parent):
    """Exits once the process that started this one is gone."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main():
    parent = os.getppid()
    server = ThreadingHTTPServer(("127.0.0.1", int(ENV.get("OAUTH1_PORT", "0"))), Handler)
    port = server.server_address[1]
    threading.Thread(target=stop_with_parent, args=(parent,), daemon=True).start()
    print("OAUTH1_READY " + json.dumps({"url": f"http://127.0.0.1:{port}", "port": port}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
