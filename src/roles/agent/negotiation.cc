#include "roles/agent/negotiation.h"

#include "dns/edns.h"

namespace hsync::agent {

const char* to_text(transport_kind transport) {
    return transport == transport_kind::api ? "API" : "DNS";
}

const char* to_text(sync_model model) {
    return model == sync_model::peer ? "peer" : "leader/follower";
}

negotiated negotiate(std::span<const capabilities> agents) {
    // Bits every agent offers; the baselines are mandatory, so always in.
    uint8_t transport = 0xFF, synchronization = 0xFF;
    for (const auto& a : agents) {
        transport &= a.transport | dns::ms_transport::DNS;
        synchronization &= a.synchronization | dns::ms_sync::LEADER_FOLLOWER;
    }
    negotiated out;
    if (!agents.empty() && (transport & dns::ms_transport::API))
        out.transport = transport_kind::api;
    if (!agents.empty() && (synchronization & dns::ms_sync::PEER))
        out.synchronization = sync_model::peer;
    return out;
}

zone_negotiation::zone_negotiation(std::span<const dns::name> agents) {
    for (const auto& a : agents)
        agents_.emplace(a.canonical(), std::nullopt);
}

zone_negotiation::zone_negotiation(const hsync_set& set) {
    for (const auto& e : set.entries)
        agents_.emplace(e.identity, std::nullopt);
}

bool zone_negotiation::answered(const dns::name& agent, capabilities caps) {
    auto it = agents_.find(agent);
    if (it == agents_.end()) return false;
    it->second = caps;
    return true;
}

void zone_negotiation::forget(const dns::name& agent) {
    if (auto it = agents_.find(agent); it != agents_.end()) it->second.reset();
}

std::optional<negotiated> zone_negotiation::result() const {
    std::vector<capabilities> all;
    for (const auto& [name, caps] : agents_) {
        if (!caps) return std::nullopt;
        all.push_back(*caps);
    }
    return negotiate(all);
}

std::vector<dns::name> zone_negotiation::waiting_for() const {
    std::vector<dns::name> out;
    for (const auto& [name, caps] : agents_)
        if (!caps) out.push_back(name);
    return out;
}

}  // namespace hsync::agent
