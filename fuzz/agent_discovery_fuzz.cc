// Discovery's readers on arbitrary bytes: the stored form of a discovered peer
// (discovered_peer::from_text: nullopt or a peer whose text reads back to the same text),
// a URI target (parse_uri_target: a host name, a port other than 0), URI, SVCB and TLSA
// RDATA (never a crash; a TLSA 3 1 1 digest is the input's last 32 octets). Every reader
// sees every input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "dns/name.h"
#include "roles/agent/discovery.h"
#include "roles/agent/identity.h"

using namespace hsync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> bytes(data, size);
    std::string_view text(reinterpret_cast<const char*>(data), size);

    if (auto p = agent::discovered_peer::from_text(text)) {
        // What was read writes a text that reads back to itself.
        std::string once = p->to_text();
        auto again = agent::discovered_peer::from_text(once);
        if (!again || again->to_text() != once) __builtin_trap();
        if (again->fingerprint() != p->fingerprint()) __builtin_trap();
    }

    if (auto t = agent::parse_uri_target(text)) {
        if (t->port == 0 || t->scheme.empty() || t->path.empty() || t->path[0] != '/')
            __builtin_trap();
    }

    if (auto target = agent::uri_rdata_target(bytes)) {
        if (target->size() + 4 != size) __builtin_trap();
        (void)agent::parse_uri_target(*target);
    }

    dns::name svcb_target;
    if (auto addresses = agent::svcb_addresses(bytes, &svcb_target)) {
        if (addresses->size() > size / 4) __builtin_trap();
    }

    if (auto digest = agent::tlsa_311(bytes)) {
        if (size != 35 || !std::equal(digest->begin(), digest->end(), data + 3)) __builtin_trap();
    }
    return 0;
}
