#include "roles/parent/answers.h"

#include <algorithm>

namespace hsync::parent {

std::string_view validation_name(validation v) {
    switch (v) {
        case validation::secure:
            return "secure";
        case validation::insecure:
            return "insecure";
        case validation::bogus:
            return "bogus";
        case validation::timeout:
            return "timeout";
    }
    return "unknown";
}

rdata_set canonical_rdata_set(std::span<const dns::rr> records) {
    rdata_set out;
    out.reserve(records.size());
    for (const auto& r : records) {
        std::vector<uint8_t> rdata = r.rdata;
        try {
            dns::rdata_canonicalize(r.type, rdata);
        } catch (const dns::dns_error&) {
            // Malformed RDATA stays as it came; check_shape and the parsers refuse it.
        }
        out.push_back(std::move(rdata));
    }
    std::sort(out.begin(), out.end(), dns::rdata_less{});
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

void append_fingerprint(const rdata_set& set, std::string& out) {
    // Length-prefixed, so that no two different sets give the same text.
    out += std::to_string(set.size());
    out += ':';
    for (const auto& rdata : set) {
        out += std::to_string(rdata.size());
        out += ':';
        out.append(rdata.begin(), rdata.end());
    }
    out += ';';
}

std::string disagreement(std::span<const std::string> servers,
                         std::span<const std::string> fingerprints) {
    if (std::all_of(fingerprints.begin(), fingerprints.end(),
                    [&](const std::string& f) { return f == fingerprints.front(); }))
        return {};
    // Groups in order of first appearance, servers in the order given.
    std::vector<std::string> seen;
    std::string out;
    for (size_t i = 0; i < fingerprints.size(); ++i) {
        if (std::find(seen.begin(), seen.end(), fingerprints[i]) != seen.end()) continue;
        seen.push_back(fingerprints[i]);
        if (!out.empty()) out += " | ";
        bool first = true;
        for (size_t j = i; j < fingerprints.size(); ++j) {
            if (fingerprints[j] != fingerprints[i]) continue;
            if (!first) out += ", ";
            out += servers[j];
            first = false;
        }
    }
    return out;
}

std::string check_shape(std::span<const dns::rr> records, const dns::name& owner, uint16_t type) {
    for (const auto& r : records) {
        if (r.type != type || r.rclass != dns::rr_class::IN || !(r.owner == owner))
            return "unexpected " + dns::type_to_text(r.type) + " record at " + r.owner.to_text() +
                   " in the " + dns::type_to_text(type) + " answer for " + owner.to_text();
        try {
            dns::rdata_check(r.type, r.rdata);
        } catch (const dns::dns_error& e) {
            return "malformed " + dns::type_to_text(type) + " record at " + owner.to_text() + ": " +
                   e.what();
        }
    }
    return {};
}

}  // namespace hsync::parent
