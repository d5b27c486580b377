#pragma once
// One event-loop thread with its own io_context and origin pool: sessions
// never share mutable state across threads.
#include <list>
#include <thread>

#include "server/client_connection.h"
#include "server/origin_pool.h"

namespace ferry {

class Worker {
 public:
  explicit Worker(ServerContext& ctx) : ctx_(ctx), snapshots_(ctx.snapshots) {}
  asio::io_context& io() { return io_; }
  ServerContext& ctx() { return ctx_; }
  OriginPool& pool() { return pool_; }
  // The current configuration snapshot, as this thread last saw it.
  const SnapshotPtr& snapshot() { return snapshots_.get(); }

  // Sessions register so a shutdown can close the ones that sit idle.
  std::list<ClientConnection*>::iterator track(ClientConnection* c) { return sessions_.insert(sessions_.end(), c); }
  void untrack(std::list<ClientConnection*>::iterator it) { sessions_.erase(it); }
  // Called on this worker's thread when draining starts.
  void close_idle_sessions();
  // Called on this worker's thread when a client's token stops working (a
  // run deleted or expired): its connections and tunnels end now.
  void close_sessions_of(const std::string& client_id);
  // SOCKS5 and fixed tunnels register too: their client id (set once
  // authenticated) and the stream to cancel.
  struct RawTunnel {
    const std::string* client_id;
    ByteStream* client;
  };
  std::list<RawTunnel>::iterator track_raw(RawTunnel t) { return raw_.insert(raw_.end(), t); }
  void untrack_raw(std::list<RawTunnel>::iterator it) { raw_.erase(it); }

 private:
  ServerContext& ctx_;
  SnapshotCache snapshots_;
  asio::io_context io_{1};
  OriginPool pool_;
  std::list<ClientConnection*> sessions_;
  std::list<RawTunnel> raw_;
};

}  // namespace ferry
