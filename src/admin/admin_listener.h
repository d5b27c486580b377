#pragma once
// The admin listener's socket: a unix socket made private before it
// listens, or a TCP one. One acceptor type serves both (asio's generic
// stream protocol), so the sessions above do not care which.
#include <sys/types.h>

#include <boost/asio/generic/stream_protocol.hpp>

#include <string>

#include "base/expected.h"
#include "net/asio.h"

namespace ferry {

using AdminProtocol = asio::generic::stream_protocol;
using AdminAcceptor = asio::basic_socket_acceptor<AdminProtocol>;

// The socket file a listener made, to remove it at stop only if it is
// still that file (not one another ferry has put there since).
struct SocketFile {
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
};

// Makes the missing parent directories 0700, replaces a stale socket file
// (one nobody accepts on), refuses a live socket or a file of another kind,
// binds, makes the socket 0600, then listens: until listen() a connect() is
// refused, so no other user can get in between bind() and chmod().
Expected<SocketFile> listen_unix(AdminAcceptor& acceptor, const std::string& path);
// Returns the bound address (a port 0 resolved). Errors name the address.
Expected<tcp::endpoint> listen_tcp(AdminAcceptor& acceptor, const tcp::endpoint& where);
void remove_socket_file(const SocketFile& file);

}  // namespace ferry
