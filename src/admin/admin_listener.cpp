#include "admin/admin_listener.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "admin/admin_address.h"

namespace ferry {

namespace {

// Makes the missing directories of `dir` with mode 0700.
Expected<bool> make_private_dirs(const std::filesystem::path& dir) {
  if (dir.empty()) return true;
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) return true;
  auto parent = make_private_dirs(dir.parent_path());
  if (!parent) return parent;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail("cannot create " + dir.string() + ": " + std::strerror(errno));
  return true;
}

// A socket file left by a ferry that died is replaced; a live one (a
// process accepts on it) or a file of another kind is an error.
Expected<bool> clear_stale_socket(const std::string& path, const asio::any_io_executor& ex) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return true;
  if (!S_ISSOCK(st.st_mode)) return fail(path + " exists and is not a socket");
  asio::local::stream_protocol::socket probe(ex);
  error_code ec;
  probe.connect(asio::local::stream_protocol::endpoint(path), ec);
  if (!ec) return fail("another process is serving on " + path + " (is ferry already running?)");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return fail("cannot remove the stale socket " + path + ": " + std::strerror(errno));
  return true;
}

}  // namespace

Expected<SocketFile> listen_unix(AdminAcceptor& acceptor, const std::string& path) {
  const std::filesystem::path p(path);
  auto dirs = make_private_dirs(p.parent_path());
  if (!dirs) return Unexpected{dirs.error()};
  auto cleared = clear_stale_socket(path, acceptor.get_executor());
  if (!cleared) return Unexpected{cleared.error()};
  const AdminProtocol::endpoint ep{asio::local::stream_protocol::endpoint(path)};
  error_code ec;
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (ec) return fail("cannot listen on " + path + ": " + ec.message());
  // Private before it listens: a connect() until then is refused, so no
  // other user can get in between bind() and chmod().
  struct stat sb {};
  if (::chmod(path.c_str(), 0600) != 0 || ::lstat(path.c_str(), &sb) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(path.c_str());
    return fail("cannot make " + path + " private: " + why);
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    ::unlink(path.c_str());
    return fail("cannot listen on " + path + ": " + ec.message());
  }
  return SocketFile{path, sb.st_dev, sb.st_ino};
}

Expected<tcp::endpoint> listen_tcp(AdminAcceptor& acceptor, const tcp::endpoint& where) {
  const AdminProtocol::endpoint ep{where};
  error_code ec;
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  const AdminAddress shown{{}, where};
  if (ec) return fail("cannot listen on " + shown.to_string() + " (--admin): " + ec.message());
  const auto local = acceptor.local_endpoint(ec);
  tcp::endpoint out;
  if (ec || local.size() > out.capacity()) return fail("cannot read the admin listener's address: " + ec.message());
  std::memcpy(out.data(), local.data(), local.size());
  out.resize(local.size());
  return out;
}

void remove_socket_file(const SocketFile& file) {
  if (file.path.empty()) return;
  struct stat sb {};
  if (::lstat(file.path.c_str(), &sb) == 0 && sb.st_dev == file.dev && sb.st_ino == file.ino)
    ::unlink(file.path.c_str());
}

}  // namespace ferry
