// The attack matrix: one test per known way to get a forged or stale JWT accepted.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/base64url.hpp"
#include "auth/key_set.hpp"
#include "auth/signature.hpp"
#include "test_support.hpp"

namespace gatehouse::auth {
namespace {

using namespace testing;

// The order n of P-256 (SEC 2 / FIPS 186-4), written out independently of OpenSSL.
constexpr const char* kP256OrderHex =
    "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

struct Fixture {
  TempDir dir;
  Harness h;
};

// A verifier with `algorithms` and `pem_key`'s public half as public_key_file.
std::unique_ptr<Fixture> with_pem(std::vector<std::string> algorithms, EVP_PKEY* pem_key) {
  auto f = std::make_unique<Fixture>();
  auto jwt = jwt_config(std::move(algorithms));
  if (pem_key) jwt.public_key_file = f->dir.write("key.pem", public_pem(pem_key));
  f->h = make_verifier(jwt);
  EXPECT_TRUE(f->h.verifier) << f->h.error;
  return f;
}

std::unique_ptr<Fixture> with_jwks(std::vector<std::string> algorithms, const std::string& keys) {
  auto f = std::make_unique<Fixture>();
  auto jwt = jwt_config(std::move(algorithms));
  jwt.jwks_file = f->dir.write("jwks.json", "{\"keys\":[" + keys + "]}");
  f->h = make_verifier(jwt);
  EXPECT_TRUE(f->h.verifier) << f->h.error;
  return f;
}

VerifyError verify(const Fixture& f, const std::string& token) {
  return f.h.verifier->verify(token).error;
}

TEST(Attack, AlgNoneInAnyCase) {
  auto f = with_pem({"HS256", "RS256"}, test_key("rsa"));
  for (const char* none : {"none", "None", "NONE", "nOnE"}) {
    const auto unsigned_token = signing_input(header_json(none), claims_json()) + ".";
    EXPECT_EQ(verify(*f, unsigned_token), VerifyError::alg_none) << none;
    // With a signature attached (some libraries then ignore it) it is still refused.
    EXPECT_EQ(verify(*f, unsigned_token + "c2ln"), VerifyError::alg_none) << none;
  }
}

TEST(Attack, Rs256ToHs256ConfusionWithThePublicKeyAsSecret) {
  EVP_PKEY* rsa = test_key("rsa");
  const std::string pem = public_pem(rsa);
  const auto forged = make_token(header_json("HS256"), claims_json(), "HS256", nullptr, pem);

  // RS256 only: HS256 is not allowed at all.
  auto rs_only = with_pem({"RS256"}, rsa);
  EXPECT_EQ(verify(*rs_only, forged), VerifyError::alg_not_allowed);

  // Both allowed, a real HMAC secret configured: the forgery is checked against that
  // secret, never against the RSA key's bytes.
  auto both = with_pem({"RS256", "HS256"}, rsa);
  EXPECT_EQ(verify(*both, forged), VerifyError::signature_mismatch);

  // Both allowed but no HMAC secret: the RSA key is not an HS key.
  KeySet keys;
  std::string error;
  ASSERT_TRUE(keys.add_pem(pem, error)) << error;
  config::Jwt jwt;
  jwt.algorithms = {"RS256", "HS256"};
  Verifier no_secret(jwt, std::move(keys), std::make_shared<TestClock>(), 0);
  EXPECT_EQ(no_secret.verify(forged).error, VerifyError::no_key);

  // Control: a real RS256 token passes.
  EXPECT_EQ(verify(*both, make_token(header_json("RS256"), claims_json(), "RS256", rsa)),
            VerifyError::ok);
}

TEST(Attack, StrippedSignature) {
  auto f = with_pem({"HS256"}, nullptr);
  const auto good = make_token(header_json("HS256"), claims_json(), "HS256");
  ASSERT_EQ(verify(*f, good), VerifyError::ok);
  const auto two_segments = good.substr(0, good.rfind('.'));
  const auto empty_third = good.substr(0, good.rfind('.') + 1);
  EXPECT_EQ(verify(*f, two_segments), VerifyError::malformed);
  EXPECT_EQ(verify(*f, empty_third), VerifyError::malformed);
  EXPECT_EQ(verify(*f, two_segments.substr(0, good.find('.'))), VerifyError::malformed);
}

std::string es256_with_signature(std::string_view raw_signature) {
  return signing_input(header_json("ES256"), claims_json()) + "." + base64url_encode(raw_signature);
}

TEST(Attack, Es256WithRAndSZero) {
  auto f = with_pem({"ES256"}, test_key("ec256"));
  // CVE-2022-21449: (0, 0) "verifies" any message under a broken ECDSA check.
  EXPECT_EQ(verify(*f, es256_with_signature(std::string(64, '\0'))), VerifyError::bad_signature);
  const std::string one = std::string(31, '\0') + '\x01';
  EXPECT_EQ(verify(*f, es256_with_signature(std::string(32, '\0') + one)), VerifyError::bad_signature);
  EXPECT_EQ(verify(*f, es256_with_signature(one + std::string(32, '\0'))), VerifyError::bad_signature);
}

TEST(Attack, Es256WithRAtOrAboveTheOrder) {
  EVP_PKEY* ec = test_key("ec256");
  auto f = with_pem({"ES256"}, ec);
  const std::string n = from_hex(kP256OrderHex);
  const std::string one = std::string(31, '\0') + '\x01';
  EXPECT_EQ(verify(*f, es256_with_signature(n + one)), VerifyError::bad_signature);
  EXPECT_EQ(verify(*f, es256_with_signature(one + n)), VerifyError::bad_signature);
  EXPECT_EQ(verify(*f, es256_with_signature(std::string(64, '\xff'))), VerifyError::bad_signature);

  // A valid signature's r + n (still 32 bytes when r < 2^256 - n) is the same value
  // mod n; it must not pass. Start from a real signature to show only r changed.
  const auto good = make_token(header_json("ES256"), claims_json(), "ES256", ec);
  ASSERT_EQ(verify(*f, good), VerifyError::ok);
  const std::string sig = *base64url_decode(good.substr(good.rfind('.') + 1));
  std::string r = sig.substr(0, 32);
  unsigned carry = 0;
  for (int i = 31; i >= 0; --i) {
    const unsigned sum = static_cast<unsigned char>(r[i]) + static_cast<unsigned char>(n[i]) + carry;
    r[i] = static_cast<char>(sum & 0xff);
    carry = sum >> 8;
  }
  if (carry == 0) {
    EXPECT_EQ(verify(*f, es256_with_signature(r + sig.substr(32))), VerifyError::bad_signature);
  }
}

TEST(Attack, DerEncodedEcdsaSignature) {
  EVP_PKEY* ec = test_key("ec256");
  auto f = with_pem({"ES256"}, ec);
  const auto input = signing_input(header_json("ES256"), claims_json());
  // A genuine signature over the right input, left in OpenSSL's DER form.
  detail::MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  ASSERT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, ec), 1);
  ASSERT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()), 1);
  std::string der(len, '\0');
  ASSERT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()), 1);
  der.resize(len);
  ASSERT_EQ(der[0], '\x30');
  EXPECT_EQ(verify(*f, input + "." + base64url_encode(der)), VerifyError::bad_signature);
}

