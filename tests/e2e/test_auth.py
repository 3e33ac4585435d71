"""SPEC section 6: JWT bearer tokens on the gateway API and on `auth_type: jwt` endpoints.

Tokens are minted by PyJWT (an implementation independent of gatehouse's) with keys
generated here; the RFC 6750 answers are checked byte for byte."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gh_gateway import endpoint
from gh_raw import assert_problem

STATS = "/endpoints/stats"
STATS_SCOPE = "gatehouse:stats"
SECRET_ENV = "GH_TEST_JWT_SECRET"

CHALLENGE_MISSING = 'Bearer realm="gatehouse"'
CHALLENGE_INVALID = 'Bearer realm="gatehouse", error="invalid_token"'


def challenge_scope(scope):
    return f'Bearer realm="gatehouse", error="insufficient_scope", scope="{scope}"'


# ---- keys --------------------------------------------------------------------------

def pem_public(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="session")
def keys():
    return {
        "hmac": secrets.token_urlsafe(48),           # 64 ASCII bytes (env vars are text)
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "rsa2": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "p521": ec.generate_private_key(ec.SECP521R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "ed25519b": ed25519.Ed25519PrivateKey.generate(),
    }


# algorithm -> the key (name in `keys`) that signs it
ALGORITHMS = {
    "HS256": "hmac", "HS384": "hmac", "HS512": "hmac",
    "RS256": "rsa", "RS384": "rsa", "RS512": "rsa",
    "PS256": "rsa", "PS384": "rsa", "PS512": "rsa",
    "ES256": "p256", "ES384": "p384", "ES512": "p521",
    "EdDSA": "ed25519",
}


def claims(scope=STATS_SCOPE, ttl=600, **extra):
    now = int(time.time())
    c = {"sub": "e2e", "iat": now, "exp": now + ttl}
    if scope is not None:
        c["scope"] = scope
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def mint(keys, alg, scope=STATS_SCOPE, headers=None, key=None, **extra) -> str:
    k = keys[key or ALGORITHMS[alg]]
    return jwt.encode(claims(scope, **extra), k, algorithm=alg, headers=headers)


def b64(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def all_keys_gateway(start_gateway, tmp_path, keys, up, algorithms=None, **jwt_extra):
    """A gateway whose auth.jwt has every algorithm and a key of every type: the HMAC
    secret from the environment, and RSA, P-256/384/521 and Ed25519 public keys in one
    PEM file. /orders (auth_type: jwt) and /plain (no auth) point at `up`."""
    pem = tmp_path / "public.pem"
    pem.write_bytes(b"".join(pem_public(keys[n]) for n in ("rsa", "p256", "p384", "p521", "ed25519")))
    cfg_jwt = {"algorithms": algorithms or list(ALGORITHMS), "hmac_secret_env": SECRET_ENV,
               "public_key_file": str(pem)}
    cfg_jwt.update(jwt_extra)
    return start_gateway({
        "auth": {"jwt": cfg_jwt, "scopes": {"stats": STATS_SCOPE}},
        "endpoints": [
            endpoint(up.url("/api"), name="orders", auth_type="jwt", scopes=["orders:read"]),
            endpoint(up.url("/plain"), name="plain"),
        ]}, env={SECRET_ENV: keys["hmac"]})


def assert_forwarded_unchanged(gw, up, token):
    before = len(up.snapshot())
    r = gw.get("/orders/item/1", headers=bearer(token))
    assert r.status == 200, r
    reqs = up.snapshot()
    assert len(reqs) == before + 1, [q.target for q in reqs]
    req = reqs[-1]
    assert req.path == "/api/item/1", req.target
    assert req.headers_all("authorization") == [f"Bearer {token}"], req.headers


# ---- 1. every algorithm, minted by PyJWT, is accepted --------------------------------

@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_pyjwt_token_accepted_for_every_algorithm(alg, start_gateway, upstream, keys, tmp_path):
    gw = all_keys_gateway(start_gateway, tmp_path, keys, upstream)
    token = mint(keys, alg, scope=f"{STATS_SCOPE} orders:read")
    assert jwt.get_unverified_header(token)["alg"] == alg
    r = gw.get(STATS, headers=bearer(token))
    assert r.status == 200, r
    assert isinstance(r.json()["endpoints"], list)
    assert_forwarded_unchanged(gw, upstream, token)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_secret_file(alg, start_gateway, upstream, keys, tmp_path):
    secret = secrets.token_hex(32).encode()  # 64 bytes, no trailing newline
    f = tmp_path / "hmac.secret"
    f.write_bytes(secret)
    gw = start_gateway({
        "auth": {"jwt": {"algorithms": ["HS256", "HS384", "HS512"], "hmac_secret_file": str(f)},
                 "scopes": {"stats": STATS_SCOPE}},
        "endpoints": [endpoint(upstream.url("/api"), name="orders", auth_type="jwt")]})
    token = jwt.encode(claims(), secret, algorithm=alg)
    assert gw.get(STATS, headers=bearer(token)).status == 200
    assert_forwarded_unchanged(gw, upstream, token)
    # the same claims under another secret are refused
    wrong = jwt.encode(claims(), secrets.token_hex(32), algorithm=alg)
    r = gw.get(STATS, headers=bearer(wrong))
    assert r.status == 401 and r.header("www-authenticate") == CHALLENGE_INVALID, r


def jwk(key, kid, alg=None) -> dict:
    pub = key.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        d = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(pub))
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        # built by hand: RFC 7518 6.2.1.2 wants x and y at the curve's full length,
        # and some PyJWT versions drop leading zero bytes (one key in 128 for P-256)
        size = (pub.curve.key_size + 7) // 8
        nums = pub.public_numbers()
        crv = {256: "P-256", 384: "P-384", 521: "P-521"}[pub.curve.key_size]
        d = {"kty": "EC", "crv": crv,
             "x": b64(nums.x.to_bytes(size, "big")), "y": b64(nums.y.to_bytes(size, "big"))}
    else:
        d = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(pub))
    d.update({"kid": kid, "use": "sig"})
    if alg:
        d["alg"] = alg
    return d


def test_jwks_file_selects_the_key_by_kid(start_gateway, upstream, keys, tmp_path):
    f = tmp_path / "jwks.json"
    f.write_text(json.dumps({"keys": [
        jwk(keys["rsa"], "rsa-1", "RS256"),
        jwk(keys["rsa2"], "rsa-2"),              # no alg: any RSA algorithm
        jwk(keys["p256"], "ec-1"),
        jwk(keys["ed25519"], "ed-1"),
        jwk(keys["ed25519b"], "ed-2"),
    ]}))
    gw = start_gateway({
        "auth": {"jwt": {"algorithms": ["RS256", "PS384", "ES256", "EdDSA"], "jwks_file": str(f)},
                 "scopes": {"stats": STATS_SCOPE}},
        "endpoints": [endpoint(upstream.url("/api"), name="orders", auth_type="jwt")]})

    def status(alg, key, kid):
        headers = {"kid": kid} if kid is not None else None
        token = mint(keys, alg, key=key, headers=headers)
        r = gw.get(STATS, headers=bearer(token))
        if r.status == 401:
            assert r.header("www-authenticate") == CHALLENGE_INVALID, r
        return r.status

    # the kid picks the key, among several of the same type
    assert status("RS256", "rsa", "rsa-1") == 200
    assert status("RS256", "rsa2", "rsa-2") == 200
    assert status("PS384", "rsa2", "rsa-2") == 200
    assert status("EdDSA", "ed25519", "ed-1") == 200
    assert status("EdDSA", "ed25519b", "ed-2") == 200
    assert status("ES256", "p256", "ec-1") == 200
    # the right key under another kid does not verify
    assert status("RS256", "rsa2", "rsa-1") == 401
    assert status("EdDSA", "ed25519", "ed-2") == 401
    # unknown kid
    assert status("RS256", "rsa", "nope") == 401
    # rsa-1 is bound to RS256 by its "alg"
    assert status("PS384", "rsa", "rsa-1") == 401
    # no kid: accepted only when exactly one key fits the algorithm
    assert status("ES256", "p256", None) == 200
    assert status("EdDSA", "ed25519", None) == 401
    token = mint(keys, "ES256", key="p256", headers={"kid": "ec-1"})
    assert_forwarded_unchanged(gw, upstream, token)


# ---- 2. RFC 6750 answers -------------------------------------------------------------

ISSUER = "https://id.gatehouse.test"
AUDIENCE = "gatehouse"


def strict_gateway(start_gateway, tmp_path, keys, up):
    """algorithms [RS256, HS256], issuer and audience configured."""
    return all_keys_gateway(start_gateway, tmp_path, keys, up, algorithms=["RS256", "HS256"],
                            issuer=ISSUER, audience=AUDIENCE)


def good_claims(**kw):
    c = {"iss": ISSUER, "aud": AUDIENCE}
    c.update(kw)
    return c


def invalid_tokens(keys) -> dict:
    """name -> a token that must be refused as invalid_token (scopes all present)."""
    scope = f"{STATS_SCOPE} orders:read"
    ok = mint(keys, "RS256", scope=scope, **good_claims())
    h, p, s = ok.split(".")
    # flip one bit in the middle of the signature (not in the last character, whose
    # low bits are unused padding)
    raw = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    raw[len(raw) // 2] ^= 0x01
    tampered_sig = f"{h}.{p}.{b64(bytes(raw))}"
    payload_ok = claims(scope, **good_claims())
    rsa_pub_pem = pem_public(keys["rsa"])
    now = int(time.time())
    return {
        "garbage": "not-a-jwt",
        "bad_signature": tampered_sig,
        "other_rsa_key": mint(keys, "RS256", scope=scope, key="rsa2", **good_claims()),
        "other_hmac_secret": jwt.encode(payload_ok, secrets.token_urlsafe(48), algorithm="HS256"),
        "payload_swapped": f"{h}.{b64(dict(payload_ok, sub='admin'))}.{s}",
        "expired": mint(keys, "RS256", scope=scope, **good_claims(
            iat=now - 7200, exp=now - 3600)),
        "no_exp": mint(keys, "RS256", scope=scope, **good_claims(exp=None)),
        "not_yet_valid": mint(keys, "RS256", scope=scope, **good_claims(nbf=now + 3600)),
        "wrong_aud": mint(keys, "RS256", scope=scope, **good_claims(aud="someone-else")),
        "missing_aud": mint(keys, "RS256", scope=scope, **good_claims(aud=None)),
        "wrong_iss": mint(keys, "RS256", scope=scope, **good_claims(iss="https://evil.test")),
        "missing_iss": mint(keys, "RS256", scope=scope, **good_claims(iss=None)),
        "alg_none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(payload_ok)}.",
        "alg_none_with_sig": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(payload_ok)}.{s}",
        "alg_NoNe": f"{b64({'alg': 'NoNe', 'typ': 'JWT'})}.{b64(payload_ok)}.",
        # a valid signature by a configured key, but an algorithm not in the allow-list
        "alg_not_allowed_PS256": mint(keys, "PS256", scope=scope, **good_claims()),
        "alg_not_allowed_RS512": mint(keys, "RS512", scope=scope, **good_claims()),
        "alg_not_allowed_ES256": mint(keys, "ES256", scope=scope, **good_claims()),
        # RS256 -> HS256 confusion: the RSA public key PEM used as the HMAC secret
        "hs256_with_public_key": _hmac_token(rsa_pub_pem, payload_ok),
        "stripped_signature": f"{h}.{p}.",
    }


def _hmac_token(secret: bytes, payload: dict) -> str:
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(payload)}"
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


REASON_WORDS = ("signature", "expired", "expiry", "audience", "issuer", "algorithm",
                "alg", "none", "kid", "exp", "nbf", "aud", "iss")


def assert_invalid_token(r, what):
    assert r.status == 401, (what, r)
    assert r.headers_all("www-authenticate") == [CHALLENGE_INVALID], (what, r.headers)
    doc = assert_problem(r, 401, "unauthorized")
    text = json.dumps({k: v for k, v in doc.items() if k != "request_id"}).lower()
    for word in REASON_WORDS:
        assert not re.search(rf"\b{word}\b", text), (what, word, doc)
    return doc


def test_missing_token_is_401_with_bare_challenge(start_gateway, upstream, keys, tmp_path):
    gw = strict_gateway(start_gateway, tmp_path, keys, upstream)
    for target in (STATS, "/orders/item/1"):
        r = gw.get(target)
        assert r.status == 401, r
        assert r.headers_all("www-authenticate") == [CHALLENGE_MISSING], r.headers
        assert_problem(r, 401, "unauthorized")
    assert upstream.snapshot() == []


def test_invalid_tokens_are_401_invalid_token_without_a_reason(start_gateway, upstream, keys, tmp_path):
    gw = strict_gateway(start_gateway, tmp_path, keys, upstream)
    # the baseline is accepted: every failure below is due to the one thing changed
    good = mint(keys, "RS256", scope=f"{STATS_SCOPE} orders:read", **good_claims())
    assert gw.get(STATS, headers=bearer(good)).status == 200
    good_hs = jwt.encode(claims(f"{STATS_SCOPE} orders:read", **good_claims()), keys["hmac"],
                         algorithm="HS256")
    assert gw.get(STATS, headers=bearer(good_hs)).status == 200

    details = {}
    failures = []
    for name, token in invalid_tokens(keys).items():
        for target in (STATS, "/orders/item/1"):
            r = gw.get(target, headers=bearer(token))
            try:
                details[(name, target)] = assert_invalid_token(r, name)["detail"]
            except AssertionError as e:
                failures.append(f"{name} on {target}: {e}")
    assert not failures, "\n".join(failures)
    # one and the same answer whatever the reason
    assert len(set(details.values())) == 1, details
    # nothing reached the upstream
    assert upstream.snapshot() == [], [q.target for q in upstream.snapshot()]


def test_valid_token_without_the_scope_is_403(start_gateway, upstream, keys, tmp_path):
    gw = strict_gateway(start_gateway, tmp_path, keys, upstream)
    cases = {
        "other scope": "orders:read other",
        "prefix of the scope": "gatehouse:stat",
        "scope as a prefix": "gatehouse:statsx",
        "no scope claim": None,
        "empty scope": "",
    }
    for what, scope in cases.items():
        token = mint(keys, "RS256", scope=scope, **good_claims())
        r = gw.get(STATS, headers=bearer(token))
        assert r.status == 403, (what, r)
        assert r.headers_all("www-authenticate") == [challenge_scope(STATS_SCOPE)], (what, r.headers)
        assert_problem(r, 403, "forbidden")
    # the scope claim may be an array, and the scope anywhere in a space-separated list
    for scope in ([STATS_SCOPE], ["a", STATS_SCOPE], f"a {STATS_SCOPE} b"):
        token = mint(keys, "RS256", scope=scope, **good_claims())
        assert gw.get(STATS, headers=bearer(token)).status == 200, scope


def test_jwt_endpoint_scope_403_and_nothing_forwarded(start_gateway, upstream, keys, tmp_path):
    gw = strict_gateway(start_gateway, tmp_path, keys, upstream)
    for scope in (STATS_SCOPE, "orders:write", "orders:readx", None):
        token = mint(keys, "RS256", scope=scope, **good_claims())
        r = gw.get("/orders/item/1", headers=bearer(token))
        assert r.status == 403, (scope, r)
        assert r.headers_all("www-authenticate") == [challenge_scope("orders:read")], r.headers
        assert_problem(r, 403, "forbidden")
    # with a body too: refused before anything is sent upstream
    token = mint(keys, "RS256", scope="orders:write", **good_claims())
    r = gw.request("POST", "/orders/item/1", headers=bearer(token), body=b'{"x": 1}')
    assert r.status == 403, r
    assert upstream.snapshot() == [], [q.target for q in upstream.snapshot()]
    # the endpoint's scope is enough there; the stats scope is not needed
    token = mint(keys, "RS256", scope="orders:read", **good_claims())
    assert_forwarded_unchanged(gw, upstream, token)
    assert len(upstream.snapshot()) == 1


def test_plain_endpoint_forwards_any_credentials_untouched(start_gateway, upstream, keys, tmp_path):
    gw = strict_gateway(start_gateway, tmp_path, keys, upstream)
    for auth in ("Bearer not-a-jwt", "Basic dXNlcjpwYXNz",
                 "Bearer " + invalid_tokens(keys)["expired"]):
        before = len(upstream.snapshot())
        r = gw.get("/plain/x", headers={"Authorization": auth})
        assert r.status == 200, (auth, r)
        reqs = upstream.snapshot()
        assert len(reqs) == before + 1
        assert reqs[-1].headers_all("authorization") == [auth], reqs[-1].headers


# ---- 3. no auth.jwt: the API is hidden unless --insecure-admin ------------------------

def no_auth_config(up):
    return {"endpoints": [endpoint(up.url("/api"), name="a")]}


def test_without_auth_jwt_the_api_is_404(start_gateway, upstream):
    gw = start_gateway(no_auth_config(upstream))
    for target in (STATS, f"{STATS}/a", f"{STATS}?status=enabled"):
        assert_problem(gw.get(target), 404, "no_route")
        assert_problem(gw.get(target, headers=bearer("x.y.z")), 404, "no_route")
    assert_problem(gw.request("POST", "/endpoints/reload"), 404, "no_route")
    assert not re.search(r"insecure", gw.log_text(), re.I), gw.log_text()


def test_insecure_admin_serves_the_api_without_a_token(start_gateway, upstream):
    gw = start_gateway(no_auth_config(upstream), args=["--insecure-admin"])
    r = gw.get(STATS)
    assert r.status == 200, r
    assert r.header("www-authenticate") is None, r.headers
    assert [e["id"] for e in r.json()["endpoints"]] == ["a"]
    assert gw.get(f"{STATS}/a").json()["id"] == "a"
    # logged loudly at start: a warning (or worse) that names the flag (the log is
    # written by its own thread: waited for, not read once)
    text = gw.wait_log(lambda t: "insecure-admin" in t.lower())
    lines = [l for l in text.splitlines() if "insecure-admin" in l.lower()]
    assert lines, gw.log_text()
    assert any(re.search(r"\b(warn|warning|error|critical)\b", l, re.I) for l in lines), lines
