// How hsyncd creates and drives its one role (docs/architecture.md). roles.cc holds the
// implementation; the daemon shell (main.cc) only sees these functions, so adding a role
// never touches the shell.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "cmd/hsyncd/config.h"
#include "net/asio.h"
#include "roles/role.h"

namespace hsync::hsyncd {

// True if this build can run `role` (config.role); the others exit 2 "not implemented yet".
bool role_implemented(std::string_view role);

// Creates the role for a validated configuration and starts it on `io` (sockets bound,
// zones loading). Runs on the loop thread; the role must only be used from that thread.
// Throws std::exception with an operator-readable text when it cannot start (e.g. a
// listen address in use).
std::unique_ptr<roles::role> make_role(const config& cfg, net::asio::io_context& io);

// SIGHUP: `next` is a new, validated configuration with the same role. Applies what can
// change while running (zones added, removed or changed, keys, ACLs, limits) and reloads
// zone files. Returns an error text, empty on success; on error the role keeps serving.
std::string reconfigure_role(roles::role& role, const config& previous, const config& next);

// SIGTERM/SIGINT: stop accepting work and close sockets; pending work may be dropped.
void stop_role(roles::role& role);

}  // namespace hsync::hsyncd