TEST(Attack, Expired) {
  auto f = with_pem({"HS256"}, nullptr);
  // leeway is 30 s: 10 s past exp still passes, 31 s past does not, and no exp fails.
  EXPECT_EQ(verify(*f, make_token(header_json("HS256"), claims_json("", kNow - 10), "HS256")), VerifyError::ok);
  EXPECT_EQ(verify(*f, make_token(header_json("HS256"), claims_json("", kNow - 31), "HS256")), VerifyError::expired);
  EXPECT_EQ(verify(*f, make_token(header_json("HS256"), "{\"sub\":\"x\"}", "HS256")), VerifyError::bad_claims);
  EXPECT_EQ(verify(*f, make_token(header_json("HS256"), "{\"exp\":\"9999999999\"}", "HS256")), VerifyError::bad_claims);
  EXPECT_EQ(verify(*f, make_token(header_json("HS256"), "{\"exp\":1e400}", "HS256")), VerifyError::bad_claims);
}

TEST(Attack, NbfInTheFuture) {
  auto f = with_pem({"HS256"}, nullptr);
  const auto nbf = [](std::int64_t t) { return claims_json("\"nbf\":" + std::to_string(t)); };
  EXPECT_EQ(verify(*f, make_token(header_json("HS256"), nbf(kNow + 100), "HS256")), VerifyError::not_yet_valid);
  EXPECT_EQ(verify(*f, make_token(header_json("HS256"), nbf(kNow + 20), "HS256")), VerifyError::ok);
  EXPECT_EQ(verify(*f, make_token(header_json("HS256"), claims_json("\"nbf\":null"), "HS256")), VerifyError::bad_claims);
}

