// Every algorithm through `gatehouse token`'s minting and back through the verifier,
// plus PS256 against an independently made signature, and JWKS key binding.
#include <gtest/gtest.h>
#include <openssl/rsa.h>

#include "auth/base64url.hpp"
#include "auth/mint.hpp"
#include "auth/strict_json.hpp"
#include "test_support.hpp"

namespace gatehouse::auth {
namespace {

using namespace testing;

struct Case {
  const char* alg;
  const char* key;  // test_key name; "" = HMAC secret
};

class RoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(RoundTrip, MintThenVerify) {
  const Case c = GetParam();
  TempDir dir;
  MintOptions mint;
  mint.alg = c.alg;
  mint.sub = "alice";
  mint.scope = "gatehouse:stats gatehouse:admin";
  mint.aud = "gatehouse";
  mint.iss = "https://id.example.com";
  mint.kid = "";
  mint.ttl = std::chrono::seconds(300);
  mint.now = TestClock(kNow).system_now();

  auto jwt = jwt_config({c.alg});
  jwt.audience = "gatehouse";
  jwt.issuer = "https://id.example.com";
  if (*c.key) {
    EVP_PKEY* key = test_key(c.key);
    mint.key_file = dir.write("private.pem", private_pem(key));
    jwt.public_key_file = dir.write("public.pem", public_pem(key));
  } else {
    mint.hmac_secret = kSecret;
  }
  std::string token, error;
  ASSERT_TRUE(mint_token(mint, token, error)) << error;

  auto h = make_verifier(jwt);
  ASSERT_TRUE(h.verifier) << h.error;
  const auto r = h.verifier->verify(token);
  ASSERT_TRUE(r.ok()) << to_string(r.error) << ": " << r.reason;
  EXPECT_EQ(r.token->alg, c.alg);
  EXPECT_EQ(r.token->subject, "alice");
  EXPECT_EQ(r.token->scopes, (std::vector<std::string>{"gatehouse:stats", "gatehouse:admin"}));
  EXPECT_EQ(r.token->exp, kNow + 300);

  // Flipping one signature bit must break it (the check is not a no-op).
  auto sig = *base64url_decode(token.substr(token.rfind('.') + 1));
  sig[sig.size() / 2] ^= 0x01;
  const auto bad = token.substr(0, token.rfind('.') + 1) + base64url_encode(sig);
  EXPECT_EQ(h.verifier->verify(bad).error, VerifyError::signature_mismatch);

  h.clock->set(kNow + 300 + 30);
  EXPECT_EQ(h.verifier->verify(token).error, VerifyError::expired);
}

INSTANTIATE_TEST_SUITE_P(
    EveryAlgorithm, RoundTrip,
    ::testing::Values(Case{"HS256", ""}, Case{"HS384", ""}, Case{"HS512", ""},
                      Case{"RS256", "rsa"}, Case{"RS384", "rsa"}, Case{"RS512", "rsa"},
                      Case{"PS256", "rsa"}, Case{"PS384", "rsa"}, Case{"PS512", "rsa"},
                      Case{"ES256", "ec256"}, Case{"ES384", "ec384"}, Case{"ES512", "ec521"},
                      Case{"EdDSA", "ed25519"}),
    [](const auto& info) { return std::string(info.param.alg); });

// Signs with PSS directly through EVP (not through auth/), with a chosen salt length.
std::string pss_token(EVP_PKEY* key, int salt_len) {
  const auto input = signing_input(header_json("PS256"), claims_json());
  detail::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key);
  EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len);
  std::size_t len = 0;
  EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(len);
  return input + "." + base64url_encode(sig);
}

