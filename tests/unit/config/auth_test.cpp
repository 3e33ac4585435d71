// auth.jwt: the algorithm allow-list, HMAC secrets, public keys (PEM and JWKS), and
// auth.scopes.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.hpp"

namespace gatehouse::config {
namespace {

using namespace std::chrono_literals;
using testing::has_error;
using testing::load;
using testing::ok;
using testing::only_error;
using testing::ScopedEnv;
using testing::TempDir;

constexpr const char* kEnv = "GATEHOUSE_UNIT_SECRET";
const std::string kSecret32(32, 's');

// auth.jwt with `algorithms` on line 3 (value at column 17), then `extra` from line 4 on.
LoadResult jwt(const std::string& algorithms, const std::string& extra = "") {
  return load("auth:\n  jwt:\n    algorithms: " + algorithms + "\n" + extra);
}

TEST(Algorithms, Required) {
  EXPECT_TRUE(only_error(load("auth:\n  jwt:\n    issuer: x\n"), "auth.jwt.algorithms", 3, 5,
                         "is required"));
}

TEST(Algorithms, NotEmpty) {
  EXPECT_TRUE(only_error(jwt("[]"), "auth.jwt.algorithms", 3, 17, "at least one algorithm"));
}

TEST(Algorithms, NoneIsNeverAccepted) {
  for (const char* none : {"none", "None", "NONE"}) {
    std::string expected = "\"";
    expected += none;
    expected += "\": is never accepted";
    EXPECT_TRUE(only_error(jwt(std::string("[") + none + "]"), "auth.jwt.algorithms[0]", 3, 18,
                           expected))
        << none;
  }
}

TEST(Algorithms, UnknownWithHint) {
  ScopedEnv env(kEnv, kSecret32.c_str());
  const LoadResult r = jwt("[HS256, rs256, XYZ999]", "    hmac_secret_env: GATEHOUSE_UNIT_SECRET\n");
  ASSERT_EQ(r.errors.size(), 2u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "auth.jwt.algorithms[1]", 3, 25,
                        "\"rs256\": unsupported algorithm; did you mean \"RS256\"?"));
  EXPECT_TRUE(has_error(r, "auth.jwt.algorithms[2]", 3, 32,
                        "\"XYZ999\": unsupported algorithm; expected one of HS256"));
}

TEST(HmacSecret, FromEnvironment) {
  ScopedEnv env(kEnv, kSecret32.c_str());
  const LoadResult r = jwt("[HS256, HS256]", "    hmac_secret_env: GATEHOUSE_UNIT_SECRET\n");
  ASSERT_TRUE(ok(r));
  const Jwt& j = *r.config->auth.jwt;
  EXPECT_EQ(j.algorithms, (std::vector<std::string>{"HS256"}));  // duplicates dropped
  EXPECT_EQ(j.hmac_secret, kSecret32);
  EXPECT_EQ(j.hmac_secret_env, kEnv);
  EXPECT_EQ(j.leeway, 30s);
  EXPECT_EQ(j.scope_claim, "scope");
}

TEST(HmacSecret, UnsetEnvironmentVariable) {
  ScopedEnv env(kEnv, nullptr);
  EXPECT_TRUE(only_error(jwt("[HS256]", "    hmac_secret_env: GATEHOUSE_UNIT_SECRET\n"),
                         "auth.jwt.hmac_secret_env", 4, 22,
                         "\"GATEHOUSE_UNIT_SECRET\": environment variable is not set"));
}

TEST(HmacSecret, AtLeast32Bytes) {
  const std::string short_secret(31, 's');
  ScopedEnv env(kEnv, short_secret.c_str());
  EXPECT_TRUE(only_error(jwt("[HS384]", "    hmac_secret_env: GATEHOUSE_UNIT_SECRET\n"),
                         "auth.jwt.hmac_secret_env", 4, 22,
                         "the HMAC secret is 31 bytes; HS384 needs at least 32"));
}

TEST(HmacSecret, HsWithoutAnySecret) {
  EXPECT_TRUE(only_error(jwt("[RS256, HS512]", "    public_key_file: ../keys/rsa2048.pub.pem\n"),
                         "auth.jwt.algorithms[1]", 3, 25,
                         "HS512 needs an HMAC secret: set hmac_secret_env or hmac_secret_file"));
}

TEST(HmacSecret, FromFileRelativeToTheConfigWithTrailingNewlineDropped) {
  TempDir dir;
  dir.write("secrets/jwt", kSecret32 + "\n");
  const std::string config_path = dir.write(
      "gw.yaml",
      "auth:\n  jwt:\n    algorithms: [HS256]\n    hmac_secret_file: secrets/jwt\n");
  const LoadResult r = load_from_file(config_path);
  ASSERT_TRUE(ok(r));
  const Jwt& j = *r.config->auth.jwt;
  EXPECT_EQ(j.hmac_secret, kSecret32);
  EXPECT_EQ(std::filesystem::path(*j.hmac_secret_file),
            std::filesystem::path(dir.path()) / "secrets/jwt");
}

TEST(HmacSecret, FileSecretKeepsInnerBytes) {
  TempDir dir;
  const std::string secret = std::string(20, 'a') + std::string("\n\0 x", 4) + std::string(20, 'b');
  const std::string file = dir.write("s", secret);
  const LoadResult r = jwt("[HS256]", "    hmac_secret_file: " + file + "\n");
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(r.config->auth.jwt->hmac_secret, secret);
  EXPECT_EQ(r.config->auth.jwt->hmac_secret.size(), 44u);
  // Only one trailing line ending is dropped, CRLF included.
  const std::string crlf = dir.write("crlf", secret + "\n\r\n");
  const LoadResult r2 = jwt("[HS256]", "    hmac_secret_file: " + crlf + "\n");
  ASSERT_TRUE(ok(r2));
  EXPECT_EQ(r2.config->auth.jwt->hmac_secret, secret + "\n");
}

TEST(HmacSecret, UnreadableFile) {
  EXPECT_TRUE(only_error(jwt("[HS256]", "    hmac_secret_file: no/such/file\n"),
                         "auth.jwt.hmac_secret_file", 4, 23, "cannot read"));
}

TEST(HmacSecret, EnvAndFileTogether) {
  ScopedEnv env(kEnv, kSecret32.c_str());
  EXPECT_TRUE(only_error(jwt("[HS256]",
                             "    hmac_secret_env: GATEHOUSE_UNIT_SECRET\n"
                             "    hmac_secret_file: ../keys/tls.key\n"),
                         "auth.jwt.hmac_secret_file", 5, 5, "not both"));
}

struct KeyCase {
  const char* file;
  const char* algorithms;
};

TEST(PublicKey, EachAlgorithmWithAKeyOfItsType) {
  for (const KeyCase& c : {KeyCase{"rsa2048.pub.pem", "[RS256, RS384, RS512, PS256, PS384, PS512]"},
                           KeyCase{"ec_p256.pub.pem", "[ES256]"},
                           KeyCase{"ec_p384.pub.pem", "[ES384]"},
                           KeyCase{"ec_p521.pub.pem", "[ES512]"},
                           KeyCase{"ed25519.pub.pem", "[EdDSA]"}}) {
    const LoadResult r =
        jwt(c.algorithms, std::string("    public_key_file: ../keys/") + c.file + "\n");
    EXPECT_TRUE(ok(r)) << c.file;
  }
}

TEST(PublicKey, AlgorithmWithAKeyOfAnotherType) {
  for (const KeyCase& c : {KeyCase{"ec_p256.pub.pem", "[RS256]"},
                           KeyCase{"ec_p256.pub.pem", "[ES384]"},
                           KeyCase{"ec_p384.pub.pem", "[ES512]"},
                           KeyCase{"rsa2048.pub.pem", "[ES256]"},
                           KeyCase{"rsa2048.pub.pem", "[EdDSA]"},
                           KeyCase{"ed25519.pub.pem", "[PS256]"}}) {
    const LoadResult r =
        jwt(c.algorithms, std::string("    public_key_file: ../keys/") + c.file + "\n");
    EXPECT_TRUE(only_error(r, "auth.jwt.algorithms[0]", 3, 18, "and public_key_file has none"))
        << c.file << " " << c.algorithms;
  }
  EXPECT_TRUE(only_error(jwt("[RS256, ES256]", "    public_key_file: ../keys/rsa2048.pub.pem\n"),
                         "auth.jwt.algorithms[1]", 3, 25,
                         "ES256 needs a P-256 EC key, and public_key_file has none"));
}

TEST(PublicKey, AsymmetricAlgorithmWithoutAnyKey) {
  EXPECT_TRUE(only_error(jwt("[RS256]"), "auth.jwt.algorithms[0]", 3, 18,
                         "RS256 needs an RSA key: set public_key_file or jwks_file"));
}

TEST(PublicKey, BadKeyFiles) {
  EXPECT_TRUE(only_error(jwt("[RS256]", "    public_key_file: ../keys/rsa1024.pub.pem\n"),
                         "auth.jwt.public_key_file", 4, 22, "RSA key of 1024 bits is too small"));
  EXPECT_TRUE(only_error(jwt("[EdDSA]", "    public_key_file: ../keys/ed25519.private.pem\n"),
                         "auth.jwt.public_key_file", 4, 22, "holds a private key"));
  EXPECT_TRUE(only_error(jwt("[ES256]", "    public_key_file: ../keys/ca.pem\n"),
                         "auth.jwt.public_key_file", 4, 22, "holds no PEM public key"));
  EXPECT_TRUE(only_error(jwt("[ES256]", "    public_key_file: ../keys/missing.pem\n"),
                         "auth.jwt.public_key_file", 4, 22, "cannot read"));
}

TEST(PublicKey, PemAndJwksTogether) {
  EXPECT_TRUE(only_error(jwt("[RS256]",
                             "    public_key_file: ../keys/rsa2048.pub.pem\n"
                             "    jwks_file: ../keys/jwks.json\n"),
                         "auth.jwt.jwks_file", 5, 5, "not both"));
}

TEST(Jwks, FixtureCoversRsaP256AndEd25519) {
  const LoadResult r =
      jwt("[RS256, PS512, ES256, EdDSA]", "    jwks_file: ../keys/jwks.json\n");
  ASSERT_TRUE(ok(r));
  EXPECT_TRUE(r.config->auth.jwt->jwks_file);
  EXPECT_TRUE(only_error(jwt("[ES384]", "    jwks_file: ../keys/jwks.json\n"),
                         "auth.jwt.algorithms[0]", 3, 18, "and jwks_file has none"));
}

TEST(Jwks, InvalidDocuments) {
  TempDir dir;
  const std::string x32 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";  // 32 zero bytes
  struct Case {
    std::string json;
    const char* fragment;
  };
  const std::vector<Case> cases = {
      {"{not json", "is not valid JSON"},
      {R"({"kys": []})", "must be a JWKS document"},
      {R"({"keys": [{"kty": "oct", "k": "AAAA"}]})", "symmetric keys"},
      {R"({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": ")" + x32 + R"(", "d": "AA"}]})",
       "private key material"},
      {R"({"keys": [{"kty": "OKP", "crv": "Ed448", "x": ")" + x32 + R"("}]})", "only Ed25519"},
      {R"({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]})", "not an Ed25519 public key"},
      {R"({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "!!"}]})", "\"x\" is not base64url"},
      {R"({"keys": [{"kty": "RSA", "e": "AQAB"}]})", "missing \"n\""},
      {R"({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]})", "bits is too small"},
      {R"({"keys": [{"kty": "EC", "crv": "P-192", "x": "AA", "y": "AA"}]})", "unsupported EC"},
      {R"({"keys": [{"kty": "EC", "crv": "P-256", "x": ")" + x32 + R"(", "y": "AA"}]})",
       "do not fit curve P-256"},
      {R"({"keys": [{"crv": "P-256"}]})", "missing \"kty\""},
      {R"({"keys": [{"kty": "DSA"}]})", "unsupported \"kty\""},
      {R"({"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "ES256", "x": ")" + x32 + R"("}]})",
       "does not fit a key of kty OKP"},
      {R"({"keys": [{"kid": "a", "kty": "OKP", "crv": "Ed25519", "x": ")" + x32 +
           R"("}, {"kid": "a", "kty": "OKP", "crv": "Ed25519", "x": ")" + x32 + R"("}]})",
       "keys[1]: duplicate \"kid\" \"a\""},
      {R"({"keys": [7]})", "keys[0]: must be an object"},
  };
  for (const Case& c : cases) {
    const std::string file = dir.write("jwks.json", c.json);
    const LoadResult r = jwt("[EdDSA]", "    jwks_file: " + file + "\n");
    EXPECT_TRUE(only_error(r, "auth.jwt.jwks_file", 4, 16, c.fragment)) << c.json;
  }
}

