#include "net/ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

namespace gatehouse::net {

namespace {
bool make_key(TicketKeys::Key& k, TicketKeys::Clock::time_point now) {
  k.made = now;
  return RAND_bytes(k.name.data(), static_cast<int>(k.name.size())) == 1 &&
         RAND_bytes(k.aes.data(), static_cast<int>(k.aes.size())) == 1 &&
         RAND_bytes(k.hmac.data(), static_cast<int>(k.hmac.size())) == 1;
}
// AES-256-CBC fetched once: EVP_aes_256_cbc() is fetched again from the provider on
// every initialisation, twice per resumed handshake.
const EVP_CIPHER* ticket_cipher() {
  static EVP_CIPHER* fetched = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return fetched;
}
}  // namespace

std::optional<TicketKeys::Key> TicketKeys::current(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (keys_.empty() || now - keys_.back().made >= period_) {
    Key k;
    if (!make_key(k, now)) return std::nullopt;  // no randomness: no tickets
    keys_.push_back(k);
    if (keys_.size() > 2) keys_.erase(keys_.begin());
  }
  return keys_.back();
}

std::optional<TicketKeys::Key> TicketKeys::find(const unsigned char* name, Clock::time_point now,
                                                bool& renew) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = keys_.size(); i-- > 0;) {
    const Key& k = keys_[i];
    if (std::memcmp(k.name.data(), name, k.name.size()) != 0) continue;
    // A key seals tickets for one period and opens them for one more.
    if (now - k.made >= 2 * period_) return std::nullopt;
    renew = i + 1 != keys_.size() || now - k.made >= period_;
    return k;
  }
  return std::nullopt;
}

TicketKeys& TicketKeys::process() {
  static TicketKeys keys;
  return keys;
}

int TicketKeys::callback(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                         EVP_MAC_CTX* mac, int enc) {
  const EVP_CIPHER* cipher_type = ticket_cipher();
  if (cipher_type == nullptr) return enc ? 0 : -1;  // no AES: no tickets
  const auto now = Clock::now();
  Key key;
  int result = 1;
  if (enc) {
    auto made = process().current(now);
    if (!made) return 0;  // no ticket
    key = *made;
    std::memcpy(key_name, key.name.data(), key.name.size());
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher_type)) != 1) return -1;
  } else {
    bool renew = false;
    auto found = process().find(key_name, now, renew);
    if (!found) return 0;  // unknown or retired key: a full handshake
    key = *found;
    // 2: open it and issue a new ticket. Always in TLS 1.3, whose tickets are for one use
    // (RFC 8446 C.4): OpenSSL issues none after a resumption unless asked.
    result = renew || SSL_version(ssl) == TLS1_3_VERSION ? 2 : 1;
  }
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  const int ok = enc ? EVP_EncryptInit_ex(cipher, cipher_type, nullptr, key.aes.data(), iv)
                     : EVP_DecryptInit_ex(cipher, cipher_type, nullptr, key.aes.data(), iv);
  return ok == 1 ? result : -1;
}

}  // namespace gatehouse::net
