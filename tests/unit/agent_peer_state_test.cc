// The relation with one remote agent, driven by a scripted clock: discovery, HELLO with
// backoff, heartbeats missed and resumed, errors, re-discovery, and the stored form.
#include "roles/agent/peer_state.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

using namespace hsync;
using agent::discovery_failure;
using agent::peer_actions;
using agent::peer_relation;
using agent::peer_state;

agent::peer_timing timing() {
    agent::peer_timing t;
    t.beat_interval = 60;
    t.degraded_after = 2;
    t.interrupted_after = 5;
    t.backoff_initial = 10;
    t.backoff_max = 300;
    t.rediscovery_min = 60;
    t.rediscovery_max = 86400;
    t.answer_timeout = 30;
    return t;
}

peer_actions actions(bool discover, bool hello, bool beat) {
    return {discover, hello, beat};
}

// A relation brought to OPERATIONAL at time 1000 (HELLO accepted), discovered with TTL 3600.
peer_relation operational() {
    peer_relation r(900, timing());
    r.discovery_started(900);
    r.discovery_succeeded(950, 3600);
    r.hello_sent(960);
    EXPECT_TRUE(r.hello_accepted(1000));
    return r;
}

TEST(AgentPeerState, NewRelationNeedsDiscoveryNow) {
    peer_relation r(100, timing());
    EXPECT_EQ(r.state(), peer_state::needed);
    EXPECT_EQ(r.since(), 100);
    EXPECT_EQ(r.due(100), actions(true, false, false));
    EXPECT_EQ(r.next_wakeup(), 100);
    EXPECT_FALSE(r.last_hello());
    EXPECT_FALSE(r.last_beat());
    // Started: not due again until the answer is overdue.
    r.discovery_started(100);
    EXPECT_FALSE(r.tick(129).any());
    EXPECT_EQ(r.tick(130), actions(true, false, false));
}

TEST(AgentPeerState, DiscoveryThenHelloMakesOperational) {
    peer_relation r(0, timing());
    r.discovery_started(0);
    r.discovery_succeeded(5, 3600);
    EXPECT_EQ(r.state(), peer_state::known);
    EXPECT_EQ(r.since(), 5);
    EXPECT_EQ(r.next_discovery(), 3605);
    EXPECT_EQ(r.due(5), actions(false, true, false));
    r.hello_sent(5);
    EXPECT_FALSE(r.due(34).any());
    EXPECT_EQ(r.due(35), actions(false, true, false));  // unanswered: due again
    EXPECT_TRUE(r.hello_accepted(40));
    EXPECT_EQ(r.state(), peer_state::operational);
    EXPECT_EQ(r.reason(), "HELLO accepted");
    EXPECT_EQ(r.last_hello(), 40);
    EXPECT_FALSE(r.next_hello());
    EXPECT_EQ(r.next_beat(), 100);
    EXPECT_FALSE(r.due(99).any());
    EXPECT_EQ(r.due(100), actions(false, false, true));
    r.beat_sent(100);
    EXPECT_EQ(r.next_beat(), 160);
}

TEST(AgentPeerState, HelloAndBeatsIgnoredBeforeDiscovery) {
    peer_relation r(0, timing());
    EXPECT_FALSE(r.hello_accepted(1));
    EXPECT_FALSE(r.beat_received(1));
    r.hello_refused(1);
    EXPECT_EQ(r.state(), peer_state::needed);
    EXPECT_EQ(r.hello_failures(), 0);
    r.discovery_succeeded(2, 3600);
    // KNOWN but no HELLO done: a beat does not make the relation.
    EXPECT_FALSE(r.beat_received(3));
    EXPECT_EQ(r.state(), peer_state::known);
}

