// The `agent` role (docs/agent.md): one provider's multi-signer agent.
//
// - Serves its signer's zones as a secondary (the engine's refresh, XFR and NOTIFY) and
//   reads every new version's HSYNC RRset: the zones it names us in are multi-signer
//   zones, the other identities it names are peers.
// - Is the primary of its identity zone, built from the configuration and the signer's
//   keys and signed online with the signer layer (identity.h, signer::sign_full).
// - Finds each peer with validated lookups (discovery.h), keeps one relation per peer
//   (peer_state.h, stored in SQLite), says HELLO per zone and HEARTBEAT per peer with
//   SIG(0)-signed NOTIFYs (messages.h), checks every inbound message (message_guard.h)
//   and negotiates transport and synchronization per zone (negotiation.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dnssec/key.h"
#include "net/asio.h"
#include "net/dane_https.h"
#include "net/resolver.h"
#include "net/tls_identity.h"
#include "roles/agent/discovery.h"
#include "roles/agent/hsync_set.h"
#include "roles/agent/identity.h"
#include "roles/agent/message_guard.h"
#include "roles/agent/messages.h"
#include "roles/agent/negotiation.h"
#include "roles/agent/peer_state.h"
#include "roles/agent/process.h"
#include "roles/engine_role.h"
#include "roles/signer/keys.h"

namespace hsync::agent {

struct agent_settings {
    identity_settings identity;
    // The SIG(0) key (a BIND key file, Kname.+013+tag.{key,private}); empty: generated on
    // first start and kept in DATA_DIR/agent/.
    std::string sig0_key_file;
    // The REST API (docs/agent.md): HTTPS with the certificate's key published as TLSA;
    // peers' certificates are checked against their TLSA (DANE-EE, no WebPKI).
    struct api_settings {
        net::asio::ip::tcp::endpoint listen;
        std::string key_file, cert_file;  // empty: DATA_DIR/agent/tls/{key,cert}.pem, made once
    };
    std::optional<api_settings> api;
    // Offered in HELLO: the REST API (when configured) and peer synchronization.
    bool offer_api = false;
    bool offer_peer_sync = true;
    peer_timing timing;
    message_guard_config guard;
    net::resolver_options resolver;
    std::chrono::milliseconds message_timeout{2000};  // per NOTIFY attempt
    unsigned message_retries = 2;
    size_t max_in_flight = 64;  // HELLOs and discoveries under way at once
    // The identity zone's NOTIFY targets and transfer ACL (its secondaries).
    std::vector<net::peer> identity_notify;
    zone::acl identity_allow_transfer = zone::acl::none();
    // Synchronization (sync.cc): the provider's combiner and the TSIG key (one of the
    // engine's keys) its UPDATEs are signed with; without them the agent takes part in the
    // processes but changes nothing. The parent's nameservers (empty: found by resolver).
    std::optional<net::peer> combiner;
    std::optional<dns::name> combiner_key;
    std::vector<net::peer> parent_nameservers;
};

class agent_role final : public roles::engine_role {
  public:
    // Adds the identity zone to `settings` and loads (or makes) the keys. Throws on an
    // unusable key file or resolver configuration.
    agent_role(net::asio::any_io_executor ex, zone::engine_settings settings, agent_settings agent);
    ~agent_role() override;
    std::string name() const override { return "agent"; }

    // After start(): builds the identity zone and starts discovery and the timers.
    void start_agent();
    std::string reconfigure(zone::engine_settings settings, agent_settings agent);

    // GET /agent/peers, /agent/zones, /agent/zone/NAME; POST /agent/peers/ID/discover.
    std::optional<std::string> role_view(const std::string& topic,
                                         const std::string& arg) const override;
    std::optional<std::string> role_action(const std::string& topic, const std::string& arg,
                                           const std::string& action) override;

    const dnssec::key& sig0_key() const { return sig0_; }

  protected:
    void zone_started(zone::served_zone& z) override;
    void version_served(zone::served_zone& z) override;
    std::optional<std::vector<uint8_t>> take_request(const net::request& req,
                                                     const dns::message& query) override;
    void describe(const zone::served_zone& z, zone::zone_status& st) const override;
    void role_metrics(std::vector<roles::metric>& out) const override;

