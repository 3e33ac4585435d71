// tls (SPEC 2 and 12): each rule reported at the key, line and column naming the file;
// expiry warnings for `check`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../net/test_certs.hpp"
#include "config/diff.hpp"
#include "test_util.hpp"

namespace gatehouse::config {
namespace {

using gatehouse::testing::KeyType;
using gatehouse::testing::make_cert;
using gatehouse::testing::TestCert;
using testing::dump;
using testing::has_error;
using testing::only_error;

class TlsConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("gatehouse-tls-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  void write_pair(const std::string& stem, const TestCert& c) {
    write(stem + ".crt", c.cert_pem);
    write(stem + ".key", c.key_pem);
  }
  LoadResult load(std::string_view yaml) { return testing::load(yaml, (dir_ / "gatehouse.yaml").string()); }

  std::filesystem::path dir_;
};

TEST_F(TlsConfig, PairsLoadWithTheirBytesAndSettings) {
  const auto a = make_cert(KeyType::ec, {"a.example"});
  const auto b = make_cert(KeyType::rsa, {"b.example"});
  write_pair("a", a);
  write_pair("b", b);
  write("ca.pem", a.cert_pem);
  const auto r = load(R"(
tls:
  cert_file: a.crt
  key_file: a.key
  certificates:
    - {cert_file: b.crt, key_file: b.key}
  min_version: "1.3"
  client_ca_file: ca.pem
)");
  ASSERT_TRUE(r.config) << dump(r);
  const Tls& tls = *r.config->tls;
  ASSERT_EQ(tls.certificates.size(), 2u);
  EXPECT_EQ(tls.certificates[0].cert_file, (dir_ / "a.crt").string());
  EXPECT_EQ(tls.certificates[0].cert_pem, a.cert_pem);
  EXPECT_EQ(tls.certificates[1].key_pem, b.key_pem);
  EXPECT_TRUE(tls.tls13_only);
  ASSERT_TRUE(tls.client_ca_file);
  EXPECT_EQ(tls.client_ca_pem, a.cert_pem);
  EXPECT_TRUE(r.warnings.empty());
}

TEST_F(TlsConfig, KeyOfAnotherCertificateIsReportedAtKeyFile) {
  write_pair("a", make_cert(KeyType::ec, {"a.example"}));
  write_pair("b", make_cert(KeyType::ec, {"b.example"}));
  const auto r = load("tls:\n  cert_file: a.crt\n  key_file: b.key\n");
  EXPECT_TRUE(only_error(r, "tls.key_file", 3, 13, "does not match the certificate in"));
  EXPECT_TRUE(has_error(r, "tls.key_file", 3, 13, "b.key"));
}

TEST_F(TlsConfig, NotACertificateOrNotAKey) {
  const auto a = make_cert(KeyType::ec, {"a.example"});
  write("key-as-cert.pem", a.key_pem);
  write("cert-as-key.pem", a.cert_pem);
  const auto r = load("tls:\n  cert_file: key-as-cert.pem\n  key_file: cert-as-key.pem\n");
  ASSERT_EQ(r.errors.size(), 2u) << dump(r);
  EXPECT_TRUE(has_error(r, "tls.cert_file", 2, 14, "key-as-cert.pem holds no PEM certificate"));
  EXPECT_TRUE(has_error(r, "tls.key_file", 3, 13, "cert-as-key.pem holds no unencrypted PEM private key"));
}

TEST_F(TlsConfig, EncryptedKeyIsRefusedWithoutAPrompt) {
  const auto a = make_cert(KeyType::ec, {"a.example"});
  write("a.crt", a.cert_pem);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PKCS8PrivateKey(bio, a.key.get(), EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                const_cast<char*>("secret"));
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  write("a.key", std::string(data, static_cast<std::size_t>(n)));
  BIO_free(bio);
  const auto r = load("tls:\n  cert_file: a.crt\n  key_file: a.key\n");
  EXPECT_TRUE(only_error(r, "tls.key_file", 3, 13, "holds no unencrypted PEM private key"));
}

TEST_F(TlsConfig, EveryRuleOfTheCertificatesListAndTheOtherKeys) {
  const auto a = make_cert(KeyType::ec, {"a.example"});
  write_pair("a", a);
  write("empty.pem", "");
  const auto r = load(R"(
tls:
  cert_file: a.crt
  key_file: a.key
  certificates:
    - {cert_file: a.crt}
    - {cert_file: nope.crt, key_file: a.key}
    - {cert_file: a.crt, key_file: a.key, extra: 1}
    - just a string
  min_version: "1.1"
  client_ca_file: empty.pem
)");
  EXPECT_TRUE(has_error(r, "tls.certificates[0].key_file", 5, 7, "is required"));
  EXPECT_TRUE(has_error(r, "tls.certificates[1].cert_file", 6, 19, "cannot read"));
  EXPECT_TRUE(has_error(r, "tls.certificates[2].extra", 7, 43, "unknown key"));
  EXPECT_TRUE(has_error(r, "tls.certificates[3]", 8, 7, "mapping"));
  EXPECT_TRUE(has_error(r, "tls.min_version", 9, 16, "must be \"1.2\" or \"1.3\""));
  EXPECT_TRUE(has_error(r, "tls.client_ca_file", 10, 19, "holds no PEM certificate"));
  EXPECT_EQ(r.errors.size(), 6u) << dump(r);
}

TEST_F(TlsConfig, ExpiredAndSoonExpiringCertificatesAreWarningsNotErrors) {
  write_pair("old", make_cert(KeyType::ec, {"old.example"}, -10 * 86400, -86400));
  write_pair("soon", make_cert(KeyType::ec, {"soon.example"}, -86400, 3 * 86400));
  write_pair("fine", make_cert(KeyType::ec, {"fine.example"}, -86400, 8 * 86400));
  const auto r = load(R"(
tls:
  cert_file: old.crt
  key_file: old.key
  certificates:
    - {cert_file: soon.crt, key_file: soon.key}
    - {cert_file: fine.crt, key_file: fine.key}
)");
  ASSERT_TRUE(r.config) << dump(r);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0].path, "tls.cert_file");
  EXPECT_EQ(r.warnings[0].line, 2);
  EXPECT_NE(r.warnings[0].message.find((dir_ / "old.crt").string() + " expired on 20"),
            std::string::npos) << r.warnings[0].message;
  EXPECT_EQ(r.warnings[1].path, "tls.certificates[0].cert_file");
  EXPECT_NE(r.warnings[1].message.find("soon.crt expires on 20"), std::string::npos)
      << r.warnings[1].message;
  EXPECT_NE(r.warnings[1].message.find("UTC"), std::string::npos);
}

TEST_F(TlsConfig, ANewCertificateInTheSameFileIsAChange) {
  write_pair("a", make_cert(KeyType::ec, {"a.example"}));
  const std::string yaml = "tls:\n  cert_file: a.crt\n  key_file: a.key\n";
  const auto before = load(yaml);
  ASSERT_TRUE(before.config) << dump(before);
  EXPECT_TRUE(diff(*before.config, *load(yaml).config).effective_unchanged());
  write_pair("a", make_cert(KeyType::ec, {"a.example"}));
  const auto after = load(yaml);
  ASSERT_TRUE(after.config) << dump(after);
  EXPECT_FALSE(diff(*before.config, *after.config).effective_unchanged());
}

}  // namespace
}  // namespace gatehouse::config