TEST(Ps256, VerifiesAnIndependentSignatureWithDigestLengthSalt) {
  TempDir dir;
  EVP_PKEY* rsa = test_key("rsa");
  auto jwt = jwt_config({"PS256", "RS256"});
  jwt.public_key_file = dir.write("public.pem", public_pem(rsa));
  auto h = make_verifier(jwt);
  ASSERT_TRUE(h.verifier) << h.error;
  EXPECT_EQ(h.verifier->verify(pss_token(rsa, 32)).error, VerifyError::ok);
  // RFC 7518 3.5: the salt is as long as the hash. Other lengths are not PS256.
  EXPECT_EQ(h.verifier->verify(pss_token(rsa, 0)).error, VerifyError::signature_mismatch);
  // A PKCS#1 v1.5 signature under a PS256 header is not accepted either.
  const auto input = signing_input(header_json("PS256"), claims_json());
  const auto rs = make_token(header_json("RS256"), claims_json(), "RS256", rsa);
  EXPECT_EQ(h.verifier->verify(input + rs.substr(rs.rfind('.'))).error, VerifyError::signature_mismatch);
}

TEST(Jwks, KeysAreBoundToTheirTypeAndAlg) {
  TempDir dir;
  EVP_PKEY* rsa = test_key("rsa");
  EVP_PKEY* ec = test_key("ec256");
  EVP_PKEY* ed = test_key("ed25519");
  auto jwt = jwt_config({"RS256", "PS256", "ES256", "EdDSA"});
  jwt.jwks_file = dir.write("jwks.json", "{\"keys\":[" + public_jwk(rsa, "r1", "RS256") + "," +
                                             public_jwk(ec, "e1") + "," + public_jwk(ed, "d1") + "," +
                                             "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}");
  auto h = make_verifier(jwt);
  ASSERT_TRUE(h.verifier) << h.error;
  EXPECT_EQ(h.verifier->keys().keys().size(), 3u);  // the "enc" key is skipped

  auto v = [&](const char* alg, const char* kid, EVP_PKEY* key) {
    return h.verifier->verify(make_token(header_json(alg, std::string("\"kid\":\"") + kid + "\""),
                                         claims_json(), alg, key)).error;
  };
  EXPECT_EQ(v("RS256", "r1", rsa), VerifyError::ok);
  EXPECT_EQ(v("PS256", "r1", rsa), VerifyError::key_alg_mismatch);  // its "alg" says RS256
  EXPECT_EQ(v("ES256", "e1", ec), VerifyError::ok);
  EXPECT_EQ(v("EdDSA", "d1", ed), VerifyError::ok);
  EXPECT_EQ(v("ES256", "d1", ec), VerifyError::key_alg_mismatch);   // Ed25519 key, ES256 token
  EXPECT_EQ(v("RS256", "e1", rsa), VerifyError::key_alg_mismatch);  // EC key, RS256 token
  // Without kid, the one key of the right type is used.
  EXPECT_EQ(h.verifier->verify(make_token(header_json("EdDSA"), claims_json(), "EdDSA", ed)).error,
            VerifyError::ok);
}

TEST(Jwks, LoadErrors) {
  EVP_PKEY* rsa = test_key("rsa");
  EVP_PKEY* ec = test_key("ec256");
  auto load = [](const std::string& keys) {
    KeySet set;
    std::string error;
    const bool ok = set.add_jwks("{\"keys\":[" + keys + "]}", error);
    return ok ? std::string("ok") : error;
  };
  EXPECT_EQ(load(public_jwk(rsa, "a") + "," + public_jwk(ec, "b")), "ok");
  EXPECT_NE(load(public_jwk(ec, "e", "ES384")).find("does not fit"), std::string::npos);
  EXPECT_NE(load(public_jwk(rsa, "e", "HS256")).find("does not fit"), std::string::npos);
  EXPECT_NE(load(public_jwk(rsa, "a") + "," + public_jwk(ec, "a")).find("duplicate \"kid\""), std::string::npos);
  EXPECT_NE(load("{\"kty\":\"EC\",\"kty\":\"RSA\"}").find("duplicate JSON member"), std::string::npos);
  EXPECT_NE(load("{\"kty\":\"oct\",\"k\":\"AAAA\"}").find("oct"), std::string::npos);
  EXPECT_NE(load("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\",\"d\":\"AA\"}").find("private"),
            std::string::npos);
  // A P-256 point that is not on the curve.
  const std::string x(32, '\x01'), y(32, '\x02');
  EXPECT_NE(load("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" + base64url_encode(x) + "\",\"y\":\"" +
                 base64url_encode(y) + "\"}").find("not a valid public key"),
            std::string::npos);
  // RSA under 2048 bits.
  const std::string n1024 = "\xc1" + std::string(127, '\x55');
  EXPECT_NE(load("{\"kty\":\"RSA\",\"n\":\"" + base64url_encode(n1024) + "\",\"e\":\"AQAB\"}").find("too small"),
            std::string::npos);
}

