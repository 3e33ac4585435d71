// net/: the TLS client side: a context per trust setting, and what each connection sets
// before its handshake (SNI, the peer-name check).
#pragma once

#include <memory>
#include <string>

#include "net/io.hpp"

struct ssl_st;

namespace gatehouse::net {

// TLS 1.2 or later; with `verify`, peers are checked against `ca_file` (null: the system
// store). Null with `error` set when the trust store cannot be loaded.
std::shared_ptr<asio::ssl::context> make_client_context(bool verify, const std::string* ca_file,
                                                        std::string& error);

// SNI for names (never for IP literals) and, with `verify`, the certificate must name
// `server_name` (a name without partial wildcards, or the IP address).
void prepare_client(ssl_st* ssl, const std::string& server_name, bool verify);

}  // namespace gatehouse::net