TEST(Attack, IatInTheFuture) {
  auto f = with_pem({"HS256"}, nullptr);
  const auto iat = [](std::string_view t) { return claims_json("\"iat\":" + std::string(t)); };
  EXPECT_EQ(verify(*f, make_token(header_json("HS256"), iat(std::to_string(kNow + 100)), "HS256")), VerifyError::issued_in_future);
  EXPECT_EQ(verify(*f, make_token(header_json("HS256"), iat(std::to_string(kNow) + ".5"), "HS256")), VerifyError::ok);
}

TEST(Attack, WrongAndMissingAudience) {
  auto jwt = jwt_config({"HS256"});
  jwt.audience = "gatehouse";
  auto h = make_verifier(jwt);
  auto v = [&](std::string_view extra) {
    return h.verifier->verify(make_token(header_json("HS256"), claims_json(extra), "HS256")).error;
  };
  EXPECT_EQ(v("\"aud\":\"other\""), VerifyError::wrong_audience);
  EXPECT_EQ(v(""), VerifyError::wrong_audience);
  EXPECT_EQ(v("\"aud\":[\"other\",\"another\"]"), VerifyError::wrong_audience);
  EXPECT_EQ(v("\"aud\":[]"), VerifyError::wrong_audience);
  EXPECT_EQ(v("\"aud\":\"Gatehouse\""), VerifyError::wrong_audience);
  EXPECT_EQ(v("\"aud\":[\"gatehouse\",7]"), VerifyError::bad_claims);
  EXPECT_EQ(v("\"aud\":\"gatehouse\""), VerifyError::ok);
  EXPECT_EQ(v("\"aud\":[\"other\",\"gatehouse\"]"), VerifyError::ok);
}

TEST(Attack, WrongAndMissingIssuer) {
  auto jwt = jwt_config({"HS256"});
  jwt.issuer = "https://id.example.com";
  auto h = make_verifier(jwt);
  auto v = [&](std::string_view extra) {
    return h.verifier->verify(make_token(header_json("HS256"), claims_json(extra), "HS256")).error;
  };
  EXPECT_EQ(v("\"iss\":\"https://evil.example.com\""), VerifyError::wrong_issuer);
  EXPECT_EQ(v("\"iss\":\"https://id.example.com/\""), VerifyError::wrong_issuer);
  EXPECT_EQ(v(""), VerifyError::wrong_issuer);
  EXPECT_EQ(v("\"iss\":[\"https://id.example.com\"]"), VerifyError::bad_claims);
  EXPECT_EQ(v("\"iss\":\"https://id.example.com\""), VerifyError::ok);
}

TEST(Attack, UnknownCrit) {
  auto f = with_pem({"HS256"}, nullptr);
  auto v = [&](std::string_view extra) {
    return verify(*f, make_token(header_json("HS256", extra), claims_json(), "HS256"));
  };
  EXPECT_EQ(v("\"crit\":[\"exp\"],\"exp\":1"), VerifyError::crit_unsupported);
  EXPECT_EQ(v("\"crit\":[\"b64\"],\"b64\":false"), VerifyError::crit_unsupported);
  EXPECT_EQ(v("\"crit\":[]"), VerifyError::bad_header);
  EXPECT_EQ(v("\"crit\":\"exp\""), VerifyError::bad_header);
  EXPECT_EQ(v("\"crit\":[1]"), VerifyError::bad_header);
}

TEST(Attack, DuplicateClaims) {
  auto f = with_pem({"HS256"}, nullptr);
  auto v = [&](std::string_view claims) {
    return verify(*f, make_token(header_json("HS256"), claims, "HS256"));
  };
  // A reader keeping the first "exp" and one keeping the last would disagree.
  EXPECT_EQ(v("{\"exp\":" + std::to_string(kNow + 600) + ",\"exp\":1}"), VerifyError::duplicate_member);
  EXPECT_EQ(v("{\"exp\":1,\"exp\":" + std::to_string(kNow + 600) + "}"), VerifyError::duplicate_member);
  // The same name after unescaping, and a duplicate deep inside.
  EXPECT_EQ(v("{\"exp\":1,\"\\u0065xp\":" + std::to_string(kNow + 600) + "}"), VerifyError::duplicate_member);
  EXPECT_EQ(v(claims_json("\"x\":{\"y\":[{\"a\":1,\"a\":2}]}")), VerifyError::duplicate_member);
  // Equal names in different objects are fine.
  EXPECT_EQ(v(claims_json("\"x\":[{\"a\":1},{\"a\":2}]")), VerifyError::ok);
}

