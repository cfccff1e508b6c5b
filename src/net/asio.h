// The one way hsync includes Boost.Asio, so every file gets the same configuration.
//
// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>, and its
// coroutine detection misses clang 14 (CMakeLists.txt defines the macros for clang).
#pragma once

#include <coroutine>
#include <utility>

#include <boost/asio.hpp>

namespace hsync::net {
namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
}  // namespace hsync::net
