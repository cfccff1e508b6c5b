// Zone versions that share structure: record_store copies and edit(), and
// zone_data::next() against a zone_data built from scratch after many random changes.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "zone/journal.h"
#include "zone/zone_data.h"
#include "test_util.h"

namespace {

using namespace hsync;
using zone::zone_data;
using test::store_of;
using test::texts;

TEST(RecordStoreVersions, CopiesShareRecordsButAppendApart) {
    dns::record_store a =
        store_of({"a.example. 60 IN A 192.0.2.1", "b.example. 60 IN A 192.0.2.2"});
    dns::record_store b = a;
    a.add(dns::rr::from_text("c.example. 60 IN A 192.0.2.3"));
    b.add(dns::rr::from_text("d.example. 60 IN A 192.0.2.4"));
    ASSERT_EQ(a.size(), 3u);
    ASSERT_EQ(b.size(), 3u);
    EXPECT_EQ(texts(a)[2], "c.example.\t60\tIN\tA\t192.0.2.3");
    EXPECT_EQ(texts(b)[2], "d.example.\t60\tIN\tA\t192.0.2.4");
    EXPECT_EQ(texts(a)[0], texts(b)[0]);
}

TEST(RecordStoreVersions, SortOfACopyNeverChangesTheOriginal) {
    // The TTL fix-up of sort() writes records; shared ones are copied first.
    dns::record_store a;
    a.add(dns::rr::from_text("a.example. 60 IN A 192.0.2.1"));
    a.add(dns::rr::from_text("a.example. 300 IN A 192.0.2.2"));
    dns::record_store b = a;
    b.add(dns::rr::from_text("a.example. 10 IN A 192.0.2.0"));
    size_t fixes = 0;
    b.sort(&fixes);
    EXPECT_EQ(fixes, 2u);  // the RRset takes the TTL of the record added first
    EXPECT_EQ(texts(b), (std::vector<std::string>{"a.example.\t60\tIN\tA\t192.0.2.0",
                                                  "a.example.\t60\tIN\tA\t192.0.2.1",
                                                  "a.example.\t60\tIN\tA\t192.0.2.2"}));
    EXPECT_EQ(texts(a), (std::vector<std::string>{"a.example.\t60\tIN\tA\t192.0.2.1",
                                                  "a.example.\t300\tIN\tA\t192.0.2.2"}));
}

TEST(RecordStoreVersions, SortAfterACopyNeverChangesTheCopy) {
    dns::record_store a;
    a.add(dns::rr::from_text("a.example. 60 IN A 192.0.2.1"));
    a.add(dns::rr::from_text("a.example. 300 IN A 192.0.2.2"));
    dns::record_store copy = a;
    a.sort();
    EXPECT_EQ(texts(a)[1], "a.example.\t60\tIN\tA\t192.0.2.2");
    EXPECT_EQ(texts(copy)[1], "a.example.\t300\tIN\tA\t192.0.2.2");
}

TEST(RecordStoreVersions, EditLeavesTheBaseAndCompactsWhenMostlyGarbage) {
    std::vector<std::string> lines;
    for (int i = 0; i < 2000; ++i)
        lines.push_back("n" + std::to_string(1000 + i) + ".example. 60 IN TXT " +
                        std::string(3, 'x') + " \"" + std::string(250, 'x') + "\" \"" +
                        std::string(250, 'y') + "\"");
    dns::record_store base = store_of(lines);
    const auto before = texts(base);
    dns::rr extra = dns::rr::from_text("n1000a.example. 60 IN A 192.0.2.9");
    std::vector<uint32_t> removed = {0, 5, 1999};
    std::vector<dns::record_store::insertion> inserted = {{1, &extra}};
    dns::record_store next = dns::record_store::edit(base, removed, inserted);
    EXPECT_EQ(texts(base), before);
    auto after = texts(next);
    ASSERT_EQ(after.size(), 1998u);
    EXPECT_EQ(after[0], "n1000a.example.\t60\tIN\tA\t192.0.2.9");
    EXPECT_EQ(after[1], before[1]);
    EXPECT_EQ(after[4], before[4]);
    EXPECT_EQ(after[5], before[6]);
    EXPECT_EQ(after.back(), before[1998]);
    EXPECT_EQ(next.storage_bytes(), base.storage_bytes() + 4096);  // shared, one new chunk

    // Remove nearly everything: the result no longer keeps base's storage alive.
    std::vector<uint32_t> most;
    for (uint32_t i = 10; i < 2000; ++i)
        most.push_back(i);
    dns::record_store small = dns::record_store::edit(base, most, {});
    EXPECT_EQ(small.size(), 10u);
    EXPECT_LT(small.storage_bytes(), base.storage_bytes() / 10);
    EXPECT_EQ(texts(small), std::vector<std::string>(before.begin(), before.begin() + 10));
}

// --- zone_data::next() ---

const dns::name origin = dns::name::from_text("example.");

std::string soa(uint32_t serial) {
    return "example. 3600 IN SOA ns.example. host.example. " + std::to_string(serial) +
           " 3600 600 86400 300";
}

class random_zone {
  public:
    explicit random_zone(bool nsec3, uint32_t seed) : nsec3_(nsec3), rng_(seed) {
        const char* labels[] = {"a", "b", "c", "d", "*"};
        for (auto l1 : labels) {
            names_.push_back(std::string(l1) + ".example.");
            for (auto l2 : labels) {
                names_.push_back(std::string(l2) + "." + l1 + ".example.");
                for (auto l3 : {"a", "x"})
                    names_.push_back(std::string(l3) + "." + l2 + "." + l1 + ".example.");
            }
        }
    }

