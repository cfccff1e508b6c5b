#include "roles/parent/scan.h"

#include <set>

#include "dns/rdata.h"

namespace hsync::parent {

namespace T = dns::rr_type;

namespace {

// The in-bailiwick names among NS records (their addresses are glue the parent holds).
void in_bailiwick_hosts(std::span<const dns::rr> ns, const dns::name& child,
                        std::set<std::string>& seen, std::vector<dns::name>& out) {
    for (const auto& r : ns) {
        if (r.type != T::NS) continue;
        dns::name host = dns::name::from_wire(r.rdata).canonical();
        if (!host.is_subdomain_of(child)) continue;
        if (seen.insert(host.to_text()).second) out.push_back(host);
    }
}

}  // namespace

net::awaitable<scan_result> scan_child(const fetch_fn& fetch, const scan_input& in,
                                       const cds_policy& cds, const csync_policy& csync,
                                       uint32_t now) {
    scan_result out;
    std::vector<cds_answer> cds_answers;
    std::vector<csync_answer> csync_answers;
    for (const auto& server : in.servers) {
        std::string where = server.to_string();
        out.servers.push_back(where);
        cds_answer a;
        a.server = where;
        a.cds = co_await fetch(server, in.child, T::CDS);
        a.cdnskey = co_await fetch(server, in.child, T::CDNSKEY);
        a.dnskey = co_await fetch(server, in.child, T::DNSKEY);
        cds_answers.push_back(std::move(a));
        csync_answer c;
        c.server = where;
        c.csync = co_await fetch(server, in.child, T::CSYNC);
        if (!c.csync.records.empty()) out.csync_seen = true;
        csync_answers.push_back(std::move(c));
    }
    out.cds = decide_cds(in.child, cds_answers, in.current_ds, cds, now);
    if (out.csync_seen) {
        // The rest of what CSYNC needs, from the same nameservers (RFC 7477 §4: the SOA
        // serial and the data must come from the same server).
        for (size_t i = 0; i < in.servers.size(); ++i) {
            auto& c = csync_answers[i];
            c.soa = co_await fetch(in.servers[i], in.child, T::SOA);
            c.ns = co_await fetch(in.servers[i], in.child, T::NS);
            std::set<std::string> seen;
            std::vector<dns::name> hosts;
            in_bailiwick_hosts(c.ns.records, in.child, seen, hosts);
            in_bailiwick_hosts(in.current_ns, in.child, seen, hosts);
            for (const auto& host : hosts) {
                host_addresses h;
                h.host = host;
                h.a = co_await fetch(in.servers[i], host, T::A);
                h.aaaa = co_await fetch(in.servers[i], host, T::AAAA);
                c.addresses.push_back(std::move(h));
            }
        }
        // RFC 7477 §4: the SOA serial again after the data, from every server: a zone that
        // changed while it was read gives records of two versions.
        std::string moved;
        for (size_t i = 0; i < in.servers.size(); ++i) {
            auto again = co_await fetch(in.servers[i], in.child, T::SOA);
            if (canonical_rdata_set(again.records) !=
                canonical_rdata_set(csync_answers[i].soa.records))
                moved += (moved.empty() ? "" : ", ") + out.servers[i];
        }
        if (!moved.empty()) {
            out.csync.outcome = csync_outcome::refused;
            out.csync.reason =
                "the child's SOA changed during the scan at " + moved + " (RFC 7477 §4); next scan";
        } else {
            out.csync =
                decide_csync(in.child, csync_answers, in.current_ns, in.current_glue, csync);
        }
    } else {
        out.csync.outcome = csync_outcome::unchanged;
        out.csync.reason = "no CSYNC";
    }
    co_return out;
}

}  // namespace hsync::parent
