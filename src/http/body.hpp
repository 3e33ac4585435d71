// http/: message body framing as a codec, apart from any I/O: a reader that turns the
// bytes of a message into body pieces (by length, chunked, or until the connection
// closes, with a size limit) and a writer that frames pieces for the other side (none,
// length, chunked, until close). The proxy's relay loops are one loop over these.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/chunked.hpp"
#include "http/message.hpp"

namespace gatehouse::http {

class BodyReader {
 public:
  enum class Status { more, done, error, too_large };

  // A new message body. `limit` bounds the body's size (a declared length over it is
  // refused here, a chunked body as it grows). No body at all is done at once.
  Status start(BodyKind kind, std::uint64_t length,
               std::uint64_t limit = UINT64_MAX) {
    kind_ = kind;
    remaining_ = kind == BodyKind::length ? length : 0;
    limit_ = limit;
    done_ = kind == BodyKind::none || (kind == BodyKind::length && length == 0);
    if (kind == BodyKind::chunked) decoder_.reset();
    if (kind == BodyKind::length && length > limit) return Status::too_large;
    return done_ ? Status::done : Status::more;
  }

  // Consumes from `in`, calling on_piece(view) for each piece of body data (views into
  // `in`: length and until-close bodies give exactly one piece per call). `consumed`
  // is what belongs to this body; the bytes after a complete body are the next
  // message's (or junk).
  template <class OnPiece>
  Status feed(std::string_view in, std::size_t& consumed, OnPiece&& on_piece) {
    consumed = 0;
    if (done_) return Status::done;
    switch (kind_) {
      case BodyKind::none:
        return Status::done;
      case BodyKind::length: {
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size()));
        if (take > 0) on_piece(in.substr(0, take));
        consumed = take;
        remaining_ -= take;
        done_ = remaining_ == 0;
        return done_ ? Status::done : Status::more;
      }
      case BodyKind::until_close:
        if (!in.empty()) on_piece(in);
        consumed = in.size();
        return Status::more;
      case BodyKind::chunked: {
        const auto r = decoder_.decode(in, consumed, on_piece);
        if (r == ChunkedDecoder::Result::error) return Status::error;
        if (decoder_.body_bytes() > limit_) return Status::too_large;
        done_ = r == ChunkedDecoder::Result::done;
        return done_ ? Status::done : Status::more;
      }
    }
    return Status::error;
  }

  // The peer closed the connection: the end of an until-close body, an error otherwise.
  Status end_of_input() {
    if (kind_ != BodyKind::until_close) return done_ ? Status::done : Status::error;
    done_ = true;
    return Status::done;
  }

  bool done() const { return done_; }
  BodyKind kind() const { return kind_; }
  // Body bytes that come next as they are, with no framing to decode: the rest of a
  // length body, or of the current chunk's data. A caller may move up to that many
  // bytes without feeding them (splice) and then report them with skip().
  std::uint64_t direct_span() const {
    if (done_) return 0;
    if (kind_ == BodyKind::length) return remaining_;
    if (kind_ == BodyKind::chunked) return decoder_.data_left();
    return 0;
  }
  // `n` body bytes (at most direct_span()) went past this reader; a length body may be
  // done then. The size limit was checked when the chunk's size line was read.
  Status skip(std::uint64_t n) {
    if (kind_ == BodyKind::length) {
      remaining_ -= std::min(n, remaining_);
      done_ = remaining_ == 0;
    } else if (kind_ == BodyKind::chunked) {
      decoder_.skip_data(n);
    }
    return done_ ? Status::done : Status::more;
  }
  // How much to read next at most: a length body never reads past its end.
  std::size_t next_read(std::size_t buffer) const {
    if (kind_ != BodyKind::length) return buffer;
    return static_cast<std::size_t>(std::min<std::uint64_t>(buffer, remaining_));
  }

 private:
  BodyKind kind_ = BodyKind::none;
  std::uint64_t remaining_ = 0;
  std::uint64_t limit_ = UINT64_MAX;
  bool done_ = true;
  ChunkedDecoder decoder_;
};

// How a body is framed towards its receiver.
enum class Framing { none, length, chunked, until_close };

class BodyWriter {
 public:
  void start(Framing framing) { framing_ = framing; }
  Framing framing() const { return framing_; }
  // Length and until-close bodies carry the pieces as they are (callers write the piece
  // itself, without copying it here).
  bool identity() const { return framing_ != Framing::chunked; }

  // Appends `piece` in this framing.
  void piece(std::string_view data, std::string& out) const {
    if (framing_ == Framing::chunked) {
      if (data.empty()) return;  // an empty chunk would end the body
      append_chunk_size(data.size(), out);
      out.append(data);
      out.append("\r\n");
    } else {
      out.append(data);
    }
  }
  // Appends the end of the body (the last chunk; nothing for the other framings).
  void finish(std::string& out) const {
    if (framing_ == Framing::chunked) out.append("0\r\n\r\n");
  }

 private:
  static void append_chunk_size(std::size_t size, std::string& out);
  Framing framing_ = Framing::none;
};

}  // namespace gatehouse::http