TEST(Jwks, EncryptionKeysAreIgnoredAndAlgMembersRestrictUse) {
  TempDir dir;
  const std::string x32 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  const std::string enc =
      dir.write("enc.json", R"({"keys": [{"kty": "OKP", "use": "enc", "crv": "Ed25519", "x": ")" +
                                x32 + R"("}]})");
  EXPECT_TRUE(only_error(jwt("[EdDSA]", "    jwks_file: " + enc + "\n"), "auth.jwt.algorithms[0]",
                         3, 18, "EdDSA needs an Ed25519 key, and jwks_file has none"));
  // The fixture's EC key says "alg": "ES256"; the RSA key has no alg and fits RS* and PS*.
  EXPECT_TRUE(ok(jwt("[ES256, PS256]", "    jwks_file: ../keys/jwks.json\n")));
}

TEST(JwtOptions, LeewayIssuerAudienceScopeClaim) {
  const LoadResult r = jwt("[EdDSA]",
                           "    public_key_file: ../keys/ed25519.pub.pem\n"
                           "    leeway: 0s\n    issuer: https://id\n    audience: gw\n"
                           "    scope_claim: scp\n");
  ASSERT_TRUE(ok(r));
  const Jwt& j = *r.config->auth.jwt;
  EXPECT_EQ(j.leeway, 0ms);
  EXPECT_EQ(j.issuer, "https://id");
  EXPECT_EQ(j.audience, "gw");
  EXPECT_EQ(j.scope_claim, "scp");

  const LoadResult bad = jwt("[EdDSA]",
                             "    public_key_file: ../keys/ed25519.pub.pem\n"
                             "    leeway: 30\n    issuer: \"\"\n    scope_claim: \"\"\n");
  ASSERT_EQ(bad.errors.size(), 3u) << testing::dump(bad);
  EXPECT_TRUE(has_error(bad, "auth.jwt.leeway", 5, 13, "must be a duration"));
  EXPECT_TRUE(has_error(bad, "auth.jwt.issuer", 6, 13, "must not be empty"));
  EXPECT_TRUE(has_error(bad, "auth.jwt.scope_claim", 7, 18, "must not be empty"));
}