TEST(Attack, DuplicateHeaderMembers) {
  auto f = with_pem({"HS256", "RS256"}, test_key("rsa"));
  auto v = [&](std::string_view header) {
    return verify(*f, make_token(header, claims_json(), "HS256"));
  };
  EXPECT_EQ(v("{\"alg\":\"HS256\",\"alg\":\"none\"}"), VerifyError::duplicate_member);
  EXPECT_EQ(v("{\"alg\":\"RS256\",\"alg\":\"HS256\"}"), VerifyError::duplicate_member);
  EXPECT_EQ(v("{\"alg\":\"HS256\",\"kid\":\"a\",\"kid\":\"b\"}"), VerifyError::duplicate_member);
}

TEST(Attack, ReasonsAreSafeToLog) {
  auto f = with_pem({"HS256"}, nullptr);
  const std::string name = "x\\n2038-01-01 INFO forged log line" + std::string(2000, 'y');
  const auto r = f->h.verifier->verify(
      make_token(header_json("HS256"), claims_json("\"" + name + "\":1,\"" + name + "\":2"), "HS256"));
  EXPECT_EQ(r.error, VerifyError::duplicate_member);
  EXPECT_EQ(r.reason.find('\n'), std::string::npos) << r.reason;
  EXPECT_LT(r.reason.size(), 80u);
  const auto a = f->h.verifier->verify(
      make_token(header_json("HS256\\r\\nX"), claims_json(), "HS256"));
  EXPECT_EQ(a.error, VerifyError::alg_not_allowed);
  EXPECT_EQ(a.reason.find_first_of("\r\n"), std::string::npos) << a.reason;
}

TEST(Attack, PaddedOrNonBase64UrlSegments) {
  auto f = with_pem({"HS256"}, nullptr);
  // A header whose encoding holds '-' or '_' (URL-safe for '+' and '/') and whose
  // standard form would need '=' padding.
  std::string good;
  for (std::size_t k = 0; k < 8; ++k) {
    const std::string header = "{\"alg\":\"HS256\",\"x\":\"" + std::string(k, 'a') + std::string(3, '?') + "\"}";
    const auto h64 = base64url_encode(header);
    if (h64.find_first_of("-_") != std::string::npos && h64.size() % 4 != 0) {
      good = make_token(header, claims_json(), "HS256");
      break;
    }
  }
  ASSERT_FALSE(good.empty());
  ASSERT_EQ(verify(*f, good), VerifyError::ok);
  const auto dot1 = good.find('.');
  const auto dot2 = good.rfind('.');
  ASSERT_NE(good.substr(0, dot1).find_first_of("-_"), std::string::npos);

  auto resign = [](const std::string& h, const std::string& p) {
    std::string sig;
    sign_hmac(Alg::HS256, kSecret, h + "." + p, sig);
    return h + "." + p + "." + base64url_encode(sig);
  };
  const std::string h64 = good.substr(0, dot1);
  const std::string p64 = good.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string standard = h64;  // the same bytes in the standard alphabet
  for (char& c : standard) c = c == '-' ? '+' : c == '_' ? '/' : c;
  EXPECT_EQ(verify(*f, resign(standard, p64)), VerifyError::bad_encoding);
  EXPECT_EQ(verify(*f, resign(h64 + "=", p64)), VerifyError::bad_encoding);
  EXPECT_EQ(verify(*f, resign(h64, p64 + "==")), VerifyError::bad_encoding);
  EXPECT_EQ(verify(*f, resign(h64, p64 + " ")), VerifyError::bad_encoding);
  EXPECT_EQ(verify(*f, good + "="), VerifyError::bad_encoding);
  std::string plus_sig = good;
  plus_sig[dot2 + 3] = '+';
  EXPECT_EQ(verify(*f, plus_sig), VerifyError::bad_encoding);
}

TEST(Attack, FivePartJwe) {
  auto f = with_pem({"HS256"}, nullptr);
  // RFC 7516 A.3's protected header shape: {"alg":"A128KW","enc":"A128CBC-HS256"}.
  const std::string jwe =
      "eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0."
      "6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizkDTHzBC2IlrT1oOQ.AxY8DCtDaGlsbGljb3RoZQ."
      "KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY.U0m_YmjN04DJvceFICbCVQ";
  const auto r = f->h.verifier->verify(jwe);
  EXPECT_EQ(r.error, VerifyError::malformed);
  EXPECT_NE(r.reason.find("JWE"), std::string::npos) << r.reason;
}

