#include "dns/rr.h"

#include <algorithm>
#include <cstring>

#include "dns/error.h"

namespace hsync::dns {

void rr::append_text(std::string& out) const {
    owner.append_text(out);
    out.push_back('\t');
    out += std::to_string(ttl);
    out.push_back('\t');
    out += class_to_text(rclass);
    out.push_back('\t');
    out += type_to_text(type);
    out.push_back('\t');
    rdata_to_text(type, rdata, out);
}

std::string rr::to_text() const {
    std::string out;
    append_text(out);
    return out;
}

std::string rr::to_generic_text() const {
    std::string out;
    owner.append_text(out);
    out += '\t' + std::to_string(ttl) + '\t' + class_to_text(rclass) + "\tTYPE" +
           std::to_string(type) + '\t';
    rdata_to_generic_text(rdata, out);
    return out;
}

rr rr::from_wire(wire_reader& reader) {
    rr r;
    r.owner = reader.read_name(true);
    r.type = reader.u16();
    r.rclass = reader.u16();
    r.ttl = reader.u32();
    uint16_t rdlength = reader.u16();
    // Empty RDATA is how RFC 2136 UPDATE deletes RRsets and states prerequisites; it is
    // kept as is, and whoever stores records checks that they are complete.
    if (rdlength > 0) rdata_from_wire(r.type, reader, rdlength, r.rdata);
    return r;
}

void rr::to_wire(wire_writer& writer, bool compress) const {
    writer.name(owner, compress);
    writer.u16(type);
    writer.u16(rclass);
    writer.u32(ttl);
    rdata_to_wire(type, rdata, writer, compress);
}

rr rr::from_text(std::string_view line, const name& origin, uint32_t default_ttl) {
    std::vector<token> tokens = tokenize_line(line);
    if (tokens.empty()) throw text_error("empty record");
    rr r;
    r.owner = name::from_text(tokens[0].text, &origin);
    r.ttl = default_ttl;
    size_t i = 1;
    bool have_ttl = false, have_class = false;
    // TTL and class may come in either order (RFC 1035 §5.1).
    for (; i < tokens.size(); ++i) {
        std::string_view t = tokens[i].text;
        uint16_t c;
        if (!have_class && class_from_text(t, c)) {
            r.rclass = c;
            have_class = true;
        } else if (!have_ttl && !t.empty() && t[0] >= '0' && t[0] <= '9') {
            r.ttl = parse_ttl(t);
            have_ttl = true;
        } else {
            break;
        }
    }
    if (i >= tokens.size()) throw text_error("record has no type");
    r.type = type_from_text(tokens[i].text);
    rdata_from_text(r.type, std::span<const token>(tokens).subspan(i + 1), origin, r.rdata);
    return r;
}

void rr::canonicalize() {
    owner.to_lower();
    rdata_canonicalize(type, rdata);
}

int canonical_compare(const rr& a, const rr& b) {
    if (int c = canonical_compare(a.owner.wire(), b.owner.wire())) return c;
    if (a.rclass != b.rclass) return a.rclass < b.rclass ? -1 : 1;
    if (a.type != b.type) return a.type < b.type ? -1 : 1;
    size_t n = std::min(a.rdata.size(), b.rdata.size());
    if (n) {
        if (int c = std::memcmp(a.rdata.data(), b.rdata.data(), n)) return c < 0 ? -1 : 1;
    }
    if (a.rdata.size() != b.rdata.size()) return a.rdata.size() < b.rdata.size() ? -1 : 1;
    return 0;
}

}  // namespace hsync::dns
