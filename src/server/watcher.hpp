// server/: notices changes to the config file and the files it names that a reload
// re-reads (the listener's certificates and keys), however they are made: an in-place
// write, an atomic rename over the file, or a Kubernetes ConfigMap or Secret update (the
// `..data` symlink swapped in the file's directory). Bursts are debounced into one
// callback.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace gatehouse::server {

class FileWatcher {
 public:
  FileWatcher(boost::asio::io_context& ctx, std::vector<std::string> paths,
              std::function<void()> on_change,
              std::chrono::milliseconds debounce = std::chrono::milliseconds(200));
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Returns false (with `error`) when inotify cannot watch a directory.
  bool start(std::string& error);
  void stop();
  // Watches these files from now on (a reload changed the certificate files); false
  // with `error` when a new directory cannot be watched.
  bool set_paths(std::vector<std::string> paths, std::string& error);
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  struct Watched {
    std::string dir;
    std::string base;  // the file's name in dir
    int dir_wd = -1;
    int file_wd = -1;
  };
  bool watch_dirs(std::string& error);
  void read_events();
  void watch_files();  // (re)watches the files themselves: an inode changes on every rename
  void schedule();

  boost::asio::io_context& ctx_;
  std::vector<std::string> paths_;
  std::vector<Watched> watched_;  // parallel to paths_
  std::function<void()> on_change_;
  std::chrono::milliseconds debounce_;
  boost::asio::posix::stream_descriptor stream_;
  boost::asio::steady_timer timer_;
  bool pending_ = false;
  std::chrono::steady_clock::time_point first_event_{};
  bool stopped_ = false;
  alignas(8) char events_[8192];
};

}  // namespace gatehouse::server
