// The listener's TLS contexts: loading and matching errors, what each certificate
// reports, and in-memory handshakes through the SNI and ALPN callbacks.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/tls_server.hpp"
#include "test_certs.hpp"

namespace gatehouse::net {
namespace {

using testing::KeyType;
using testing::make_cert;
using testing::TestCert;

ServerTls::Certificate pair(const TestCert& c, std::string file) {
  return {std::move(file), c.cert_pem, c.key_pem};
}

struct Handshake {
  bool ok = false;
  std::string server_cn;  // the CN of the certificate the client got
  std::string alpn;
  std::string subject;    // what the server saw of the client (mTLS)
};

std::string cn_of(X509* x) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf);
  return buf;
}

// A client and the store's server side joined by a BIO pair, stepped until both are
// done or one fails.
Handshake handshake(ServerTls& store, const char* sni, const std::vector<unsigned char>& alpn = {},
                    int max_version = 0, const TestCert* client_cert = nullptr) {
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  if (max_version) SSL_CTX_set_max_proto_version(cctx, max_version);
  SSL_CTX_set_min_proto_version(cctx, TLS1_VERSION);
  SSL_CTX_set_security_level(cctx, 0);
  if (client_cert) {
    SSL_CTX_use_certificate(cctx, client_cert->cert.get());
    SSL_CTX_use_PrivateKey(cctx, client_cert->key.get());
  }
  SSL* client = SSL_new(cctx);
  SSL* server = SSL_new(store.context().native_handle());
  BIO *cb = nullptr, *sb = nullptr;
  BIO_new_bio_pair(&cb, 0, &sb, 0);
  SSL_set_bio(client, cb, cb);
  SSL_set_bio(server, sb, sb);
  if (sni) SSL_set_tlsext_host_name(client, sni);
  if (!alpn.empty()) SSL_set_alpn_protos(client, alpn.data(), static_cast<unsigned>(alpn.size()));
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  Handshake out;
  bool c_done = false, s_done = false, failed = false;
  for (int i = 0; i < 20 && !(c_done && s_done) && !failed; ++i) {
    if (!c_done) {
      const int r = SSL_do_handshake(client);
      if (r == 1) c_done = true;
      else if (SSL_get_error(client, r) != SSL_ERROR_WANT_READ) failed = true;
    }
    if (!s_done) {
      const int r = SSL_do_handshake(server);
      if (r == 1) s_done = true;
      else if (SSL_get_error(server, r) != SSL_ERROR_WANT_READ) failed = true;
    }
  }
  ERR_clear_error();
  out.ok = c_done && s_done;
  if (X509* peer = SSL_get0_peer_certificate(client)) out.server_cn = cn_of(peer);
  const unsigned char* proto = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(client, &proto, &len);
  if (proto) out.alpn.assign(reinterpret_cast<const char*>(proto), len);
  if (out.ok) out.subject = ServerTls::peer_subject(server);
  SSL_free(client);
  SSL_free(server);
  SSL_CTX_free(cctx);
  return out;
}

class TlsStore : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new TestCert(make_cert(KeyType::rsa, {"rsa.example", "*.rsa.example"}, -3600,
                                  86400, "rsa default"));
    ec_ = new TestCert(make_cert(KeyType::ec, {"ec.example", "*.wild.example"}, -3600,
                                 2 * 86400, "ecdsa"));
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete ec_;
  }
  std::shared_ptr<ServerTls> store(bool tls13_only = false, std::string client_ca = {}) {
    ServerTls::Settings s;
    s.certificates = {pair(*rsa_, "rsa.pem"), pair(*ec_, "ec.pem")};
    s.tls13_only = tls13_only;
    s.client_ca_pem = std::move(client_ca);
    std::string error;
    auto out = ServerTls::create(s, error);
    EXPECT_TRUE(out) << error;
    return out;
  }
  static TestCert* rsa_;
  static TestCert* ec_;
};
TestCert* TlsStore::rsa_ = nullptr;
TestCert* TlsStore::ec_ = nullptr;

TEST_F(TlsStore, ReportsEachCertificateWithItsNamesAndExpiry) {
  auto s = store();
  ASSERT_EQ(s->certificates().size(), 2u);
  EXPECT_EQ(s->certificates()[0].file, "rsa.pem");
  EXPECT_EQ(s->certificates()[1].dns_names,
            (std::vector<std::string>{"ec.example", "*.wild.example"}));
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  EXPECT_NEAR(static_cast<double>(s->certificates()[0].not_after), static_cast<double>(now + 86400), 60);
  EXPECT_NEAR(static_cast<double>(s->certificates()[1].not_after), static_cast<double>(now + 2 * 86400), 60);
  EXPECT_FALSE(s->verifies_clients());
}