TEST(AgentPeerState, RefusedHelloIsRetriedWithCappedBackoff) {
    peer_relation r(0, timing());
    r.discovery_succeeded(0, 3600);
    int64_t now = 0;
    const int64_t expected_delays[] = {10, 20, 40, 80, 160, 300, 300};
    for (int64_t delay : expected_delays) {
        ASSERT_TRUE(r.due(now).send_hello);
        r.hello_sent(now);
        r.hello_refused(now + 1);
        EXPECT_EQ(r.state(), peer_state::known);
        EXPECT_EQ(r.next_hello(), now + 1 + delay);
        EXPECT_FALSE(r.due(now + delay).send_hello);
        now += 1 + delay;
    }
    EXPECT_EQ(r.hello_failures(), 7);
    EXPECT_EQ(r.reason(), "HELLO refused 7 time(s) in a row; sent again at " + std::to_string(now));
    // An unanswered HELLO counts the same way.
    r.hello_sent(now);
    r.hello_unanswered(now + 30);
    EXPECT_EQ(r.hello_failures(), 8);
    EXPECT_EQ(r.next_hello(), now + 30 + 300);
    EXPECT_TRUE(r.hello_accepted(now + 400));
    EXPECT_EQ(r.hello_failures(), 0);
    EXPECT_EQ(r.state(), peer_state::operational);
}

TEST(AgentPeerState, MissedHeartbeatsDegradeThenInterrupt) {
    peer_relation r = operational();   // last contact 1000, interval 60
    EXPECT_EQ(r.next_wakeup(), 1060);  // first beat to send
    r.beat_sent(1060);
    EXPECT_EQ(r.next_wakeup(), 1120);
    r.beat_sent(1120);
    // More than 2 intervals of silence.
    EXPECT_EQ(r.next_wakeup(), 1121);
    r.tick(1120);
    EXPECT_EQ(r.state(), peer_state::operational);
    r.tick(1121);
    EXPECT_EQ(r.state(), peer_state::degraded);
    EXPECT_EQ(r.since(), 1121);
    EXPECT_EQ(r.reason(), "no heartbeat for 121 s");
    // Beats keep going out while degraded.
    EXPECT_TRUE(r.tick(1180).send_beat);
    r.beat_sent(1180);
    EXPECT_EQ(r.next_wakeup(), 1240);
    r.beat_sent(1240);
    EXPECT_EQ(r.next_wakeup(), 1300);
    r.tick(1300);
    EXPECT_EQ(r.state(), peer_state::degraded);
    EXPECT_EQ(r.next_wakeup(), 1300);  // the beat, then the threshold at 1301
    r.beat_sent(1300);
    EXPECT_EQ(r.next_wakeup(), 1301);
    r.tick(1301);
    EXPECT_EQ(r.state(), peer_state::interrupted);
    EXPECT_EQ(r.reason(), "no heartbeat for 301 s");
    EXPECT_TRUE(r.tick(1360).send_beat);  // still beating, so the peer can come back

    // A beat brings it back.
    EXPECT_TRUE(r.beat_received(1400));
    EXPECT_EQ(r.state(), peer_state::operational);
    EXPECT_EQ(r.reason(), "heartbeat received");
    EXPECT_EQ(r.last_beat(), 1400);
    r.tick(1520);
    EXPECT_EQ(r.state(), peer_state::operational);
    r.tick(1521);
    EXPECT_EQ(r.state(), peer_state::degraded);
    EXPECT_TRUE(r.beat_received(1522));
    EXPECT_EQ(r.state(), peer_state::operational);
}

TEST(AgentPeerState, LongSilenceGoesStraightToInterrupted) {
    peer_relation r = operational();
    r.tick(5000);
    EXPECT_EQ(r.state(), peer_state::interrupted);
    // A fresh HELLO from the peer (after its restart) also brings it back.
    EXPECT_TRUE(r.hello_accepted(5001));
    EXPECT_EQ(r.state(), peer_state::operational);
}

TEST(AgentPeerState, BeatsKeepItOperational) {
    peer_relation r = operational();
    for (int64_t t = 1050; t < 3000; t += 50) {
        EXPECT_TRUE(r.beat_received(t));
        r.tick(t + 1);
        ASSERT_EQ(r.state(), peer_state::operational);
    }
}