    // A record that may or may not be in the zone.
    std::string random_record() {
        std::uniform_int_distribution<int> pick(0, 99);
        int kind = pick(rng_);
        if (nsec3_ && kind < 25) {
            std::string label;
            const char* alphabet = "0123456789abcdefghijklmnopqrstuv";
            for (int i = 0; i < 32; ++i)
                label.push_back(alphabet[pick(rng_) % 4 == 0 ? pick(rng_) % 32 : i % 3]);
            std::string next(32, '0');
            bool other_chain = pick(rng_) < 10;
            // Now and then outside the zone: kept, but never indexed.
            const char* zone = pick(rng_) < 5 ? ".example.net." : ".example.";
            return label + zone + " 300 IN NSEC3 1 0 " + (other_chain ? "5 ab " : "0 - ") + next +
                   " A RRSIG";
        }
        std::string name = names_[pick(rng_) % names_.size()];
        std::string n = std::to_string(pick(rng_) % 4);
        if (kind < 40) return name + " 300 IN A 192.0.2." + n;
        if (kind < 55) return name + " 300 IN TXT \"t" + n + "\"";
        if (kind < 65) return name + " 300 IN NS ns" + n + ".other.";
        if (kind < 72) return name + " 300 IN DS 1 8 2 " + std::string(64, "0123"[pick(rng_) % 4]);
        if (kind < 82) return name + " 300 IN NSEC a.example. A NSEC";
        if (kind < 85) return name + " 300 IN DNAME target" + n + ".other.";
        if (kind < 90) return name + " 300 IN CNAME target" + n + ".other.";
        return name + " 300 IN RRSIG A 8 2 300 20300101000000 20200101000000 1" + n +
               " example. AAAA";
    }

    dns::record_store initial() {
        std::vector<std::string> lines = {soa(1), "example. 3600 IN NS ns.example.",
                                          "ns.example. 3600 IN A 192.0.2.53"};
        if (nsec3_) lines.push_back("example. 0 IN NSEC3PARAM 1 0 0 -");
        while (lines.size() < 60) {
            auto r = random_record();
            if (std::find(lines.begin(), lines.end(), r) == lines.end()) lines.push_back(r);
        }
        return store_of(lines);
    }

    // A change of up to `most` records added and removed, with the SOA.
    dns::zone_diff change(const dns::record_store& zone, uint32_t serial, size_t most) {
        std::uniform_int_distribution<size_t> count(1, most);
        dns::zone_diff d;
        d.from_serial = serial;
        d.to_serial = serial + 1;
        d.removed.push_back(dns::rr::from_text(soa(serial)));
        d.added.push_back(dns::rr::from_text(soa(serial + 1)));
        std::vector<std::string> present = texts(zone);
        std::vector<size_t> removable;
        for (size_t i = 0; i < zone.size(); ++i)
            if (zone[i].type != dns::rr_type::SOA && zone[i].type != dns::rr_type::NSEC3PARAM &&
                !(zone[i].owner_name() == origin && zone[i].type == dns::rr_type::NS))
                removable.push_back(i);
        std::shuffle(removable.begin(), removable.end(), rng_);
        size_t drop = std::min(count(rng_), removable.size());
        for (size_t k = 0; k < drop; ++k)
            d.removed.push_back(zone[removable[k]].to_rr());
        size_t add = count(rng_);
        for (size_t k = 0; k < add; ++k) {
            dns::rr r = dns::rr::from_text(random_record());
            std::string t;
            dns::record_store one;
            one.add(r);
            one[0].append_text(t);
            bool have = std::find(present.begin(), present.end(), t) != present.end();
            bool twice = std::any_of(d.added.begin(), d.added.end(), [&](const dns::rr& x) {
                return dns::canonical_compare(x, r) == 0;
            });
            bool dropped = std::any_of(d.removed.begin(), d.removed.end(), [&](const dns::rr& x) {
                return dns::canonical_compare(x, r) == 0;
            });
            if (!have && !twice && !dropped) d.added.push_back(r);
        }
        return d;
    }

    std::vector<dns::name> probe_names() {
        std::vector<dns::name> out;
        for (const auto& n : names_)
            out.push_back(dns::name::from_text(n));
        for (const auto& n : names_)
            out.push_back(dns::name::from_text("zz." + n));
        out.push_back(origin);
        return out;
    }

