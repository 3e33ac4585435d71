#include "net/tls_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace gatehouse::net {

std::shared_ptr<asio::ssl::context> make_client_context(bool verify, const std::string* ca_file,
                                                        std::string& error) {
  namespace ssl = asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  if (!verify) {
    ctx->set_verify_mode(ssl::verify_none, ec);
    return ctx;
  }
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (ca_file) {
    ctx->load_verify_file(*ca_file, ec);
    if (ec) {
      error = "cannot load tls.ca_file " + *ca_file + ": " + ec.message();
      return nullptr;
    }
  } else {
    ctx->set_default_verify_paths(ec);
  }
  return ctx;
}

void prepare_client(ssl_st* ssl, const std::string& server_name, bool verify) {
  error_code ec;
  const bool is_ip = (asio::ip::make_address(server_name, ec), !ec);
  if (!is_ip) SSL_set_tlsext_host_name(ssl, server_name.c_str());
  if (!verify) return;
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (is_ip)
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str());
  else
    SSL_set1_host(ssl, server_name.c_str());
}

}  // namespace gatehouse::net