TEST(AgentPeerState, RefusedBeatMeansHelloAgain) {
    peer_relation r = operational();
    r.beat_sent(1060);
    r.beat_refused(1061);
    EXPECT_EQ(r.state(), peer_state::known);
    EXPECT_EQ(r.reason(), "heartbeat refused: the remote agent lost the relation");
    EXPECT_EQ(r.due(1061), actions(false, true, false));
    EXPECT_FALSE(r.next_beat());
}

TEST(AgentPeerState, RediscoveryAtTtlExpiry) {
    peer_relation r = operational();  // discovered at 950, TTL 3600
    EXPECT_EQ(r.next_discovery(), 4550);
    r.beat_received(4500);
    EXPECT_FALSE(r.tick(4549).discover);
    EXPECT_TRUE(r.tick(4550).discover);
    r.discovery_started(4550);
    r.discovery_succeeded(4551, 7200);
    EXPECT_EQ(r.state(), peer_state::operational);  // same records: nothing to redo
    EXPECT_EQ(r.next_discovery(), 4551 + 7200);
    // The records changed (new key or address): HELLO again.
    r.discovery_succeeded(5000, 7200, true);
    EXPECT_EQ(r.state(), peer_state::known);
    EXPECT_EQ(r.due(5000), actions(false, true, false));
}

TEST(AgentPeerState, TtlIsKeptWithinBounds) {
    peer_relation r(0, timing());
    r.discovery_succeeded(0, 0);
    EXPECT_EQ(r.next_discovery(), 60);
    r.discovery_succeeded(100, 4000000000u);
    EXPECT_EQ(r.next_discovery(), 100 + 86400);
}

TEST(AgentPeerState, TransientDiscoveryFailureRetriesWithBackoff) {
    peer_relation r(0, timing());
    r.discovery_started(0);
    r.discovery_failed(3, discovery_failure::timeout, "URI _dns._tcp.agent.p1.");
    EXPECT_EQ(r.state(), peer_state::needed);
    EXPECT_EQ(r.next_discovery(), 13);
    EXPECT_EQ(r.reason(),
              "discovery failed: timed out (URI _dns._tcp.agent.p1.); looked up again at 13");
    r.discovery_failed(13, discovery_failure::servfail);
    EXPECT_EQ(r.next_discovery(), 33);
    EXPECT_EQ(r.discovery_failures(), 2);
    r.discovery_succeeded(40, 600);
    EXPECT_EQ(r.discovery_failures(), 0);
    EXPECT_EQ(r.state(), peer_state::known);

    // A working relation whose re-discovery times out keeps working and its reason.
    peer_relation o = operational();
    o.discovery_failed(4550, discovery_failure::timeout);
    EXPECT_EQ(o.state(), peer_state::operational);
    EXPECT_EQ(o.reason(), "HELLO accepted");
    EXPECT_EQ(o.next_discovery(), 4560);
}

TEST(AgentPeerState, InsecureOrMissingRecordsMeanError) {
    struct error_case {
        discovery_failure failure;
        const char* text;
    };
    for (auto [failure, text] :
         {error_case{discovery_failure::insecure, "not DNSSEC-secure"},
          error_case{discovery_failure::bogus, "DNSSEC validation failed (bogus)"},
          error_case{discovery_failure::nxdomain, "name does not exist"},
          error_case{discovery_failure::nodata, "record missing"}}) {
        SCOPED_TRACE(text);
        peer_relation r = operational();
        r.discovery_failed(2000, failure, "KEY ns.p1.");
        EXPECT_EQ(r.state(), peer_state::error);
        EXPECT_EQ(r.since(), 2000);
        EXPECT_EQ(r.reason(), "discovery failed: " + std::string(text) +
                                  " (KEY ns.p1.); looked up again at 2010");
        // No more talking until the peer is found secure again.
        EXPECT_EQ(r.tick(2010), actions(true, false, false));
        EXPECT_FALSE(r.beat_received(2011));
        EXPECT_FALSE(r.hello_accepted(2011));
        r.discovery_failed(2010, failure);
        EXPECT_EQ(r.next_discovery(), 2030);
        r.discovery_succeeded(2030, 3600);
        EXPECT_EQ(r.state(), peer_state::known);
        EXPECT_EQ(r.due(2030), actions(false, true, false));
    }
}