TEST_F(TlsStore, SniPicksTheCertificateRsaOrEcdsaAndTheDefaultOtherwise) {
  auto s = store();
  EXPECT_EQ(handshake(*s, "ec.example").server_cn, "ecdsa");
  EXPECT_EQ(handshake(*s, "x.wild.example").server_cn, "ecdsa");
  EXPECT_EQ(handshake(*s, "EC.EXAMPLE").server_cn, "ecdsa");
  EXPECT_EQ(handshake(*s, "a.b.wild.example").server_cn, "rsa default");
  EXPECT_EQ(handshake(*s, "rsa.example").server_cn, "rsa default");
  EXPECT_EQ(handshake(*s, "nobody.test").server_cn, "rsa default");
  const auto none = handshake(*s, nullptr);
  EXPECT_TRUE(none.ok);
  EXPECT_EQ(none.server_cn, "rsa default");
}

TEST_F(TlsStore, AlpnIsHttp11OrTheHandshakeFails) {
  auto s = store();
  const std::vector<unsigned char> h2_and_h1 = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  const std::vector<unsigned char> h2_only = {2, 'h', '2'};
  EXPECT_EQ(handshake(*s, "ec.example", h2_and_h1).alpn, "http/1.1");
  // After the SNI switch too (the chosen context answers ALPN).
  EXPECT_FALSE(handshake(*s, "ec.example", h2_only).ok);
  EXPECT_FALSE(handshake(*s, nullptr, h2_only).ok);
  EXPECT_TRUE(handshake(*s, nullptr).ok);  // no ALPN at all is fine
}

TEST_F(TlsStore, MinimumVersion) {
  auto s12 = store(false);
  EXPECT_FALSE(handshake(*s12, nullptr, {}, TLS1_1_VERSION).ok);
  EXPECT_TRUE(handshake(*s12, nullptr, {}, TLS1_2_VERSION).ok);
  auto s13 = store(true);
  EXPECT_FALSE(handshake(*s13, nullptr, {}, TLS1_2_VERSION).ok);
  EXPECT_TRUE(handshake(*s13, "ec.example", {}, TLS1_3_VERSION).ok);
}

TEST_F(TlsStore, ClientCertificatesWhenAClientCaIsSet) {
  const auto ca = make_cert(KeyType::ec, {}, -3600, 86400, "client ca", nullptr, true);
  const auto client = make_cert(KeyType::ec, {}, -3600, 86400, "client one", &ca);
  const auto stranger = make_cert(KeyType::ec, {}, -3600, 86400, "stranger");
  auto s = store(false, ca.cert_pem);
  EXPECT_TRUE(s->verifies_clients());
  const auto ok = handshake(*s, "ec.example", {}, 0, &client);
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.subject, "CN=client one");
  EXPECT_FALSE(handshake(*s, "ec.example", {}, 0, &stranger).ok);
  EXPECT_FALSE(handshake(*s, nullptr, {}, 0, nullptr).ok);
}

TEST(TlsStoreErrors, KeyOfAnotherCertificateOrGarbageIsRefused) {
  const auto a = make_cert(KeyType::ec, {"a.example"});
  const auto b = make_cert(KeyType::ec, {"b.example"});
  std::string error;
  ServerTls::Settings s;
  s.certificates = {{"a.pem", a.cert_pem, b.key_pem}};
  EXPECT_FALSE(ServerTls::create(s, error));
  EXPECT_NE(error.find("a.pem"), std::string::npos) << error;
  s.certificates = {{"c.pem", "not a certificate", a.key_pem}};
  EXPECT_FALSE(ServerTls::create(s, error));
  EXPECT_NE(error.find("c.pem"), std::string::npos) << error;
  s.certificates.clear();
  EXPECT_FALSE(ServerTls::create(s, error));
  s.certificates = {{"a.pem", a.cert_pem, a.key_pem}};
  s.client_ca_pem = "no certificate here";
  EXPECT_FALSE(ServerTls::create(s, error));
  s.client_ca_pem.clear();
  EXPECT_TRUE(ServerTls::create(s, error)) << error;
}

}  // namespace
}  // namespace gatehouse::net
