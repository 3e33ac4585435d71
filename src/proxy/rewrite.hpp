// proxy/: the header rules of SPEC section 4, as pure functions over parsed heads.
#pragma once

#include <string>
#include <string_view>

#include "http/body.hpp"
#include "http/message.hpp"

namespace gatehouse::proxy {

struct ForwardInfo {
  std::string_view path;            // path sent upstream (base path joined), no query
  std::string_view host;            // Host sent upstream
  std::string_view client_ip;       // appended to X-Forwarded-For
  std::string_view proto = "http";  // X-Forwarded-Proto
  std::string_view prefix;          // X-Forwarded-Prefix (the matched prefix)
  std::string_view request_id;      // X-Request-Id
  bool websocket = false;           // a WebSocket handshake: Upgrade is forwarded (SPEC 15)
  // X-Client-Cert-Subject: the verified client certificate's subject (mTLS); a copy the
  // client sent is never forwarded, on any listener.
  std::string_view client_cert_subject;
};

// Joins the upstream base path and the request path per `strip_prefix`:
// base "/api", prefix "/users/v1", path "/users/v1/42" -> "/api/42".
void upstream_path(std::string_view base_path, std::string_view prefix, std::string_view path,
                   bool strip_prefix, std::string& out);

// The request head sent upstream: HTTP/1.1, every end-to-end field as it came, no
// hop-by-hop fields, X-Forwarded-*, X-Request-Id, the body framing of the request.
void build_upstream_head(const http::RequestHead& req, const ForwardInfo& info, std::string& out);

using ClientFraming = http::Framing;

// The response head sent to the client: the upstream status and end-to-end fields,
// X-Request-Id, our framing and connection management. `extra` (whole CRLF-ended
// fields: the gateway's RateLimit-* ones) is added, and replaces the upstream's
// RateLimit-Limit/-Remaining/-Reset when not empty.
void build_client_head(const http::ResponseHead& res, ClientFraming framing,
                       std::string_view request_id, bool close, bool http10_keep_alive,
                       std::string& out, std::string_view extra = {});

// The head of a 101 answer to a WebSocket handshake: as build_client_head, but the
// Upgrade field is kept and `Connection: upgrade` sent, and nothing frames a body.
void build_switching_head(const http::ResponseHead& res, std::string_view request_id,
                          std::string& out);

}  // namespace gatehouse::proxy
