// Transport and synchronization model of one zone (draft-leon-distributed-multi-signer
// §"Interpretation of the HELLO Responses", docs/protocol.md §8).
//
// Every agent of the zone, this one included, states its capabilities in the TRANSPORT and
// SYNCHRONIZATION bit sets of the Multi-Signer EDNS option (dns::ms_transport,
// dns::ms_sync). Once all have answered, the zone uses the REST API only if every agent
// offers it, else DNS; and peer synchronization only if every agent offers it, else
// leader/follower. The baselines (DNS, leader/follower) are mandatory, so they are
// assumed even if an agent leaves their bit clear.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dns/name.h"
#include "roles/agent/hsync_set.h"

namespace hsync::agent {

enum class transport_kind { dns, api };
enum class sync_model { leader_follower, peer };
const char* to_text(transport_kind transport);  // "DNS", "API"
const char* to_text(sync_model model);          // "leader/follower", "peer"

struct capabilities {
    uint8_t transport = 0;        // dns::ms_transport bits
    uint8_t synchronization = 0;  // dns::ms_sync bits
    friend bool operator==(const capabilities&, const capabilities&) = default;
};

struct negotiated {
    transport_kind transport = transport_kind::dns;
    sync_model synchronization = sync_model::leader_follower;
    friend bool operator==(const negotiated&, const negotiated&) = default;
};

// The choice for agents that have all answered. An empty list gives the baselines.
negotiated negotiate(std::span<const capabilities> agents);

// The negotiation of one zone while HELLOs come and go.
class zone_negotiation {
  public:
    // The agents of the zone (this one included; duplicates count once).
    explicit zone_negotiation(std::span<const dns::name> agents);
    // Every agent the HSYNC RRset names, whatever its State and Sign: an agent with Sign=NO
    // or State=OFF still exchanges messages about the zone, so it must be able to use the
    // chosen transport and model too.
    explicit zone_negotiation(const hsync_set& set);

    // `agent` stated its capabilities (HELLO, its response, or our own). False, and
    // nothing recorded, if `agent` is not an agent of the zone. A later statement replaces
    // an earlier one.
    bool answered(const dns::name& agent, capabilities caps);
    // The agent's statement no longer holds (its relation was lost): not yet again.
    void forget(const dns::name& agent);

    // nullopt ("not yet") while any agent has not answered.
    std::optional<negotiated> result() const;
    // The agents that have not answered, in canonical order.
    std::vector<dns::name> waiting_for() const;

  private:
    std::map<dns::name, std::optional<capabilities>> agents_;  // canonical order
};

}  // namespace hsync::agent
