#include "server/origin_pool.h"

#include <sys/socket.h>

namespace ferry {

bool OriginPool::still_usable(ByteStream& conn) {
  if (conn.has_buffered_input()) return false;
  auto& s = conn.socket();
  if (!s.is_open()) return false;
  if (!conn.is_plain_tcp()) {
    // TLS: a readable socket may hold only records that carry no data
    // (TLS 1.3 session tickets, sent right after the handshake: a
    // connection dialled ahead of its first request has them waiting).
    // Reading takes those; a data byte, an alert or the end is a reason to
    // discard the connection, which is then closed anyway.
    char probe;
    error_code ec;
    const size_t n = conn.read_available(asio::buffer(&probe, 1), ec);
    return n == 0 && ec == asio::error::would_block;
  }
  char probe;
  ssize_t n = ::recv(s.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
  // EAGAIN: open and quiet. 0: the origin closed. >0: bytes nobody asked for
  // (or a TLS alert) — either way the connection is not reusable.
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// The most recently used connection is at the back; older ones stay for
// requests that may take them. Entries past the TTL or no longer usable are
// closed on the way; those `accept` declines stay as they were.
template <class Accept>
ByteStreamPtr OriginPool::take_where(const std::string& key, Clock::duration max_idle, const Accept& accept) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  const auto now = Clock::now();
  for (size_t i = list.size(); i-- > 0;) {
    if (!(max_idle >= ttl_ || now - list[i].since < max_idle)) break;  // older ones are older still
    const bool usable = now - list[i].since < ttl_ && still_usable(*list[i].conn);
    if (usable && !accept(*list[i].conn)) continue;
    ByteStreamPtr conn = std::move(list[i].conn);
    list.erase(list.begin() + std::ptrdiff_t(i));
    --total_;
    if (usable) return conn;
    conn->close();
  }
  return nullptr;
}

ByteStreamPtr OriginPool::take(const std::string& key, Clock::duration max_idle) {
  return take_where(key, max_idle, [](ByteStream&) { return true; });
}

ByteStreamPtr OriginPool::take_if(const std::string& key, Clock::duration max_idle,
                                  const std::function<bool(ByteStream&)>& accept) {
  return take_where(key, max_idle, accept);
}

void OriginPool::put(const std::string& key, ByteStreamPtr conn) {
  if (total_ >= max_total_) sweep();
  auto& list = idle_[key];
  if (list.size() >= max_per_origin_ || total_ >= max_total_) {
    conn->close();
    return;
  }
  list.push_back({std::move(conn), Clock::now()});
  ++total_;
}

void OriginPool::sweep() {
  const auto now = Clock::now();
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& list = it->second;
    std::erase_if(list, [&](Idle& e) {
      if (now - e.since < ttl_) return false;
      e.conn->close();
      --total_;
      return true;
    });
    it = list.empty() ? idle_.erase(it) : std::next(it);
  }
}

void OriginPool::clear() {
  for (auto& [k, list] : idle_)
    for (auto& e : list) e.conn->close();
  idle_.clear();
  total_ = 0;
}

}  // namespace ferry