TEST(Scopes, StringsWithEmptyMeaningNoToken) {
  const LoadResult r =
      load("auth:\n  scopes:\n    stats: \"\"\n    reload: admin\n    metrics: m:read\n");
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(r.config->auth.scopes.stats, "");
  EXPECT_EQ(r.config->auth.scopes.reload, "admin");
  EXPECT_EQ(r.config->auth.scopes.metrics, "m:read");
  EXPECT_FALSE(r.config->auth.jwt);
  EXPECT_TRUE(only_error(load("auth:\n  scopes:\n    stats: \"a b\"\n"), "auth.scopes.stats", 3,
                         12, "single scope"));
}

TEST(EndpointJwt, WorksWhenAuthJwtIsConfigured) {
  const LoadResult r = load(R"Y(
auth:
  jwt: {algorithms: [EdDSA], public_key_file: ../keys/ed25519.pub.pem}
endpoints:
  - {url: http://h, name: a, auth_type: jwt, scopes: [a:read, a:write]}
)Y");
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(r.config->endpoints[0].scopes, (std::vector<std::string>{"a:read", "a:write"}));
  EXPECT_TRUE(only_error(load(R"Y(
auth:
  jwt: {algorithms: [EdDSA], public_key_file: ../keys/ed25519.pub.pem}
endpoints:
  - {url: http://h, name: a, auth_type: jwt, scopes: ["a b"]}
)Y"),
                         "endpoints[0].scopes[0]", 4, 55, "single scope"));
}

}  // namespace
}  // namespace gatehouse::config
