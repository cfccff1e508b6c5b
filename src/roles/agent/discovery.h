// Discovery of a remote agent (docs/protocol.md §5): URI -> SVCB -> KEY for the DNS
// transport and URI -> SVCB -> TLSA for the REST API, every answer validated by libunbound.
// Only a secure answer counts; anything else names the lookup that failed and why.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dns/name.h"
#include "net/asio.h"
#include "net/resolver.h"
#include "roles/agent/identity.h"
#include "roles/agent/message_guard.h"
#include "roles/agent/peer_state.h"

namespace hsync::agent {

// What the DNS lookups found about a peer: how to reach it and the key it signs with.
struct discovered_peer {
    transport_endpoint dns;
    validated_key key;  // the KEY at the DNS target (owner = the SIG(0) signer name)
    // The REST API, when its records are published and secure; else why not.
    std::optional<transport_endpoint> api;
    std::string api_path = "/";
    std::vector<spki_digest> tlsa;
    std::string api_error;  // empty when api is set
    uint32_t ttl = 0;       // the lowest TTL of the records used

    // Address, port and key as one text: a change means the relation starts again (HELLO).
    std::string fingerprint() const;
    // The stored form (key=value lines) and back; from_text returns nullopt on bad text.
    std::string to_text() const;
    static std::optional<discovered_peer> from_text(std::string_view text);
};

struct discovery_outcome {
    std::optional<discovered_peer> found;
    discovery_failure failure = discovery_failure::servfail;  // when !found
    std::string detail;  // "_dns._tcp.agent.p2.lab. URI: bogus (signature expired)"
};

// Looks up `identity`'s records. `want_api`: also the API records (their failure is kept
// in api_error and never fails the discovery: the DNS transport is the fallback).
net::awaitable<discovery_outcome> discover(net::resolver& resolver, const dns::name& identity,
                                           bool want_api);

}  // namespace hsync::agent
