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

std::string base_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
}  // namespace

FileWatcher::FileWatcher(asio::io_context& ctx, std::vector<std::string> paths,
                         std::function<void()> on_change, std::chrono::milliseconds debounce)
    : ctx_(ctx),
      paths_(std::move(paths)),
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
  stream_.assign(fd);
  if (!watch_dirs(error)) {
    boost::system::error_code ignored;
    stream_.close(ignored);
    return false;
  }
  watch_files();
  read_events();
  return true;
}

bool FileWatcher::set_paths(std::vector<std::string> paths, std::string& error) {
  paths_ = std::move(paths);
  if (!stream_.is_open()) return true;
  // A directory no file lives in any more keeps its watch; its events are ignored below.
  const bool ok = watch_dirs(error);
  watch_files();
  return ok;
}

bool FileWatcher::watch_dirs(std::string& error) {
  // The directory catches renames over the file and ConfigMap/Secret symlink swaps (a
  // new `..data` appears); the file watch (which follows symlinks to the real file)
  // catches in-place writes, also when the file lives elsewhere behind a symlink.
  std::vector<Watched> next;
  for (const auto& p : paths_) {
    Watched w{directory_of(p), base_of(p)};
    w.dir_wd = inotify_add_watch(stream_.native_handle(), w.dir.c_str(), kDirEvents);
    if (w.dir_wd < 0) {
      error = "cannot watch " + w.dir + ": " + std::strerror(errno);
      return false;
    }
    next.push_back(std::move(w));
  }
  for (const auto& old : watched_)
    if (old.file_wd >= 0) inotify_rm_watch(stream_.native_handle(), old.file_wd);
  watched_ = std::move(next);
  return true;
}

void FileWatcher::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  timer_.cancel();
  stream_.close(ignored);
}

void FileWatcher::watch_files() {
  if (!stream_.is_open()) return;
  // Watch descriptors are per inode: two paths to one file share one, so every old one
  // goes before any is added again.
  for (auto& w : watched_)
    if (w.file_wd >= 0) inotify_rm_watch(stream_.native_handle(), w.file_wd);
  for (std::size_t i = 0; i < watched_.size(); ++i)
    watched_[i].file_wd = inotify_add_watch(stream_.native_handle(), paths_[i].c_str(), kFileEvents);
}

void FileWatcher::read_events() {
  stream_.async_read_some(asio::buffer(events_), [this](const boost::system::error_code& ec,
                                                        std::size_t n) {
    if (ec || stopped_) return;
    // Other files in the directories are none of our business (a busy neighbour must
    // not keep postponing our reload); the reload itself compares the files' content.
    bool relevant = false;
    for (std::size_t off = 0; off + sizeof(inotify_event) <= n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(events_ + off);
      if (ev->mask & IN_Q_OVERFLOW) relevant = true;
      const std::string_view name = ev->len > 0 ? std::string_view(ev->name) : std::string_view();
      for (const auto& w : watched_) {
        if (ev->wd == w.file_wd ||
            (ev->wd == w.dir_wd && !name.empty() && (name == w.base || name.starts_with(".."))))
          relevant = true;  // `..data`: a ConfigMap or Secret swap
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
    watch_files();
    on_change_();
  });
}

}  // namespace gatehouse::server
