// Feeds an AXFR/IXFR response stream to xfr_receiver. Input: one byte of mode (bit 0: IXFR
// instead of AXFR), four bytes of our serial (IXFR), then DNS messages each preceded by a
// 2-byte length as DNS over TCP frames them (RFC 1035 §4.2.2), for zone "example.".
// Refused input is fine; a crash, a leak or an exception other than the documented ones
// is not. A received zone must go out with axfr_out and come back in equal; received
// differences are condensed.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

// Fuzz targets link the DNS core only (fuzz/CMakeLists.txt); the transfer logic depends on
// nothing else, so its sources are compiled in here.
#include "zone/journal.h"
#include "zone/xfr.h"

namespace {

std::vector<std::string> texts(const hsync::dns::record_store& s) {
    std::vector<std::string> out;
    for (size_t i = 0; i < s.size(); ++i) {
        std::string t;
        s[i].append_text(t);
        out.push_back(t);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace hsync;
    if (size < 5) return 0;
    bool ixfr = data[0] & 1;
    uint32_t serial = static_cast<uint32_t>(data[1]) << 24 | static_cast<uint32_t>(data[2]) << 16 |
                      static_cast<uint32_t>(data[3]) << 8 | data[4];
    const dns::name zone = dns::name::from_text("example.");
    zone::xfr_limits limits;
    limits.max_records = 100000;
    limits.max_bytes = size_t{64} << 20;
    zone::xfr_receiver rx(zone, ixfr ? dns::rr_type::IXFR : dns::rr_type::AXFR,
                          ixfr ? std::optional<uint32_t>(serial) : std::nullopt, std::nullopt,
                          limits);
    size_t pos = 5;
    try {
        while (pos + 2 <= size) {
            size_t len = static_cast<size_t>(data[pos]) << 8 | data[pos + 1];
            pos += 2;
            if (len > size - pos) break;
            dns::message m = dns::message::parse(std::span<const uint8_t>(data + pos, len));
            pos += len;
            rx.feed(m);
        }
        rx.finish();
    } catch (const dns::wire_error&) {
        return 0;
    } catch (const zone::xfr_error&) {
        return 0;
    }

    if (rx.result() == zone::xfr_receiver::kind::ixfr) {
        try {
            (void)zone::condense(rx.diffs());
        } catch (const zone::journal_error&) {
        }
    } else if (rx.result() == zone::xfr_receiver::kind::axfr) {
        // What we accepted we must be able to serve, and a receiver must accept it again.
        dns::message query;
        query.questions.push_back({zone, dns::rr_type::AXFR, dns::rr_class::IN});
        zone::xfr_receiver again(zone, dns::rr_type::AXFR);
        zone::axfr_out(rx.zone(), query, zone::default_xfr_message_size, [&](dns::message&& m) {
            std::vector<uint8_t> wire;
            m.to_wire(wire);
            again.feed(dns::message::parse(wire));
        });
        again.finish();
        if (texts(again.zone()) != texts(rx.zone())) {
            std::fprintf(stderr, "AXFR out and in changed the zone\n");
            std::abort();
        }
    }
    return 0;
}
