// RunSync: runs an awaitable to completion on a private io_context.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <optional>
#include <utility>

namespace gantry::testing {

// co_spawn needs a default-constructible result; Result<T> is not, so wrap it.
template <typename T>
boost::asio::awaitable<std::optional<T>> WrapOptional(boost::asio::awaitable<T> aw) {
  co_return std::optional<T>(co_await std::move(aw));
}

template <typename T>
T RunSync(boost::asio::awaitable<T> aw) {
  boost::asio::io_context io;
  auto fut = boost::asio::co_spawn(io, WrapOptional(std::move(aw)), boost::asio::use_future);
  io.run();
  return std::move(*fut.get());
}

}  // namespace gantry::testing