  private:
    bool nsec3_;
    std::mt19937 rng_;
    std::vector<std::string> names_;
};

// The same index, as far as anything outside can see.
void expect_same(const zone_data& got, const zone_data& want, std::span<const dns::name> probes) {
    ASSERT_EQ(texts(got.records()), texts(want.records()));
    ASSERT_EQ(got.node_count(), want.node_count());
    EXPECT_EQ(got.serial(), want.serial());
    EXPECT_EQ(got.is_signed(), want.is_signed());
    EXPECT_EQ(got.nsec3(), want.nsec3());
    EXPECT_EQ(got.nsec3_count(), want.nsec3_count());
    for (zone_data::node_id id = 0; id < want.node_count(); ++id) {
        auto owner = want.node_owner(id);
        SCOPED_TRACE(want.node_name(id).to_text());
        ASSERT_TRUE(std::ranges::equal(got.node_owner(id), owner));
        EXPECT_EQ(got.find(owner), id);
        EXPECT_EQ(got.node_records(id).first, want.node_records(id).first);
        EXPECT_EQ(got.node_records(id).end, want.node_records(id).end);
        for (uint16_t t : {dns::rr_type::NS, dns::rr_type::SOA, dns::rr_type::CNAME,
                           dns::rr_type::DNAME, dns::rr_type::DS, dns::rr_type::NSEC}) {
            EXPECT_EQ(got.rrset(id, t).first, want.rrset(id, t).first);
            EXPECT_EQ(got.rrsigs(id, t).end, want.rrsigs(id, t).end);
        }
    }
    for (const auto& n : probes) {
        SCOPED_TRACE(n.to_text());
        for (bool ds : {false, true}) {
            auto a = got.lookup(n, ds), b = want.lookup(n, ds);
            EXPECT_EQ(a.exact, b.exact);
            EXPECT_EQ(a.closest_encloser, b.closest_encloser);
            EXPECT_EQ(a.delegation, b.delegation);
            EXPECT_EQ(a.dname, b.dname);
        }
        EXPECT_EQ(got.find(n), want.find(n));
        EXPECT_EQ(got.nsec_covering(n), want.nsec_covering(n));
        if (want.nsec3()) {
            auto h = want.nsec3_hash(n);
            auto* a = got.nsec3_cover(h);
            auto* b = want.nsec3_cover(h);
            ASSERT_EQ(a == nullptr, b == nullptr);
            if (a) {
                EXPECT_EQ(a->hash, b->hash);
                EXPECT_EQ(a->records.first, b->records.first);
                EXPECT_EQ(a->records.end, b->records.end);
            }
        }
    }
}

void run_versions(bool nsec3, uint32_t seed) {
    random_zone gen(nsec3, seed);
    auto probes = gen.probe_names();
    auto current = std::make_shared<const zone_data>(gen.initial(), origin);
    uint32_t serial = 1;
    for (int step = 0; step < 200; ++step) {
        SCOPED_TRACE("step " + std::to_string(step));
        auto change = gen.change(current->records(), serial, step % 10 == 0 ? 12 : 3);
        auto before = texts(current->records());
        auto next = zone_data::next(*current, change);
        ++serial;
        zone_data fresh(next->records(), origin);
        EXPECT_EQ(next->index_difference(fresh), "");
        expect_same(*next, fresh, probes);
        // The version the change started from is untouched.
        EXPECT_EQ(texts(current->records()), before);
        zone_data old_fresh(current->records(), origin);
        expect_same(*current, old_fresh, probes);
        if (testing::Test::HasFailure()) return;
        current = next;
    }
}

TEST(ZoneDataNext, EqualsAFullBuildAfterEveryChange) {
    for (uint32_t seed : {1u, 2u, 3u})
        run_versions(false, seed);
}

TEST(ZoneDataNext, EqualsAFullBuildForNsec3Zones) {
    for (uint32_t seed : {4u, 5u})
        run_versions(true, seed);
}

TEST(ZoneDataNext, RefusesAChangeThatDoesNotFitAndKeepsTheBase) {
    auto base = std::make_shared<const zone_data>(
        store_of({soa(1), "example. 3600 IN NS ns.example.", "ns.example. 3600 IN A 192.0.2.1"}),
        origin);
    dns::zone_diff d;
    d.from_serial = 1;
    d.to_serial = 2;
    d.removed = {dns::rr::from_text(soa(1)), dns::rr::from_text("gone.example. 60 IN A 192.0.2.2")};
    d.added = {dns::rr::from_text(soa(2))};
    EXPECT_THROW(zone_data::next(*base, d), zone::journal_error);
    // Removing the SOA leaves nothing to serve.
    dns::zone_diff no_soa;
    no_soa.from_serial = 1;
    no_soa.to_serial = 1;
    no_soa.removed = {dns::rr::from_text(soa(1))};
    EXPECT_THROW(zone_data::next(*base, no_soa), zone::zone_data_error);
    EXPECT_EQ(base->serial(), 1u);
    EXPECT_NE(base->find(dns::name::from_text("ns.example.")), zone_data::npos);
}

}  // namespace
