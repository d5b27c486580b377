#pragma once
// What a forwarding stage borrows (two scripted peers, their buffers, the
// session's deadline), and a run of the stage raced against the deadline's
// watcher as a client session runs it.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "scripted_stream.h"
#include "server/deadline.h"

namespace ferry::test {

struct StageBed {
  asio::io_context io;
  ScriptedStream client{io.get_executor()};
  ScriptedStream origin{io.get_executor()};
  ReadBuffer client_buf;
  ReadBuffer origin_buf;
  Deadline deadline{io.get_executor()};

  // Runs `stage` (a callable returning awaitable<void>) to its end or for
  // at most 10 s; true when it ended.
  template <class Stage>
  bool run_stage(Stage stage) {
    bool done = false;
    auto body = [&]() -> awaitable<void> {
      co_await stage();
      done = true;
    };
    auto watched = [&]() -> awaitable<void> {
      using namespace asio::experimental::awaitable_operators;
      co_await (body() || deadline.watch());
    };
    asio::co_spawn(io, watched, asio::detached);
    io.run_for(std::chrono::seconds(10));
    return done;
  }
};

}  // namespace ferry::test