TEST(AgentPeerState, FailWithReason) {
    peer_relation r = operational();
    r.fail(1500, "HEARTBEAT SIG(0) does not verify with the validated KEY");
    EXPECT_EQ(r.state(), peer_state::error);
    EXPECT_EQ(r.reason(), "HEARTBEAT SIG(0) does not verify with the validated KEY");
    EXPECT_EQ(r.next_discovery(), 1510);
    EXPECT_FALSE(r.next_beat());
    EXPECT_FALSE(r.next_hello());
}

TEST(AgentPeerState, StateNames) {
    for (auto s : {peer_state::needed, peer_state::known, peer_state::operational,
                   peer_state::degraded, peer_state::interrupted, peer_state::error})
        EXPECT_EQ(agent::peer_state_from_text(agent::to_text(s)), s);
    EXPECT_EQ(agent::to_text(peer_state::interrupted), "INTERRUPTED");
    EXPECT_FALSE(agent::peer_state_from_text("operational"));
}

TEST(AgentPeerState, StoredFormRoundTrip) {
    peer_relation fresh(7, timing());
    peer_relation working = operational();
    working.beat_received(1030);
    working.beat_sent(1060);
    peer_relation failing(0, timing());
    failing.fail(10, "odd reason \\ with\nline break = and more");
    for (const auto* r : {&fresh, &working, &failing}) {
        std::string text = r->to_text();
        SCOPED_TRACE(text);
        peer_relation back = peer_relation::from_text(text, timing());
        EXPECT_EQ(back, *r);
        EXPECT_EQ(back.to_text(), text);
    }
    EXPECT_EQ(working.to_text(),
              "hsync-peer 1\nstate=OPERATIONAL\nsince=1000\nlast_hello=1000\nlast_beat=1030\n"
              "next_discovery=4550\nnext_beat=1120\ndiscovery_failures=0\nhello_failures=0\n"
              "reason=HELLO accepted\n");
    EXPECT_NE(failing.to_text().find("reason=odd reason \\\\ with\\nline break = and more\n"),
              std::string::npos);
    // Restored after a long stop, the relation sees the silence at once.
    peer_relation restored = peer_relation::from_text(working.to_text(), timing());
    EXPECT_EQ(restored.tick(100000), actions(true, false, true));
    EXPECT_EQ(restored.state(), peer_state::interrupted);
}

TEST(AgentPeerState, StoredFormRejectsBadInput) {
    const char* bad[] = {
        "",
        "hsync-peer 2\nstate=KNOWN\nsince=1\n",
        "hsync-peer 1\nsince=1\n",
        "hsync-peer 1\nstate=KNOWN\n",
        "hsync-peer 1\nstate=WAITING\nsince=1\n",
        "hsync-peer 1\nstate=KNOWN\nsince=1x\n",
        "hsync-peer 1\nstate=KNOWN\nsince=\n",
        "hsync-peer 1\nstate=KNOWN\nsince=1\nsince=2\n",
        "hsync-peer 1\nstate=KNOWN\nsince=1\ncolour=blue\n",
        "hsync-peer 1\nstate=KNOWN\nsince=1\nno equals sign\n",
        "hsync-peer 1\nstate=KNOWN\nsince=1\nhello_failures=-1\n",
        "hsync-peer 1\nstate=KNOWN\nsince=1\nreason=trailing \\\n",
        "hsync-peer 1\nstate=KNOWN\nsince=1\nreason=bad \\t escape\n",
        "hsync-peer 1\nstate=KNOWN\nsince=99999999999999999999\n",
    };
    for (const char* text : bad) {
        SCOPED_TRACE(text);
        EXPECT_THROW(peer_relation::from_text(text, timing()), std::invalid_argument);
    }
}

}  // namespace
