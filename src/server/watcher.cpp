#include "server/watcher.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gatehouse::server {

namespace asio = boost::asio;

namespace {
constexpr std::uint32_t kDirEvents =
    IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB;
constexpr std::uint32_t kFileEvents =
    IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

FileWatcher::FileWatcher(asio::io_context& ctx, std::string path, std::function<void()> on_change,
                         std::chrono::milliseconds debounce)
    : ctx_(ctx),
      path_(std::move(path)),
      dir_(directory_of(path_)),
      base_(path_.substr(path_.find_last_of('/') == std::string::npos ? 0
                                                                     : path_.find_last_of('/') + 1)),
      on_change_(std::move(on_change)),
      debounce_(debounce),
      stream_(ctx),
      timer_(ctx) {}

FileWatcher::~FileWatcher() { stop(); }

bool FileWatcher::start(std::string& error) {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    error = std::string("inotify_init1: ") + std::strerror(errno);
    return false;
  }
  // The directory catches renames over the file and ConfigMap symlink swaps (a new
  // `..data` appears); the file watch (which follows symlinks to the real file) catches
  // in-place writes, also when the file lives elsewhere behind a symlink.
  if (inotify_add_watch(fd, dir_.c_str(), kDirEvents) < 0) {
    error = "cannot watch " + dir_ + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  stream_.assign(fd);
  watch_file();
  read_events();
  return true;
}

void FileWatcher::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  timer_.cancel();
  stream_.close(ignored);
}

void FileWatcher::watch_file() {
  if (!stream_.is_open()) return;
  if (file_wd_ >= 0) inotify_rm_watch(stream_.native_handle(), file_wd_);
  file_wd_ = inotify_add_watch(stream_.native_handle(), path_.c_str(), kFileEvents);
}

void FileWatcher::read_events() {
  stream_.async_read_some(asio::buffer(events_), [this](const boost::system::error_code& ec,
                                                        std::size_t n) {
    if (ec || stopped_) return;
    // Other files in the directory are none of our business (a busy neighbour must not
    // keep postponing our reload); the reload itself compares the file's content.
    bool relevant = false;
    for (std::size_t off = 0; off + sizeof(inotify_event) <= n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(events_ + off);
      if (ev->wd == file_wd_ || (ev->mask & IN_Q_OVERFLOW)) {
        relevant = true;
      } else if (ev->len > 0) {
        const std::string_view name(ev->name);
        if (name == base_ || name.starts_with("..")) relevant = true;  // ConfigMap ..data
      }
      off += sizeof(inotify_event) + ev->len;
    }
    if (relevant) schedule();
    read_events();
  });
}

void FileWatcher::schedule() {
  // Each event restarts the quiet period, but a file that never stops changing is
  // still reloaded every few debounce periods.
  const auto now = std::chrono::steady_clock::now();
  if (!pending_) {
    pending_ = true;
    first_event_ = now;
  }
  const auto latest = first_event_ + 5 * debounce_;
  timer_.expires_at(std::min(now + debounce_, latest));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    pending_ = false;
    watch_file();
    on_change_();
  });
}

}  // namespace gatehouse::server