  private:
    // A remote agent and our relation with it.
    struct peer_entry {
        peer_entry(dns::name id, peer_relation rel)
            : identity(std::move(id)), relation(std::move(rel)) {}
        dns::name identity;
        peer_relation relation;
        std::optional<discovered_peer> found;
        std::optional<capabilities> caps;  // as last stated in a HELLO or its response
        std::set<std::string> zones;       // the zones (key_of) that name it
        bool discovering = false, helloing = false, beating = false;
        std::string last_refusal;  // what the peer last answered with REFUSED/NOTAUTH, and why
        // The REST API failed (TLSA mismatch, no answer...): DNS until found again.
        bool api_failed = false;
        int64_t api_failed_at = 0;
        std::string api_error;
    };
    // The HELLO of one zone with one peer.
    struct zone_peer {
        bool done = false;
        bool in_flight = false;
        int failures = 0;
        int64_t next_try = 0;
        std::string last;  // the last outcome, for `agent show`
    };
    // A zone whose HSYNC RRset names agents.
    struct agent_zone {
        dns::name name;
        hsync_set set;
        bool ours = false;  // our identity is in the set
        std::string error;
        std::map<std::string, zone_peer> peers;  // remote identity (key_of) -> HELLO state
        std::optional<zone_negotiation> negotiation;
        std::optional<negotiated> result;
        zone_keys keys;
        int64_t since = 0;  // when the set was last read differently

        // Synchronization and the processes (sync.cc).
        bool sync_loaded = false;
        zone_process process;                       // stored in SQLite before it is acted on
        uint32_t completed_id = 0;                  // the last process we completed
        std::vector<dns::name> members;             // the group a finished process left
        std::map<dns::name, provider_data> data;    // own and peers', by identity
        std::map<dns::name, int64_t> data_expires;  // when to fetch a peer's data again
        std::map<dns::name, std::string> data_error;
        std::map<dns::name, uint32_t> dnskey_ttl, ns_ttl;  // as seen, per provider
        uint32_t parent_ds_ttl = 0, parent_ns_ttl = 0;
        std::map<dns::name, step_report> reports;  // every participant's latest, ours too
        step_report sent;                          // our report as last sent
        int64_t sent_at = 0;
        bool syncing = false;
        int64_t next_sync = 0;
        std::string waiting_for;
        int64_t notified_parent_at = 0;
        zone_keys announced;  // our per-zone data as last announced to the peers
        // Leader/follower: the highest term seen, the leader we follow (or are), the
        // step the leader last told us to go to.
        uint32_t term_seen = 0;
        std::optional<dns::name> leader;
        uint32_t leader_term = 0;
        uint32_t proposed_term = 0;
        std::set<std::string> acks;
        int64_t next_propose = 0;
        uint32_t instructed_id = 0;
        int instructed_step = 0;
    };

    capabilities own_caps() const;
    // Messages to this peer go over the REST API: both offer it, its API records were
    // found secure, and it has not failed since.
    bool use_api(const peer_entry& p) const;
    // Why not, for `agent peers` (empty when the API is used).
    std::string api_note(const peer_entry& p) const;
    void start_api();
    net::https_reply api_hello(const net::https_request& req);
    net::https_reply api_beat(const net::https_request& req);
    // The peer that sent an API request, if the client certificate matches its TLSA;
    // else the reply to send.
    peer_entry* api_sender(const net::https_request& req, const std::string& identity,
                           net::https_reply& refusal);
    peer_entry* api_sender_checked(const net::https_request& req, const std::string& identity,
                                   net::https_reply& refusal);
    // {"identity", "transport", "synchronization"}: a beat's body and an API answer.
    std::string own_caps_json() const;
    // A peer's HELLO for a zone was accepted (over DNS or the API): the zone's HELLO with
    // it is done, its capabilities count in the negotiation, the relation is OPERATIONAL.
    void hello_received(peer_entry& p, agent_zone& az, capabilities caps, const char* transport);
    net::awaitable<net::dane_post_result> api_post(peer_entry& p, std::string path,
                                                   std::string body);
    static dnssec::key load_sig0_key(const agent_settings& agent, const std::string& data_dir);
    void load_keys();
    // The zone's HSYNC RRset (and our keys in it) read again after a new version.
    void read_zone(zone::served_zone& z);
    peer_entry& peer_for(const dns::name& identity);
    void drop_peer_zone(const std::string& peer_key, const std::string& zone_key);
    // The entry of a peer no zone names, once nothing in flight uses it.
    void release_if_unused(const std::string& peer_key);
    void store_peer(const peer_entry& p);
    void update_negotiation(agent_zone& az);
    void peer_lost(peer_entry& p);  // its statements no longer hold: HELLO every zone again
    void wake();

