// Parses arbitrary bytes as a DNS message; whatever parses must write back, parse again and
// come out equal (sections, EDNS, TSIG/SIG(0)), and print without failing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "dns/error.h"
#include "dns/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace hsync::dns;
    message m;
    try {
        m = message::parse(std::span<const uint8_t>(data, size));
    } catch (const wire_error&) {
        return 0;  // refused input is fine; crashes and leaks are not
    }
    (void)m.to_text();
    std::vector<uint8_t> out;
    bool truncated = m.to_wire(out);  // a parsed message must always be writable
    message back = message::parse(out);
    // Our compression may differ from the sender's, so a message near 65535 octets can grow
    // past it and lose records: only an untruncated write must come back equal.
    if (!truncated && !(back == m)) {
        std::fprintf(stderr, "round trip changed the message:\n%s\nbecame\n%s\n",
                     m.to_text().c_str(), back.to_text().c_str());
        std::abort();
    }
    return 0;
}
