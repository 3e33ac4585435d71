"""SPEC section 1: `gatehouse token` mints JWTs that PyJWT and the gateway accept."""

from __future__ import annotations

import re
import secrets
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gh_gateway import endpoint, run_cli

SECRET_ENV = "GH_TEST_TOKEN_SECRET"
TOKEN_LINE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n?$")


def out(p):
    return f"rc={p.returncode}\nstdout={p.stdout!r}\nstderr={p.stderr!r}"


def token_of(p) -> str:
    assert p.returncode == 0, out(p)
    assert TOKEN_LINE.match(p.stdout), f"stdout must be only the token: {out(p)}"
    return p.stdout.strip()


def write_private(tmp_path, name, key, fmt=serialization.PrivateFormat.PKCS8):
    f = tmp_path / f"{name}.pem"
    f.write_bytes(key.private_bytes(serialization.Encoding.PEM, fmt,
                                    serialization.NoEncryption()))
    return f


def write_public(tmp_path, name, key):
    f = tmp_path / f"{name}.pub.pem"
    f.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return f


@pytest.fixture(scope="module")
def secret():
    return secrets.token_urlsafe(48)


@pytest.mark.parametrize("alg", [None, "HS256", "HS384", "HS512"])
def test_secret_env_token_verifies_with_pyjwt(secret, alg):
    args = ["token", "--secret-env", SECRET_ENV, "--sub", "ops", "--scope", "gatehouse:stats a:b",
            "--aud", "gatehouse", "--iss", "https://id.test", "--ttl", "10m"]
    if alg:
        args += ["--alg", alg]
    before = int(time.time())
    tok = token_of(run_cli(args, env={SECRET_ENV: secret}))
    header = jwt.get_unverified_header(tok)
    assert header["alg"] == (alg or "HS256"), header
    c = jwt.decode(tok, secret, algorithms=[alg or "HS256"], audience="gatehouse",
                   issuer="https://id.test")
    assert c["sub"] == "ops" and c["scope"] == "gatehouse:stats a:b", c
    assert before - 5 <= c["iat"] <= time.time() + 5, c
    assert c["exp"] - c["iat"] == 600, c


def test_secret_env_token_works_against_the_gateway(secret, start_gateway, upstream):
    gw = start_gateway({
        "auth": {"jwt": {"algorithms": ["HS256"], "hmac_secret_env": SECRET_ENV,
                         "issuer": "https://id.test", "audience": "gatehouse"},
                 "scopes": {"stats": "gatehouse:stats"}},
        "endpoints": [endpoint(upstream.url("/api"), name="orders", auth_type="jwt",
                               scopes=["orders:read"])]}, env={SECRET_ENV: secret})
    tok = token_of(run_cli(["token", "--secret-env", SECRET_ENV, "--scope",
                            "gatehouse:stats orders:read", "--aud", "gatehouse",
                            "--iss", "https://id.test"], env={SECRET_ENV: secret}))
    r = gw.get("/endpoints/stats", headers={"Authorization": f"Bearer {tok}"})
    assert r.status == 200, r
    assert [e["id"] for e in r.json()["endpoints"]] == ["orders"]
    r = gw.get("/orders/1", headers={"Authorization": f"Bearer {tok}"})
    assert r.status == 200, r
    assert upstream.snapshot()[-1].headers_all("authorization") == [f"Bearer {tok}"]
    # a token without the scope gets 403
    tok = token_of(run_cli(["token", "--secret-env", SECRET_ENV, "--scope", "other",
                            "--aud", "gatehouse", "--iss", "https://id.test"],
                           env={SECRET_ENV: secret}))
    assert gw.get("/endpoints/stats", headers={"Authorization": f"Bearer {tok}"}).status == 403


