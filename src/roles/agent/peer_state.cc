#include "roles/agent/peer_state.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

namespace hsync::agent {
namespace {

constexpr std::string_view state_names[] = {"NEEDED",   "KNOWN",       "OPERATIONAL",
                                            "DEGRADED", "INTERRUPTED", "ERROR"};
constexpr std::string_view stored_header = "hsync-peer 1";

std::string at(int64_t t) {
    return std::to_string(t);
}

// The reason is free text; one line per key keeps the stored form readable, so line breaks
// and the escape character itself are escaped.
std::string escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out.push_back(c);
    }
    return out;
}

std::string unescape(std::string_view text, std::string_view line) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\') {
            out.push_back(text[i]);
            continue;
        }
        if (++i == text.size() || (text[i] != '\\' && text[i] != 'n'))
            throw std::invalid_argument("bad escape in stored peer relation line: " +
                                        std::string(line));
        out.push_back(text[i] == 'n' ? '\n' : '\\');
    }
    return out;
}

int64_t number(std::string_view text, std::string_view line) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
        throw std::invalid_argument("bad number in stored peer relation line: " +
                                    std::string(line));
    return v;
}

}  // namespace

std::string_view to_text(peer_state state) {
    return state_names[static_cast<size_t>(state)];
}

std::optional<peer_state> peer_state_from_text(std::string_view text) {
    for (size_t i = 0; i < std::size(state_names); ++i)
        if (state_names[i] == text) return static_cast<peer_state>(i);
    return std::nullopt;
}

std::string_view to_text(discovery_failure failure) {
    switch (failure) {
        case discovery_failure::insecure:
            return "not DNSSEC-secure";
        case discovery_failure::bogus:
            return "DNSSEC validation failed (bogus)";
        case discovery_failure::nxdomain:
            return "name does not exist";
        case discovery_failure::nodata:
            return "record missing";
        case discovery_failure::servfail:
            return "resolver failure";
        case discovery_failure::timeout:
            return "timed out";
    }
    return "unknown failure";
}

peer_relation::peer_relation(int64_t now, const peer_timing& timing)
    : timing_(timing),
      reason_("remote agent not looked up yet"),
      since_(now),
      next_discovery_(now) {}

void peer_relation::enter(peer_state state, int64_t now, std::string reason) {
    if (state != state_) since_ = now;
    state_ = state;
    reason_ = std::move(reason);
}

int64_t peer_relation::last_contact() const {
    // A talking relation always has a HELLO; `since` only covers a hand-edited stored form.
    if (!last_hello_ && !last_beat_) return since_;
    constexpr int64_t never = std::numeric_limits<int64_t>::min();
    return std::max(last_hello_.value_or(never), last_beat_.value_or(never));
}

bool peer_relation::talking() const {
    return state_ == peer_state::operational || state_ == peer_state::degraded ||
           state_ == peer_state::interrupted;
}

int64_t peer_relation::backoff(int failures) const {
    int64_t delay = std::max<int64_t>(timing_.backoff_initial, 1);
    for (int i = 1; i < failures && delay < timing_.backoff_max; ++i)
        delay *= 2;  // stops at backoff_max, far below overflow
    return std::min(delay, std::max<int64_t>(timing_.backoff_max, 1));
}

void peer_relation::become_known(int64_t now, std::string reason) {
    enter(peer_state::known, now, std::move(reason));
    hello_failures_ = 0;
    next_hello_ = now;
    next_beat_.reset();
}

void peer_relation::discovery_started(int64_t now) {
    next_discovery_ = now + timing_.answer_timeout;
}

void peer_relation::hello_sent(int64_t now) {
    if (state_ == peer_state::known) next_hello_ = now + timing_.answer_timeout;
}

void peer_relation::beat_sent(int64_t now) {
    if (talking()) next_beat_ = now + timing_.beat_interval;
}

void peer_relation::discovery_succeeded(int64_t now, uint32_t ttl, bool changed) {
    discovery_failures_ = 0;
    next_discovery_ =
        now + std::clamp<int64_t>(ttl, timing_.rediscovery_min, timing_.rediscovery_max);
    if (state_ == peer_state::needed || state_ == peer_state::error)
        become_known(now, "URI, SVCB and KEY found and secure; HELLO next");
    else if (changed && talking())
        become_known(now, "the remote agent's records changed; HELLO again");
    else if (state_ == peer_state::known && changed)
        next_hello_ = now;  // the HELLO under way went to the old address or key
}

void peer_relation::discovery_failed(int64_t now, discovery_failure failure,
                                     std::string_view detail) {
    ++discovery_failures_;
    int64_t retry = now + backoff(discovery_failures_);
    next_discovery_ = retry;
    std::string reason = "discovery failed: " + std::string(agent::to_text(failure));
    if (!detail.empty()) reason += " (" + std::string(detail) + ")";
    reason += "; looked up again at " + at(retry);
    if (!is_transient(failure)) {
        // What we knew of the peer may be forged or withdrawn: stop talking to it.
        enter(peer_state::error, now, std::move(reason));
        next_hello_.reset();
        next_beat_.reset();
    } else if (state_ == peer_state::needed || state_ == peer_state::error) {
        // Nothing better to say about the relation; a working one keeps its own reason.
        reason_ = std::move(reason);
    }
}

bool peer_relation::hello_accepted(int64_t now) {
    if (state_ == peer_state::needed || state_ == peer_state::error) return false;
    last_hello_ = now;
    hello_failures_ = 0;
    next_hello_.reset();
    next_beat_ = now + timing_.beat_interval;
    enter(peer_state::operational, now, "HELLO accepted");
    return true;
}

