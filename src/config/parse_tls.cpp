// tls (SPEC 12): every certificate and key file read, parsed and matched here, so `check`
// and a reload refuse a broken pair with the line and column of the key naming the file,
// and the listener loads exactly the bytes that were checked.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <ctime>
#include <memory>

#include "config/sections.hpp"

namespace gatehouse::config::detail {
namespace {

constexpr std::array<std::string_view, 5> kTlsKeys = {"cert_file", "key_file", "certificates",
                                                      "min_version", "client_ca_file"};
constexpr std::array<std::string_view, 2> kPairKeys = {"cert_file", "key_file"};
// `check` warns about a certificate that expires within this many seconds.
constexpr std::int64_t kExpiryWarning = 7 * 24 * 3600;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<BIO, BioFree> memory_bio(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::bad_alloc();
  return bio;
}

// An encrypted key is refused rather than prompted for: there is no terminal to ask.
int no_password(char*, int, int, void*) { return -1; }

std::unique_ptr<X509, X509Free> first_certificate(std::string_view pem, int& count) {
  auto bio = memory_bio(pem);
  std::unique_ptr<X509, X509Free> leaf;
  count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr)) {
    if (!leaf) leaf.reset(cert);
    else X509_free(cert);
    ++count;
  }
  ERR_clear_error();
  return leaf;
}

std::optional<std::int64_t> not_after(const X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

// "2026-12-05 04:18:04 UTC"
std::string format_utc_seconds(std::int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return std::string(buf, n);
}

struct PairValues {
  const Value* cert = nullptr;
  const Value* key = nullptr;
};

// Reads both files of one pair into `out`; reports what is wrong at the key naming the
// file at fault.
void read_pair(Context& ctx, const MapReader& m, TlsCertificate& out) {
  PairValues at;
  for (auto key : kPairKeys) {
    if (!m.has(key)) {
      ctx.errors.add(m.key_path(key), m.pos(), "is required");
      continue;
    }
    auto file = m.string(key);
    if (!file) continue;
    const Value& v = m.find(key)->value;
    const bool is_cert = key == "cert_file";
    auto bytes = ctx.read_referenced_file(v, *file, is_cert ? out.cert_file : out.key_file);
    if (!bytes) continue;
    (is_cert ? out.cert_pem : out.key_pem) = std::move(*bytes);
    (is_cert ? at.cert : at.key) = &v;
  }
  std::unique_ptr<X509, X509Free> leaf;
  if (at.cert) {
    int count = 0;
    leaf = first_certificate(out.cert_pem, count);
    if (!leaf) {
      ctx.errors.add(at.cert->path, at.cert->pos, out.cert_file + " holds no PEM certificate");
    } else if (const auto expiry = not_after(leaf.get())) {
      const std::int64_t now = std::time(nullptr);
      if (*expiry - now <= kExpiryWarning) {
        const std::string when = format_utc_seconds(*expiry);
        ctx.warnings.push_back(ConfigError{
            at.cert->path, at.cert->pos.line, at.cert->pos.column,
            out.cert_file + (*expiry <= now ? " expired on " + when
                                            : " expires on " + when + ", within 7 days")});
      }
    }
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
  if (at.key) {
    auto bio = memory_bio(out.key_pem);
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
    ERR_clear_error();
    if (!key)
      ctx.errors.add(at.key->path, at.key->pos,
                     out.key_file + " holds no unencrypted PEM private key");
  }
  if (leaf && key && X509_check_private_key(leaf.get(), key.get()) != 1) {
    ERR_clear_error();
    ctx.errors.add(at.key->path, at.key->pos,
                   out.key_file + " does not match the certificate in " + out.cert_file);
  }
}

}  // namespace

void parse_tls(Context& ctx, const Entry& entry, Config& cfg) {
  const MapReader m(ctx.errors, entry.value, kTlsKeys);
  if (!m.ok()) return;
  Tls tls;
  {
    // cert_file/key_file sit in `tls` itself; the pair reader wants a mapping of just them.
    TlsCertificate first;
    read_pair(ctx, m, first);
    tls.certificates.push_back(std::move(first));
  }
  if (const Entry* e = m.find("certificates")) {
    if (auto items = as_sequence(ctx.errors, e->value)) {
      for (const Value& item : *items) {
        const MapReader pair(ctx.errors, item, kPairKeys);
        if (!pair.ok()) continue;
        TlsCertificate c;
        read_pair(ctx, pair, c);
        tls.certificates.push_back(std::move(c));
      }
    }
  }
  if (auto v = m.string("min_version")) {
    if (*v == "1.3") tls.tls13_only = true;
    else if (*v != "1.2") ctx.errors.add(m.find("min_version")->value, "must be \"1.2\" or \"1.3\"");
  }
  if (auto file = m.string("client_ca_file")) {
    const Value& v = m.find("client_ca_file")->value;
    std::string resolved;
    if (auto pem = ctx.read_referenced_file(v, *file, resolved)) {
      int count = 0;
      if (!first_certificate(*pem, count))
        ctx.errors.add(v.path, v.pos, resolved + " holds no PEM certificate");
      tls.client_ca_pem = std::move(*pem);
    }
    tls.client_ca_file = resolved;
  }
  cfg.tls = std::move(tls);
}

}  // namespace gatehouse::config::detail