TEST(Attack, HundredKilobyteToken) {
  auto f = with_pem({"HS256"}, nullptr);
  const auto big = make_token(header_json("HS256"),
                              claims_json("\"pad\":\"" + std::string(100 * 1024, 'a') + "\""), "HS256");
  ASSERT_GT(big.size(), 100u * 1024);
  EXPECT_EQ(verify(*f, big), VerifyError::too_large);
  // Rejected before parsing: even garbage of that size gets the same answer.
  EXPECT_EQ(verify(*f, std::string(100 * 1024, '.')), VerifyError::too_large);
  // The cap is exactly 8 KiB: a valid token of 8192 bytes passes.
  std::string claims = claims_json("\"pad\":\"\"");
  std::string token = make_token(header_json("HS256"), claims, "HS256");
  const std::size_t room = (kMaxTokenSize - token.size()) * 3 / 4;
  for (std::size_t pad = room; pad > 0 && token.size() != kMaxTokenSize; --pad) {
    token = make_token(header_json("HS256"), claims_json("\"pad\":\"" + std::string(pad, 'a') + "\""), "HS256");
    if (token.size() < kMaxTokenSize) break;
  }
  ASSERT_LE(token.size(), kMaxTokenSize);
  EXPECT_GT(token.size(), kMaxTokenSize - 8);
  EXPECT_EQ(verify(*f, token), VerifyError::ok);
}

TEST(Attack, UnknownKid) {
  EVP_PKEY* rsa = test_key("rsa");
  auto f = with_jwks({"RS256"}, public_jwk(rsa, "k1"));
  EXPECT_EQ(verify(*f, make_token(header_json("RS256", "\"kid\":\"k2\""), claims_json(), "RS256", rsa)),
            VerifyError::unknown_kid);
  EXPECT_EQ(verify(*f, make_token(header_json("RS256", "\"kid\":\"K1\""), claims_json(), "RS256", rsa)),
            VerifyError::unknown_kid);
  EXPECT_EQ(verify(*f, make_token(header_json("RS256", "\"kid\":\"k1\""), claims_json(), "RS256", rsa)),
            VerifyError::ok);
  EXPECT_EQ(verify(*f, make_token(header_json("RS256", "\"kid\":1"), claims_json(), "RS256", rsa)),
            VerifyError::bad_header);
}

TEST(Attack, KeyUrlHeadersAreNeverFollowed) {
  // A listener the token points at; it must never see a connection.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/jwks.json";

  // Signed by the attacker's key, which the headers point at and embed.
  EVP_PKEY* attacker = test_key("rsa2");
  auto f = with_pem({"RS256"}, test_key("rsa"));
  const std::string header = header_json(
      "RS256", "\"kid\":\"attacker\",\"jku\":\"" + url + "\",\"x5u\":\"" + url +
                   "\",\"jwk\":" + public_jwk(attacker, "attacker"));
  EXPECT_EQ(verify(*f, make_token(header, claims_json(), "RS256", attacker)),
            VerifyError::signature_mismatch);
  // The same with a JWKS, where the kid would have to select the key.
  auto jwks = with_jwks({"RS256"}, public_jwk(test_key("rsa"), "k1"));
  EXPECT_EQ(verify(*jwks, make_token(header, claims_json(), "RS256", attacker)), VerifyError::unknown_kid);

  pollfd p{listener, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 300), 0) << "the verifier connected to the jku/x5u URL";
  ::close(listener);
}

TEST(Attack, KidlessTokenWithTwoCandidateKeys) {
  EVP_PKEY* rsa = test_key("rsa");
  auto f = with_jwks({"RS256"}, public_jwk(rsa, "k1") + "," + public_jwk(test_key("rsa2"), "k2"));
  const auto r = f->h.verifier->verify(make_token(header_json("RS256"), claims_json(), "RS256", rsa));
  EXPECT_EQ(r.error, VerifyError::ambiguous_key);
  // One RSA key and one EC key: only one fits RS256, so no kid is needed.
  auto g = with_jwks({"RS256", "ES256"}, public_jwk(rsa, "k1") + "," + public_jwk(test_key("ec256"), "e1"));
  EXPECT_EQ(verify(*g, make_token(header_json("RS256"), claims_json(), "RS256", rsa)), VerifyError::ok);
}

}  // namespace
}  // namespace gatehouse::auth