    net::awaitable<void> run();
    net::awaitable<void> discover_peer(std::string peer_key);
    net::awaitable<void> send_hello(std::string peer_key, std::string zone_key, bool for_relation);
    net::awaitable<void> send_beat(std::string peer_key);
    net::awaitable<void> build_identity();
    // Sends a signed agent NOTIFY to the peer and checks the answer; nullopt: no (valid)
    // answer, with the reason in `error`.
    net::awaitable<std::optional<dns::message>> exchange(peer_entry& p, std::vector<uint8_t> wire,
                                                         std::string& error);

    std::vector<uint8_t> refuse(const net::request& req, const dns::message& query, uint16_t rcode,
                                const std::string& label, const std::string& reason);
    std::string peer_json(const peer_entry& p) const;
    // The key of a peer a message claims to come from (message_guard's lookup).
    key_lookup peer_keys() const;

    // --- synchronization and the processes (sync.cc) ---
    void load_sync_state(agent_zone& az);
    void forget_sync_state(const std::string& zone_key);
    void store_process(const agent_zone& az);
    void store_leader(const agent_zone& az);
    bool leader_follower(const agent_zone& az) const;
    // One pass over the zone's process: start, rewind, do the step, report, advance.
    net::awaitable<void> sync_zone(std::string zone_key);
    net::awaitable<void> sync_pass(std::string zone_key);
    net::awaitable<void> fetch_data(std::string zone_key, dns::name provider);
    net::awaitable<bool> update_combiner(dns::name zone, std::vector<dns::rr> update,
                                         std::string& error);
    net::awaitable<std::vector<net::peer>> parent_servers(dns::name zone);
    // The parent's RRset of `type` for `zone` from every one of its nameservers, when all
    // answer the same; else nullopt with the reason.
    net::awaitable<std::optional<std::pair<std::vector<std::vector<uint8_t>>, uint32_t>>>
    ask_parent(dns::name zone, uint16_t type, std::string& error);
    net::awaitable<void> notify_parent(dns::name zone, uint16_t type);
    net::awaitable<void> send_sync(std::string peer_key, std::string zone_key, uint8_t operation,
                                   sync_body body);
    void broadcast(agent_zone& az, uint8_t operation, const sync_body& body);
    void announce_changes();
    std::optional<std::vector<uint8_t>> take_sync(const net::request& req,
                                                  const dns::message& query,
                                                  const dns::multi_signer_option& option);
    std::string process_json(const agent_zone& az) const;
    void advance(agent_zone& az, int64_t now);
    // Leader/follower: our leader has reported the current process completed.
    bool leader_done(const agent_zone& az) const;
    std::string zone_json_text(const agent_zone& az, bool detail) const;

    agent_settings agent_;
    dnssec::key sig0_;
    signer::key_set identity_keys_;
    signer::signing_policy identity_policy_;
    std::unique_ptr<net::resolver> resolver_;
    std::optional<net::tls_identity> tls_;
    std::unique_ptr<net::dane_https_server> https_;
    message_guard guard_;
    std::map<std::string, peer_entry> peers_;                // key_of(identity)
    std::map<std::string, agent_zone> zones_;                // key_of(zone)
    std::set<std::pair<std::string, std::string>> pending_;  // (zone, peer) HELLOs not done
    std::unique_ptr<net::asio::steady_timer> timer_;
    bool running_ = false;
    bool identity_dirty_ = true;
    bool identity_building_ = false;
    int64_t identity_resign_at_ = 0;
    size_t in_flight_ = 0;
    std::shared_ptr<bool> alive_;

    struct counters {
        uint64_t sent_hello = 0, sent_beat = 0, received_hello = 0, received_beat = 0;
        uint64_t hello_accepted = 0, hello_refused = 0, hello_unanswered = 0;
        uint64_t beat_accepted = 0, beat_refused = 0, beat_unanswered = 0;
        uint64_t discoveries = 0, discovery_failures = 0;
        std::map<std::string, uint64_t> refused;  // inbound, by reason label
        uint64_t identity_builds = 0;
        uint64_t api_sent = 0, api_failed = 0, api_received = 0, api_refused = 0;
        uint64_t processes_completed = 0, processes_failed = 0, processes_rewound = 0;
        uint64_t updates_sent = 0, updates_failed = 0, parent_notifies = 0;
        uint64_t sync_sent = 0, sync_received = 0;
    };
    counters counters_;
};

}  // namespace hsync::agent