KEYS = {
    "rsa": (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
    "p256": (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256"),
    "p384": (lambda: ec.generate_private_key(ec.SECP384R1()), "ES384"),
    "p521": (lambda: ec.generate_private_key(ec.SECP521R1()), "ES512"),
    "ed25519": (ed25519.Ed25519PrivateKey.generate, "EdDSA"),
}


@pytest.mark.parametrize("kind", list(KEYS))
def test_key_file_infers_the_algorithm(kind, tmp_path):
    make, alg = KEYS[kind]
    key = make()
    f = write_private(tmp_path, kind, key)
    tok = token_of(run_cli(["token", "--key-file", str(f), "--kid", f"{kind}-1", "--sub", "svc",
                            "--scope", "x:y", "--aud", "gatehouse", "--ttl", "1h"]))
    header = jwt.get_unverified_header(tok)
    assert header["alg"] == alg, header
    assert header.get("kid") == f"{kind}-1", header
    c = jwt.decode(tok, key.public_key(), algorithms=[alg], audience="gatehouse")
    assert (c["sub"], c["scope"], c["exp"] - c["iat"]) == ("svc", "x:y", 3600), c


@pytest.mark.parametrize("kind,fmt", [("rsa", "traditional"), ("p256", "traditional")])
def test_key_file_traditional_openssl_pem(kind, fmt, tmp_path):
    """`BEGIN RSA PRIVATE KEY` / `BEGIN EC PRIVATE KEY` files are private key PEMs too."""
    make, alg = KEYS[kind]
    key = make()
    f = write_private(tmp_path, kind, key, serialization.PrivateFormat.TraditionalOpenSSL)
    tok = token_of(run_cli(["token", "--key-file", str(f)]))
    assert jwt.get_unverified_header(tok)["alg"] == alg
    jwt.decode(tok, key.public_key(), algorithms=[alg])


def test_key_file_with_explicit_alg(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    f = write_private(tmp_path, "rsa", key)
    for alg in ("RS512", "PS256"):
        tok = token_of(run_cli(["token", "--key-file", str(f), "--alg", alg]))
        assert jwt.get_unverified_header(tok)["alg"] == alg
        jwt.decode(tok, key.public_key(), algorithms=[alg])


def test_key_file_token_works_against_the_gateway(tmp_path, start_gateway, upstream):
    key = ec.generate_private_key(ec.SECP256R1())
    priv = write_private(tmp_path, "p256", key)
    pub = write_public(tmp_path, "p256", key)
    gw = start_gateway({
        "auth": {"jwt": {"algorithms": ["ES256"], "public_key_file": str(pub)},
                 "scopes": {"stats": "gatehouse:stats"}},
        "endpoints": [endpoint(upstream.url("/api"), name="a")]})
    tok = token_of(run_cli(["token", "--key-file", str(priv), "--scope", "gatehouse:stats"]))
    r = gw.get("/endpoints/stats", headers={"Authorization": f"Bearer {tok}"})
    assert r.status == 200, r


def test_unset_secret_env_is_exit_1_with_a_message():
    p = run_cli(["token", "--secret-env", "GH_TEST_SURELY_UNSET_VAR"])
    assert p.returncode == 1, out(p)
    assert p.stdout == "", out(p)
    assert "GH_TEST_SURELY_UNSET_VAR" in p.stderr, out(p)


def test_short_secret_is_refused(secret):
    p = run_cli(["token", "--secret-env", SECRET_ENV], env={SECRET_ENV: "too-short"})
    assert p.returncode != 0, out(p)
    assert p.stdout == "", out(p)
    assert p.stderr.strip(), out(p)


def test_unreadable_key_file_is_exit_1(tmp_path):
    p = run_cli(["token", "--key-file", str(tmp_path / "missing.pem")])
    assert p.returncode == 1, out(p)
    assert p.stdout == "" and "missing.pem" in p.stderr, out(p)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    p = run_cli(["token", "--key-file", str(garbage)])
    assert p.returncode == 1, out(p)
    assert p.stdout == "" and p.stderr.strip(), out(p)


def test_neither_or_both_key_sources_is_usage_error(secret, tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    f = write_private(tmp_path, "ed", key)
    p = run_cli(["token"], env={SECRET_ENV: secret})
    assert p.returncode == 2, out(p)
    assert p.stdout == "", out(p)
    p = run_cli(["token", "--scope", "a"], env={SECRET_ENV: secret})
    assert p.returncode == 2, out(p)
    p = run_cli(["token", "--secret-env", SECRET_ENV, "--key-file", str(f)],
                env={SECRET_ENV: secret})
    assert p.returncode == 2, out(p)
    assert p.stdout == "", out(p)
