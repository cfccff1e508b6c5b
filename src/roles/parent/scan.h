// One scan of one child: ask every nameserver of its delegation, by address, for CDS,
// CDNSKEY, DNSKEY and CSYNC (and, when a CSYNC is there, SOA, NS and the addresses of its
// in-bailiwick nameservers), each answer validated; then the decisions of cds_policy.h and
// csync_policy.h. The lookups go through `fetch` (the role gives it a validating resolver
// per nameserver address), so the scan itself is testable without sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dns/name.h"
#include "dns/rr.h"
#include "net/asio.h"
#include "net/client.h"
#include "roles/parent/answers.h"
#include "roles/parent/cds_policy.h"
#include "roles/parent/csync_policy.h"

namespace hsync::parent {

// A validated lookup of `qname`/`qtype` at exactly one nameserver of the child.
using fetch_fn = std::function<net::awaitable<validated_rrset>(
    const net::peer& server, const dns::name& qname, uint16_t qtype)>;

struct scan_input {
    dns::name child;
    std::vector<net::peer> servers;  // every address of every nameserver of the delegation
    std::vector<dns::rr> current_ds, current_ns, current_glue;
};

struct scan_result {
    std::vector<std::string> servers;  // as asked, for the log
    cds_decision cds;
    csync_decision csync;
    bool csync_seen = false;  // some nameserver has a CSYNC record
};

net::awaitable<scan_result> scan_child(const fetch_fn& fetch, const scan_input& in,
                                       const cds_policy& cds, const csync_policy& csync,
                                       uint32_t now);

}  // namespace hsync::parent
