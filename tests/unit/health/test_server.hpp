// A tiny blocking HTTP/1.1 upstream for health checker tests: one thread, 127.0.0.1
// on port 0, answers every request with the status set by the test (0 = never answer),
// optionally over TLS with a certificate made at test time.
#pragma once

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace gatehouse::testing {

// A self-signed certificate for IP 127.0.0.1 and its key, in memory and as a PEM file.
class TestCert {
 public:
  explicit TestCert(const std::string& name) {
    key_ = EVP_EC_gen("P-256");
    cert_ = X509_new();
    X509_set_version(cert_, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert_), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert_), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert_), 24 * 3600);
    X509_set_pubkey(cert_, key_);
    X509_NAME* subject = X509_get_subject_name(cert_);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert_, subject);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert_, cert_, nullptr, nullptr, 0);
    X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
    X509_add_ext(cert_, san, -1);
    X509_EXTENSION_free(san);
    X509_sign(cert_, key_, EVP_sha256());
    path_ = std::filesystem::temp_directory_path() /
            ("gh-health-" + name + "-" + std::to_string(::getpid()) + ".pem");
    FILE* f = std::fopen(path_.c_str(), "w");
    if (f == nullptr) throw std::runtime_error("cannot write " + path_.string());
    PEM_write_X509(f, cert_);
    std::fclose(f);
  }
  ~TestCert() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
    X509_free(cert_);
    EVP_PKEY_free(key_);
  }
  TestCert(const TestCert&) = delete;
  TestCert& operator=(const TestCert&) = delete;

  std::string pem_file() const { return path_.string(); }
  X509* cert() const { return cert_; }
  EVP_PKEY* key() const { return key_; }

 private:
  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
  std::filesystem::path path_;
};

class TestServer {
 public:
  explicit TestServer(const TestCert* tls = nullptr) {
    // A client that gives up (a probe's timeout) may close before the answer is written:
    // that write must fail, not kill the test binary with SIGPIPE.
    ::signal(SIGPIPE, SIG_IGN);
    if (tls != nullptr) {
      ctx_ = SSL_CTX_new(TLS_server_method());
      SSL_CTX_use_certificate(ctx_, tls->cert());
      SSL_CTX_use_PrivateKey(ctx_, tls->key());
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 64) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1:0");
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~TestServer() {
    stop_.store(true);
    thread_.join();
    for (int fd : held_) ::close(fd);
    ::close(fd_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::uint16_t port() const { return port_; }
  void set_status(int status) { status_.store(status); }
  int requests() const { return requests_.load(); }
  std::string last_request() const {
    std::lock_guard lock(mutex_);
    return last_request_;
  }

 private:
  void run() {
    while (!stop_.load()) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      serve(conn);
    }
  }

  // Reads one request head (stop-aware) and answers it, or holds the connection open.
  void serve(int conn) {
    SSL* ssl = nullptr;
    if (ctx_ != nullptr) {
      ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, conn);
      if (SSL_accept(ssl) != 1) {  // e.g. the client refused our certificate
        SSL_free(ssl);
        ::close(conn);
        return;
      }
    }
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos && !stop_.load()) {
      if (ssl == nullptr || SSL_pending(ssl) == 0) {
        pollfd p{conn, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
      }
      const int n = ssl != nullptr ? SSL_read(ssl, buf, sizeof buf)
                                   : static_cast<int>(::read(conn, buf, sizeof buf));
      if (n <= 0) break;
      head.append(buf, static_cast<std::size_t>(n));
    }
    if (head.find("\r\n\r\n") != std::string::npos) {
      {
        std::lock_guard lock(mutex_);
        last_request_ = head;
      }
      requests_.fetch_add(1);
      const int status = status_.load();
      if (status != 0) {
        const std::string body = "{\"ok\":" + std::string(status < 400 ? "true" : "false") + "}";
        const std::string response = "HTTP/1.1 " + std::to_string(status) +
                                     " X\r\nContent-Type: application/json\r\nContent-Length: " +
                                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
                                     body;
        if (ssl != nullptr) {
          SSL_write(ssl, response.data(), static_cast<int>(response.size()));
        } else if (::write(conn, response.data(), response.size()) < 0) {
          // The prober gave up first; nothing to do.
        }
      } else if (ssl == nullptr) {
        held_.push_back(conn);  // never answered; closed when the server stops
        return;
      }
    }
    if (ssl != nullptr) SSL_free(ssl);
    ::close(conn);
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  std::atomic<int> status_{200};
  std::atomic<int> requests_{0};
  std::atomic<bool> stop_{false};
  std::vector<int> held_;
  mutable std::mutex mutex_;
  std::string last_request_;
  std::thread thread_;
};

// Polls `done` until it holds or `limit` passes (no fixed sleeps in tests).
template <class F>
bool eventually(F done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return done();
}

}  // namespace gatehouse::testing
