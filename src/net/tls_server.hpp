// net/: the TLS server side of the listener (SPEC 12): one context per certificate, all
// set up alike (TLS 1.2+ or 1.3+, ALPN http/1.1, Mozilla "intermediate" ciphers, rotated
// session tickets, no renegotiation, no compression, optional client certificates), and
// the SNI choice among them. Built per config snapshot: a reload makes a new store for
// new handshakes while established connections keep the one they started with.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/io.hpp"
#include "net/sni.hpp"

struct ssl_st;

namespace gatehouse::net {

class ServerTls {
 public:
  struct Certificate {
    std::string file;      // cert_file, for metrics and messages
    std::string cert_pem;  // chain, leaf first
    std::string key_pem;
  };
  struct Settings {
    std::vector<Certificate> certificates;  // [0] is the default
    bool tls13_only = false;
    std::string client_ca_pem;               // "" = no client certificates asked for
  };
  struct Loaded {
    std::string file;
    std::int64_t not_after = 0;  // Unix seconds
    std::vector<std::string> dns_names;
  };

  // Null with `error` set when a certificate, key or CA cannot be used.
  static std::shared_ptr<ServerTls> create(const Settings& settings, std::string& error);
  ~ServerTls();
  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;

  // New connections start from the default context; the SNI callback may switch.
  asio::ssl::context& context() { return *contexts_.front(); }
  bool verifies_clients() const { return verify_clients_; }
  const std::vector<Loaded>& certificates() const { return loaded_; }
  // The index of the certificate chosen for `server_name` (0: the default).
  std::size_t choose(std::string_view server_name) const { return sni_.choose(server_name); }

  // The verified client certificate's subject as an RFC 4514 string; "" without one.
  static std::string peer_subject(ssl_st* ssl);

 private:
  ServerTls() = default;
  static int on_server_name(ssl_st* ssl, int* alert, void* arg);

  std::vector<std::unique_ptr<asio::ssl::context>> contexts_;
  std::vector<Loaded> loaded_;
  SniTable sni_;
  bool verify_clients_ = false;
};

}  // namespace gatehouse::net