TEST(Pem, PrivateKeysAndEmptyFilesAreRefused) {
  KeySet set;
  std::string error;
  EXPECT_FALSE(set.add_pem(private_pem(test_key("ec256")), error));
  EXPECT_NE(error.find("private key"), std::string::npos);
  EXPECT_FALSE(set.add_pem("not a key", error));
  EXPECT_TRUE(set.add_pem(public_pem(test_key("rsa")) + public_pem(test_key("ed25519")), error)) << error;
  EXPECT_EQ(set.keys().size(), 2u);
}

std::string header_of(const std::string& token) {
  return *base64url_decode(token.substr(0, token.find('.')));
}
std::string claims_of(const std::string& token) {
  const auto d1 = token.find('.');
  return *base64url_decode(token.substr(d1 + 1, token.rfind('.') - d1 - 1));
}

TEST(Mint, InfersTheAlgorithmFromTheKey) {
  for (const auto& [key, alg] : std::vector<std::pair<std::string, std::string>>{
           {"rsa", "RS256"}, {"ec256", "ES256"}, {"ec384", "ES384"}, {"ec521", "ES512"},
           {"ed25519", "EdDSA"}}) {
    MintOptions o;
    o.key_pem = private_pem(test_key(key));
    o.kid = "k-" + key;
    std::string token, error;
    ASSERT_TRUE(mint_token(o, token, error)) << key << ": " << error;
    EXPECT_EQ(header_of(token), "{\"alg\":\"" + alg + "\",\"typ\":\"JWT\",\"kid\":\"k-" + key + "\"}");
  }
}

TEST(Mint, Claims) {
  MintOptions o;
  o.hmac_secret = kSecret;
  o.alg = "HS384";
  o.sub = "svc";
  o.scope = "a b";
  o.aud = "gatehouse";
  o.iss = "me";
  o.ttl = std::chrono::seconds(3600);
  o.now = TestClock(kNow).system_now();
  std::string token, error;
  ASSERT_TRUE(mint_token(o, token, error)) << error;
  EXPECT_EQ(header_of(token), "{\"alg\":\"HS384\",\"typ\":\"JWT\"}");
  EXPECT_EQ(claims_of(token), "{\"iss\":\"me\",\"sub\":\"svc\",\"aud\":\"gatehouse\",\"scope\":\"a b\",\"iat\":" +
                                  std::to_string(kNow) + ",\"exp\":" + std::to_string(kNow + 3600) + "}");
}

TEST(Mint, Errors) {
  std::string token, error;
  MintOptions o;
  EXPECT_FALSE(mint_token(o, token, error));  // neither secret nor key
  o.hmac_secret = "short";
  EXPECT_FALSE(mint_token(o, token, error));
  EXPECT_NE(error.find("32 bytes"), std::string::npos);
  o.hmac_secret = kSecret;
  o.alg = "RS256";
  EXPECT_FALSE(mint_token(o, token, error));
  o.alg = "none";
  EXPECT_FALSE(mint_token(o, token, error));
  MintOptions k;
  k.key_pem = private_pem(test_key("rsa"));
  k.alg = "ES256";
  EXPECT_FALSE(mint_token(k, token, error));
  EXPECT_NE(error.find("does not fit"), std::string::npos);
  k.alg = "HS256";
  EXPECT_FALSE(mint_token(k, token, error));
  k.alg = "";
  k.key_pem = public_pem(test_key("rsa"));
  EXPECT_FALSE(mint_token(k, token, error));
  k.key_pem.clear();
  k.key_file = "/nonexistent/key.pem";
  EXPECT_FALSE(mint_token(k, token, error));
  EXPECT_NE(error.find("cannot be read"), std::string::npos);
}

}  // namespace
}  // namespace gatehouse::auth
