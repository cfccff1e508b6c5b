// The agent's parsers on arbitrary bytes: the stored form of a peer relation
// (peer_relation::from_text: throws std::invalid_argument or succeeds, and what it reads
// writes back to the same text) and a zone's HSYNC RRset (read_hsync: any RDATA, never a
// crash; every entry it keeps has State, NSMgmt and Sign of 1 or 2; a set differs from
// itself in nothing), the Multi-Signer EDNS option's codec (what from_wire accepts
// to_wire writes back byte for byte), the body of hsync's process operations (what
// decode_sync accepts encodes and decodes to the same), and the stored form of a process
// (zone_process::from_text: throws or reads back what it writes). The first byte picks
// the parser ('Y': the body, 'P': the process, else by its value modulo 3).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "dns/edns.h"
#include "dns/error.h"
#include "dns/rdata.h"
#include "dns/rr.h"
#include "roles/agent/hsync_set.h"
#include "roles/agent/messages.h"
#include "roles/agent/process.h"
#include "roles/agent/peer_state.h"

using namespace hsync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t* p = data + 1;
    size_t n = size - 1;
    if (data[0] == 'Y') {  // before the selectors below, which it would otherwise share
        try {
            auto o = dns::multi_signer_option::from_wire({p, n});
            if (auto b = agent::decode_sync(o)) {
                dns::multi_signer_option again;
                again.body = agent::encode_sync(*b);
                if (agent::decode_sync(again) != b) __builtin_trap();
            }
        } catch (const dns::dns_error&) {
        }
        return 0;
    }
    if (data[0] == 'P') {
        std::string text(reinterpret_cast<const char*>(p), n);
        try {
            auto z = agent::zone_process::from_text(text);
            std::string again = z.to_text();
            if (agent::zone_process::from_text(again).to_text() != again) __builtin_trap();
        } catch (const std::invalid_argument&) {
        } catch (const dns::dns_error&) {
        }
        return 0;
    }
    if (data[0] % 3 == 2) {
        try {
            auto o = dns::multi_signer_option::from_wire({p, n});
            std::vector<uint8_t> out;
            o.to_wire(out);
            if (out != std::vector<uint8_t>(p, p + n)) __builtin_trap();
        } catch (const dns::dns_error&) {
        }
        return 0;
    }
    if (data[0] % 3 == 0) {
        std::string text(reinterpret_cast<const char*>(p), n);
        try {
            auto r = agent::peer_relation::from_text(text);
            std::string again = r.to_text();
            if (agent::peer_relation::from_text(again).to_text() != again) __builtin_trap();
        } catch (const std::invalid_argument&) {
        }
        return 0;
    }
    // Records: a length octet, then that many RDATA octets, repeated.
    static const dns::name apex = dns::name::from_text("example.");
    std::vector<dns::rr> records;
    size_t i = 0;
    while (i < n && records.size() < 64) {
        size_t len = p[i++];
        if (len > n - i) len = n - i;
        dns::rr r;
        r.owner = apex;
        r.type = dns::hsync_code();
        r.rclass = dns::rr_class::IN;
        r.ttl = 3600;
        r.rdata.assign(p + i, p + i + len);
        records.push_back(std::move(r));
        i += len;
    }
    auto set = agent::read_hsync(records, apex);
    for (const auto& e : set.entries)
        if (static_cast<int>(e.state) < 1 || static_cast<int>(e.state) > 2 ||
            static_cast<int>(e.nsmgmt) < 1 || static_cast<int>(e.nsmgmt) > 2 ||
            static_cast<int>(e.sign) < 1 || static_cast<int>(e.sign) > 2)
            __builtin_trap();
    if (!agent::diff(set, set).empty()) __builtin_trap();
    (void)set.leader_candidate();
    return 0;
}