void peer_relation::hello_refused(int64_t now) {
    if (state_ != peer_state::known) return;
    ++hello_failures_;
    next_hello_ = now + backoff(hello_failures_);
    reason_ = "HELLO refused " + std::to_string(hello_failures_) +
              " time(s) in a row; sent again at " + at(*next_hello_);
}

void peer_relation::hello_unanswered(int64_t now) {
    if (state_ != peer_state::known) return;
    ++hello_failures_;
    next_hello_ = now + backoff(hello_failures_);
    reason_ = "HELLO unanswered " + std::to_string(hello_failures_) +
              " time(s) in a row; sent again at " + at(*next_hello_);
}

bool peer_relation::beat_received(int64_t now) {
    if (!talking()) return false;
    last_beat_ = now;
    if (state_ != peer_state::operational)
        enter(peer_state::operational, now, "heartbeat received");
    return true;
}

void peer_relation::beat_refused(int64_t now) {
    if (talking()) become_known(now, "heartbeat refused: the remote agent lost the relation");
}

void peer_relation::fail(int64_t now, std::string_view reason) {
    ++discovery_failures_;
    next_discovery_ = now + backoff(discovery_failures_);
    next_hello_.reset();
    next_beat_.reset();
    enter(peer_state::error, now, std::string(reason));
}

peer_actions peer_relation::tick(int64_t now) {
    if (talking()) {
        int64_t contact = last_contact();
        int64_t silent = now - contact;
        std::string why = "no heartbeat for " + std::to_string(silent) + " s";
        if (silent > timing_.interrupted_after * timing_.beat_interval) {
            if (state_ != peer_state::interrupted) enter(peer_state::interrupted, now, why);
        } else if (silent > timing_.degraded_after * timing_.beat_interval) {
            if (state_ == peer_state::operational) enter(peer_state::degraded, now, why);
        }
    }
    return due(now);
}

peer_actions peer_relation::due(int64_t now) const {
    peer_actions a;
    a.discover = next_discovery_ && *next_discovery_ <= now;
    a.send_hello = state_ == peer_state::known && next_hello_ && *next_hello_ <= now;
    a.send_beat = talking() && next_beat_ && *next_beat_ <= now;
    return a;
}

std::optional<int64_t> peer_relation::next_wakeup() const {
    std::optional<int64_t> next;
    auto consider = [&](std::optional<int64_t> t) {
        if (t && (!next || *t < *next)) next = t;
    };
    consider(next_discovery_);
    if (state_ == peer_state::known) consider(next_hello_);
    if (talking()) {
        consider(next_beat_);
        int64_t contact = last_contact();
        // The first second past a threshold, when tick() changes the state.
        if (state_ == peer_state::operational)
            consider(contact + timing_.degraded_after * timing_.beat_interval + 1);
        else if (state_ == peer_state::degraded)
            consider(contact + timing_.interrupted_after * timing_.beat_interval + 1);
    }
    return next;
}

std::string peer_relation::to_text() const {
    std::string out(stored_header);
    out += "\nstate=" + std::string(agent::to_text(state_));
    out += "\nsince=" + at(since_);
    auto optional = [&](const char* key, std::optional<int64_t> t) {
        if (t) out += "\n" + std::string(key) + "=" + at(*t);
    };
    optional("last_hello", last_hello_);
    optional("last_beat", last_beat_);
    optional("next_discovery", next_discovery_);
    optional("next_hello", next_hello_);
    optional("next_beat", next_beat_);
    out += "\ndiscovery_failures=" + std::to_string(discovery_failures_);
    out += "\nhello_failures=" + std::to_string(hello_failures_);
    out += "\nreason=" + escape(reason_);
    out += "\n";
    return out;
}

peer_relation peer_relation::from_text(std::string_view text, const peer_timing& timing) {
    peer_relation r(0, timing);
    r.next_discovery_.reset();
    auto bad = [](const std::string& what) {
        throw std::invalid_argument("stored peer relation: " + what);
    };
    bool header = false, state = false, since = false;
    std::vector<std::string> seen;
    while (!text.empty()) {
        size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
        if (!header) {
            if (line != stored_header) bad("unknown format: " + std::string(line));
            header = true;
            continue;
        }
        size_t eq = line.find('=');
        if (eq == std::string_view::npos) bad("line without '=': " + std::string(line));
        std::string key(line.substr(0, eq));
        std::string_view value = line.substr(eq + 1);
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) bad("repeated key: " + key);
        seen.push_back(key);
        if (key == "state") {
            auto s = peer_state_from_text(value);
            if (!s) bad("unknown state: " + std::string(line));
            r.state_ = *s;
            state = true;
        } else if (key == "since") {
            r.since_ = number(value, line);
            since = true;
        } else if (key == "last_hello") {
            r.last_hello_ = number(value, line);
        } else if (key == "last_beat") {
            r.last_beat_ = number(value, line);
        } else if (key == "next_discovery") {
            r.next_discovery_ = number(value, line);
        } else if (key == "next_hello") {
            r.next_hello_ = number(value, line);
        } else if (key == "next_beat") {
            r.next_beat_ = number(value, line);
        } else if (key == "discovery_failures" || key == "hello_failures") {
            int64_t n = number(value, line);
            if (n < 0 || n > 1000000) bad("failure count out of range: " + std::string(line));
            (key == "hello_failures" ? r.hello_failures_ : r.discovery_failures_) =
                static_cast<int>(n);
        } else if (key == "reason") {
            r.reason_ = unescape(value, line);
        } else {
            bad("unknown key: " + std::string(line));
        }
    }
    if (!header) bad("empty");
    if (!state || !since) bad("state or since missing");
    return r;
}

}  // namespace hsync::agent
