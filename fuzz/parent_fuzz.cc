// The parent role's reading of what children publish, on arbitrary bytes: CSYNC RDATA
// (csync_fields::parse throws dns::wire_error or succeeds) and the CDS decision over CDS,
// CDNSKEY, DNSKEY and DS records whose RDATA come from the input (decide_cds never crashes
// and never accepts what it cannot have checked: a DS set only with a decision `updated`).
// The first byte picks the path.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dns/error.h"
#include "dns/rdata.h"
#include "dns/rr.h"
#include "roles/parent/cds_policy.h"
#include "roles/parent/csync_policy.h"

using namespace hsync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t* p = data + 1;
    size_t n = size - 1;
    if (data[0] % 2 == 0) {
        try {
            auto f = parent::csync_fields::parse(std::span<const uint8_t>(p, n));
            for (size_t i = 1; i < f.types.size(); ++i)
                if (f.types[i - 1] >= f.types[i]) __builtin_trap();
        } catch (const dns::dns_error&) {
        }
        return 0;
    }
    static const dns::name child = dns::name::from_text("child.example.");
    static const uint16_t types[] = {dns::rr_type::CDS, dns::rr_type::CDNSKEY, dns::rr_type::DNSKEY,
                                     dns::rr_type::DS};
    parent::cds_answer a;
    a.server = "192.0.2.1";
    for (auto* set : {&a.cds, &a.cdnskey, &a.dnskey})
        set->status = parent::validation::secure;
    std::vector<dns::rr> current_ds;
    size_t i = 0;
    while (i + 1 < n) {
        uint16_t type = types[p[i++] % 4];
        size_t len = p[i++];
        if (len > n - i) len = n - i;
        dns::rr r;
        r.owner = child;
        r.type = type;
        r.rclass = dns::rr_class::IN;
        r.ttl = 3600;
        r.rdata.assign(p + i, p + i + len);
        i += len;
        if (type == dns::rr_type::CDS)
            a.cds.records.push_back(std::move(r));
        else if (type == dns::rr_type::CDNSKEY)
            a.cdnskey.records.push_back(std::move(r));
        else if (type == dns::rr_type::DNSKEY)
            a.dnskey.records.push_back(std::move(r));
        else
            current_ds.push_back(std::move(r));
    }
    parent::cds_policy policy;
    auto d = parent::decide_cds(child, std::span(&a, 1), current_ds, policy, 1700000000u);
    // Unsigned input can never be trusted into a new DS set.
    if (d.outcome == parent::cds_outcome::updated || d.outcome == parent::cds_outcome::removed)
        __builtin_trap();
    return 0;
}
