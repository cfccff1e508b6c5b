// The parent role's lookups through libunbound (net/resolver.h): for each scan, one
// validating resolver per nameserver address of the child, with a stub zone that sends
// the child's queries to exactly that address (never through a recursive resolver), the
// chain of trust above the child coming from the configured forwarder or stubs.
#pragma once

#include "net/resolver.h"
#include "roles/parent/parent_role.h"

namespace hsync::parent {

// `base`: trust anchors, forwarder, stubs for the zones above the children, timeout.
fetch_factory resolver_fetch(net::asio::any_io_executor ex, net::resolver_options base);

// The scanner's view of a resolver's answer.
validated_rrset to_validated(const net::resolve_result& r);

}  // namespace hsync::parent
