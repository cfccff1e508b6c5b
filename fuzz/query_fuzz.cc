// Fuzz target: the whole query path of the auth role. Arbitrary bytes are parsed as a
// message; whatever parses is answered from a fixed small zone (the message ID picks one of
// four versions of it: unsigned, NSEC, NSEC3, NSEC3 with opt-out) and the response is
// written with to_wire at a UDP size the input also picks, then parsed back.
//
// The fuzz targets link hsync_dnssec only (fuzz/CMakeLists.txt), so the engine's two
// sources are compiled into this target directly; they depend on dns/ and dnssec/ alone.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "dns/error.h"
#include "dns/message.h"
#include "dns/zonefile.h"
#include "dnssec/key.h"
#include "dnssec/zone_signer.h"
#include "zone/answer.h"
#include "zone/zone_data.h"

namespace {

using namespace hsync;

const char* zone_text = R"(
$TTL 3600
@           IN SOA ns1 hostmaster 1 7200 900 1209600 300
@           NS    ns1
@           NS    ns.other.net.
@           MX    10 mail
ns1         A     192.0.2.1
ns1         AAAA  2001:db8::1
mail        A     192.0.2.2
www         A     192.0.2.3
alias       CNAME www
chain       CNAME alias
ext         CNAME www.example.net.
dangling    CNAME nothere
loop1       CNAME loop2
loop2       CNAME loop1
*.wild      TXT   "wild"
*.wild      MX    10 mail
host.wild   A     192.0.2.9
*.wc        CNAME www
*           CNAME loop1
a.b.ent     A     192.0.2.4
sub         NS    ns.sub
sub         DS    12345 13 2 0102030405060708091011121314151617181920212223242526272829303132
ns.sub      A     192.0.2.53
insecure    NS    ns.insecure
ns.insecure A     192.0.2.54
dn          DNAME example.net.
self        DNAME example.
_sip._tcp   SRV   0 5 5060 www
)";

std::array<std::unique_ptr<zone::zone_data>, 4> make_zones() {
    dns::name origin = dns::name::from_text("example.");
    dns::record_store in;
    dns::zone_reader::from_memory(zone_text, origin)
        .read([&](const dns::rr& r) { in.add(r); },
              [](const dns::zone_error& e) {
                  std::fprintf(stderr, "%s\n", e.to_text().c_str());
                  std::abort();
              });
    in.sort();
    std::vector<dnssec::key> keys;
    keys.push_back(dnssec::key::generate(origin, 13, dnssec::key_role::csk));
    std::array<std::unique_ptr<zone::zone_data>, 4> zones;
    zones[0] = std::make_unique<zone::zone_data>(in, origin);
    for (int mode = 1; mode < 4; ++mode) {
        dnssec::sign_options opt;
        opt.nsec3 = mode >= 2;
        opt.opt_out = mode == 3;
        dns::record_store out;
        dnssec::sign_zone(in, origin, keys, opt,
                          [&](const dns::record_view& v) { out.add(v.to_rr()); });
        out.sort();
        zones[mode] = std::make_unique<zone::zone_data>(std::move(out), origin);
    }
    return zones;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto zones = make_zones();
    dns::message query;
    try {
        query = dns::message::parse(std::span<const uint8_t>(data, size));
    } catch (const dns::wire_error&) {
        return 0;
    }
    const zone::zone_data* zone = (query.id & 4) ? nullptr : zones[query.id & 3].get();
    dns::message response = zone::answer(zone, query);
    std::vector<uint8_t> wire;
    size_t max = (query.id & 8) ? 512 : dns::max_message_size;
    response.to_wire(wire, max);  // must not throw: every response we make is encodable
    if (wire.size() > max) std::abort();
    (void)dns::message::parse(wire);
    return 0;
}
