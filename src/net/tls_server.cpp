#include "net/tls_server.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "net/ticket_keys.hpp"

namespace gatehouse::net {

namespace {

// Mozilla's "intermediate" TLS 1.2 suites (TLS 1.3 keeps OpenSSL's defaults, which are
// that list's too).
constexpr const char* kCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:P-256:P-384";
// TLS 1.3: Mozilla "intermediate"'s order, the cheaper AES-128 (and SHA-256 key schedule)
// first; OpenSSL's own default puts AES-256 with SHA-384 first.
constexpr const char* kSuites13 = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr unsigned char kSessionContext[] = "gatehouse";
constexpr unsigned char kAlpn[] = "\x08http/1.1";

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// ALPN: http/1.1 or nothing. A client that offers only other protocols (h2 alone, say)
// gets the no_application_protocol alert rather than a connection it cannot use.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, kAlpn, sizeof kAlpn - 1, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

std::vector<std::string> dns_names_of(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_DNS) continue;
    const ASN1_IA5STRING* s = n->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
  }
  GENERAL_NAMES_free(names);
  return out;
}

// Everything but the certificate: the same on every context, because after the SNI
// switch OpenSSL reads ALPN, verification and tickets from the chosen one.
bool configure(SSL_CTX* ctx, const ServerTls::Settings& s, std::string& error) {
  SSL_CTX_set_min_proto_version(ctx, s.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  // Our order decides (forward secrecy, AEAD, the cheaper AES-128 first); scanners rate a
  // server without one as weak.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle keep-alive connections hold no TLS read/write buffers. The chain sent is the
  // file's, as it is: OpenSSL otherwise tries to build one from the trust store on every
  // handshake (the client CAs, if any), which costs each full handshake an X509 store
  // context and a failed verification, and could send certificates nobody configured.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
  if (SSL_CTX_set_cipher_list(ctx, kCiphers) != 1 || SSL_CTX_set_ciphersuites(ctx, kSuites13) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
    error = "cannot set the cipher list: " + openssl_reason();
    return false;
  }
  SSL_CTX_set_dh_auto(ctx, 1);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  // Resumption by tickets only (no server-side cache shared between threads), sealed
  // with the process's rotated keys.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, TicketKeys::callback);
  SSL_CTX_set_num_tickets(ctx, 1);
  if (s.client_ca_pem.empty()) return true;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(s.client_ca_pem.data(),
                                                    static_cast<int>(s.client_ca_pem.size())));
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    std::unique_ptr<X509, X509Free> owned(ca);
    if (X509_STORE_add_cert(store, ca) != 1 || SSL_CTX_add_client_CA(ctx, ca) != 1) {
      error = "cannot use the client CA: " + openssl_reason();
      return false;
    }
    ++count;
  }
  ERR_clear_error();
  if (count == 0) {
    error = "the client CA file holds no certificate";
    return false;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return true;
}

}  // namespace

ServerTls::~ServerTls() = default;

std::shared_ptr<ServerTls> ServerTls::create(const Settings& settings, std::string& error) {
  if (settings.certificates.empty()) {
    error = "no certificate";
    return nullptr;
  }
  std::shared_ptr<ServerTls> store(new ServerTls());
  store->verify_clients_ = !settings.client_ca_pem.empty();
  for (const auto& c : settings.certificates) {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    error_code ec;
    ctx->use_certificate_chain(asio::buffer(c.cert_pem), ec);
    if (!ec) ctx->use_private_key(asio::buffer(c.key_pem), asio::ssl::context::pem, ec);
    if (ec || SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      error = c.file + ": " + (ec ? ec.message() : openssl_reason());
      ERR_clear_error();
      return nullptr;
    }
    if (!configure(ctx->native_handle(), settings, error)) return nullptr;
    X509* leaf = SSL_CTX_get0_certificate(ctx->native_handle());
    Loaded info;
    info.file = c.file;
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) == 1) info.not_after = timegm(&tm);
    info.dns_names = dns_names_of(leaf);
    store->sni_.add(store->contexts_.size(), info.dns_names);
    store->loaded_.push_back(std::move(info));
    store->contexts_.push_back(std::move(ctx));
  }
  SSL_CTX* first = store->contexts_.front()->native_handle();
  SSL_CTX_set_tlsext_servername_callback(first, on_server_name);
  SSL_CTX_set_tlsext_servername_arg(first, store.get());
  return store;
}

int ServerTls::on_server_name(SSL* ssl, int*, void* arg) {
  const auto* self = static_cast<const ServerTls*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;
  const std::size_t i = self->sni_.choose(name);
  if (i != 0) SSL_set_SSL_CTX(ssl, self->contexts_[i]->native_handle());
  // An unknown name gets the default certificate, never an alert.
  return SSL_TLSEXT_ERR_OK;
}

std::string ServerTls::peer_subject(SSL* ssl) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (!peer || SSL_get_verify_result(ssl) != X509_V_OK) return {};
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  // RFC 2253 flags: the RFC 4514 order and escaping; control characters and bytes over
  // 0x7f escaped, so the string is safe in a header field.
  if (X509_NAME_print_ex(bio.get(), X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace gatehouse::net
