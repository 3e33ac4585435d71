// net/: the keys that seal TLS session tickets, shared by every TLS context of the process
// (so tickets survive a reload), rotated: new tickets are sealed with a key at most one
// period old, and tickets sealed with the previous key are still accepted (and renewed).
#pragma once

#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <vector>

struct ssl_st;
struct evp_cipher_ctx_st;
struct evp_mac_ctx_st;

namespace gatehouse::net {

class TicketKeys {
 public:
  using Clock = std::chrono::steady_clock;
  struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};   // AES-256-CBC
    std::array<unsigned char, 32> hmac{};  // HMAC-SHA256
    Clock::time_point made{};
  };

  explicit TicketKeys(std::chrono::seconds period = std::chrono::hours(1)) : period_(period) {}

  // The key new tickets are sealed with; a fresh one once the current is a period old
  // (nullopt only when no random key could be made: then no ticket is issued).
  std::optional<Key> current(Clock::time_point now);
  // The key named `name` while it may still open tickets (the current one, or the
  // previous one for one more period); `renew` says the ticket should be replaced.
  std::optional<Key> find(const unsigned char* name, Clock::time_point now, bool& renew);

  // The process's keys.
  static TicketKeys& process();
  // OpenSSL's ticket key callback (SSL_CTX_set_tlsext_ticket_key_evp_cb) over process().
  static int callback(ssl_st* ssl, unsigned char* key_name, unsigned char* iv,
                      evp_cipher_ctx_st* cipher, evp_mac_ctx_st* mac, int enc);

 private:
  const std::chrono::seconds period_;
  std::mutex mutex_;
  std::vector<Key> keys_;  // newest last; at most two
};

}  // namespace gatehouse::net
