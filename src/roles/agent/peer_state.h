// The relation of this agent with one remote agent (draft-leon-distributed-multi-signer
// §"Sequence Diagram Example of Establishing Secure Comms", docs/protocol.md §7).
//
// Pure: no sockets, no threads, no clock of its own. The caller feeds it events with the
// time they happened (seconds on any clock that only moves forward, e.g. since the epoch)
// and asks what is due; the role's I/O does the lookups and sends the messages. Every
// wait is a time stored in the relation, so to_text()/from_text() carry it over a restart.
//
//   NEEDED --discovery_succeeded--> KNOWN --hello_accepted--> OPERATIONAL
//   OPERATIONAL --no beat for more than degraded_after intervals--> DEGRADED
//   DEGRADED --no beat for more than interrupted_after intervals--> INTERRUPTED
//   DEGRADED, INTERRUPTED --beat_received or hello_accepted--> OPERATIONAL
//   any --discovery_failed (insecure, bogus, nxdomain, nodata) or fail()--> ERROR
//   ERROR --discovery_succeeded--> KNOWN
//   OPERATIONAL, DEGRADED, INTERRUPTED --beat_refused, or discovery that found changed
//   records--> KNOWN (HELLO again)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hsync::agent {

enum class peer_state { needed, known, operational, degraded, interrupted, error };
std::string_view to_text(peer_state state);  // "NEEDED", "KNOWN", ...
std::optional<peer_state> peer_state_from_text(std::string_view text);

// Why the lookups of a remote agent's URI, SVCB and KEY (or TLSA) records failed.
enum class discovery_failure {
    insecure,  // an answer was not DNSSEC-validated (insecure or indeterminate)
    bogus,     // an answer failed validation
    nxdomain,  // a name does not exist
    nodata,    // a record is missing (e.g. the KEY was removed)
    servfail,  // the resolver could not answer
    timeout,   // no answer in time
};
std::string_view to_text(discovery_failure failure);
// What the resolver says may change by itself: the relation keeps its state and retries.
// Everything else puts the relation in ERROR: what we know of the peer cannot be trusted.
inline bool is_transient(discovery_failure f) {
    return f == discovery_failure::servfail || f == discovery_failure::timeout;
}

// Timers, in seconds. Every provider should use the same beat interval, since a peer's
// silence is measured in our intervals.
struct peer_timing {
    int64_t beat_interval = 60;
    int degraded_after = 2;        // DEGRADED after more than 2 intervals without a beat
    int interrupted_after = 5;     // INTERRUPTED after more than 5
    int64_t backoff_initial = 10;  // first retry delay after a failure; doubles each time
    int64_t backoff_max = 3600;    // ...up to this
    // Re-discovery happens at the TTL of the discovered records, kept within these bounds
    // (a TTL of 0 must not make a busy loop, a week-long TTL must not hide a KEY change).
    int64_t rediscovery_min = 60;
    int64_t rediscovery_max = 86400;
    // An action started (lookups, a HELLO) with no outcome reported after this long is due
    // again; this also restarts what was under way when the process stopped.
    int64_t answer_timeout = 30;
    friend bool operator==(const peer_timing&, const peer_timing&) = default;
};

// What is due now.
struct peer_actions {
    bool discover = false;    // look up URI, SVCB and KEY (or TLSA) again
    bool send_hello = false;  // send HELLO (NOTIFY with the Multi-Signer option)
    bool send_beat = false;   // send HEARTBEAT
    bool any() const { return discover || send_hello || send_beat; }
    friend bool operator==(const peer_actions&, const peer_actions&) = default;
};

class peer_relation {
  public:
    // A new relation: NEEDED, discovery due at `now`.
    explicit peer_relation(int64_t now, const peer_timing& timing = {});

    // --- Events. Each takes the time it happened. ---

    // The caller started the lookups / sent a HELLO / sent a beat: not due again before an
    // outcome (or answer_timeout, or the next beat interval).
    void discovery_started(int64_t now);
    void hello_sent(int64_t now);
    void beat_sent(int64_t now);

    // Every record was found and validated secure; `ttl` is the lowest TTL among them.
    // `changed`: the address, port or key differs from the previous discovery, so the
    // relation must be established again with a HELLO.
    void discovery_succeeded(int64_t now, uint32_t ttl, bool changed = false);
    // `detail` says which lookup failed, for the reason text.
    void discovery_failed(int64_t now, discovery_failure failure, std::string_view detail = {});
    // Our HELLO was answered NOERROR, or we answered the peer's HELLO with NOERROR (the draft:
    // either ends the HELLO phase). Ignored (false) while the peer is not KNOWN or beyond.
    bool hello_accepted(int64_t now);
    // Our HELLO was answered REFUSED (the peer does not know the zone or us yet) or not
    // answered: retried after a backoff that doubles per failure up to backoff_max.
    void hello_refused(int64_t now);
    void hello_unanswered(int64_t now);
    // A valid (signed, fresh) HEARTBEAT from the peer. Ignored (false) before OPERATIONAL.
    bool beat_received(int64_t now);
    // The peer answered our HEARTBEAT with REFUSED: it has lost the relation; HELLO again.
    void beat_refused(int64_t now);
    // Anything else that makes the peer untrustworthy (e.g. its messages fail SIG(0)
    // verification against the validated KEY): ERROR, discovery again after a backoff.
    void fail(int64_t now, std::string_view reason);

    // Moves OPERATIONAL to DEGRADED to INTERRUPTED as beats are missed, and says what is
    // due at `now`.
    peer_actions tick(int64_t now);
    // What is due at `now`, without changing anything.
    peer_actions due(int64_t now) const;
    // The earliest time something is due or the state may change by itself; nullopt if
    // nothing is scheduled.
    std::optional<int64_t> next_wakeup() const;

    // --- What the relation is. ---
    peer_state state() const { return state_; }
    const std::string& reason() const { return reason_; }  // why it is in this state
    int64_t since() const { return since_; }               // when it entered this state
    std::optional<int64_t> last_hello() const { return last_hello_; }
    std::optional<int64_t> last_beat() const { return last_beat_; }  // last beat received
    std::optional<int64_t> next_discovery() const { return next_discovery_; }
    std::optional<int64_t> next_hello() const { return next_hello_; }
    std::optional<int64_t> next_beat() const { return next_beat_; }
    int discovery_failures() const { return discovery_failures_; }  // in a row
    int hello_failures() const { return hello_failures_; }          // in a row
    const peer_timing& timing() const { return timing_; }

    // The stored form, key=value lines after a "hsync-peer 1" line (the reason escaped).
    // The timing is configuration, not state: from_text takes it from the caller. Throws
    // std::invalid_argument naming the bad line.
    std::string to_text() const;
    static peer_relation from_text(std::string_view text, const peer_timing& timing = {});

    friend bool operator==(const peer_relation&, const peer_relation&) = default;

  private:
    void enter(peer_state state, int64_t now, std::string reason);
    bool talking() const;          // OPERATIONAL, DEGRADED or INTERRUPTED
    int64_t last_contact() const;  // the last HELLO or beat received
    int64_t backoff(int failures) const;
    void become_known(int64_t now, std::string reason);

    peer_timing timing_;
    peer_state state_ = peer_state::needed;
    std::string reason_;
    int64_t since_ = 0;
    std::optional<int64_t> last_hello_, last_beat_;
    std::optional<int64_t> next_discovery_, next_hello_, next_beat_;
    int discovery_failures_ = 0;
    int hello_failures_ = 0;
};

}  // namespace hsync::agent
