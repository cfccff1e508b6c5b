// diff / apply / condense on zone versions: round trips, strictness, RFC 1995 §7's zone.
#include "zone/journal.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

using namespace hsync;
using zone::apply;
using zone::condense;
using zone::diff;
using zone::journal_error;
using test::store_of;
using test::texts;

std::vector<std::string> texts(const std::vector<dns::rr>& v) {
    std::vector<std::string> out;
    for (const auto& r : v)
        out.push_back(r.to_text());
    return out;
}

std::string soa(uint32_t serial) {
    return "jain.ad.jp. 3600 IN SOA ns.jain.ad.jp. mohta.jain.ad.jp. " + std::to_string(serial) +
           " 600 600 3600000 604800";
}

// The three versions of RFC 1995 §7.
dns::record_store gen1() {
    return store_of({soa(1), "jain.ad.jp. 3600 IN NS NS.JAIN.AD.JP.",
                     "NS.JAIN.AD.JP. 3600 IN A 133.69.136.1",
                     "NEZU.JAIN.AD.JP. 3600 IN A 133.69.136.5"});
}
dns::record_store gen2() {
    return store_of({soa(2), "jain.ad.jp. 3600 IN NS NS.JAIN.AD.JP.",
                     "NS.JAIN.AD.JP. 3600 IN A 133.69.136.1",
                     "JAIN-BB.JAIN.AD.JP. 3600 IN A 133.69.136.4",
                     "JAIN-BB.JAIN.AD.JP. 3600 IN A 192.41.197.2"});
}
dns::record_store gen3() {
    return store_of({soa(3), "jain.ad.jp. 3600 IN NS NS.JAIN.AD.JP.",
                     "NS.JAIN.AD.JP. 3600 IN A 133.69.136.1",
                     "JAIN-BB.JAIN.AD.JP. 3600 IN A 133.69.136.3",
                     "JAIN-BB.JAIN.AD.JP. 3600 IN A 192.41.197.2"});
}

TEST(Journal, FindSoaAndOwnerRange) {
    auto z = gen3();
    auto i = zone::find_soa(z);
    ASSERT_TRUE(i.has_value());
    EXPECT_EQ(z[*i].type, dns::rr_type::SOA);
    EXPECT_EQ(zone::soa_serial(z[*i].rdata), 3u);
    auto [a, b] = zone::owner_range(z, dns::name::from_text("Jain-BB.jain.ad.jp."));
    EXPECT_EQ(b - a, 2u);
    auto [c, d] = zone::owner_range(z, dns::name::from_text("nothing.jain.ad.jp."));
    EXPECT_EQ(c, d);
    EXPECT_FALSE(zone::find_soa(store_of({"a.example. 60 IN A 192.0.2.1"})).has_value());
}

TEST(Journal, DiffOfRfc1995Versions) {
    auto d = diff(gen1(), gen2());
    EXPECT_EQ(d.from_serial, 1u);
    EXPECT_EQ(d.to_serial, 2u);
    ASSERT_EQ(d.removed.size(), 2u);
    ASSERT_EQ(d.added.size(), 3u);
    EXPECT_EQ(d.removed[0].type, dns::rr_type::SOA);  // the old SOA leads (RFC 1995 §4)
    EXPECT_EQ(zone::soa_serial(d.removed[0].rdata), 1u);
    EXPECT_EQ(d.removed[1].to_text(), "nezu.jain.ad.jp.\t3600\tIN\tA\t133.69.136.5");
    EXPECT_EQ(zone::soa_serial(d.added[0].rdata), 2u);
    EXPECT_EQ(texts(apply(gen1(), d)), texts(gen2()));
    EXPECT_TRUE(diff(gen2(), gen2()).empty());
}

TEST(Journal, TtlChangeIsRemoveAndAdd) {
    auto a = store_of({soa(1), "x.jain.ad.jp. 60 IN A 192.0.2.1"});
    auto b = store_of({soa(2), "x.jain.ad.jp. 120 IN A 192.0.2.1"});
    auto d = diff(a, b);
    ASSERT_EQ(d.removed.size(), 2u);
    ASSERT_EQ(d.added.size(), 2u);
    EXPECT_EQ(d.removed[1].ttl, 60u);
    EXPECT_EQ(d.added[1].ttl, 120u);
    EXPECT_EQ(texts(apply(a, d)), texts(b));
}

TEST(Journal, SoaIncludedWhenOnlyDataChanged) {
    auto a = store_of({soa(1), "x.jain.ad.jp. 60 IN A 192.0.2.1"});
    auto b = store_of({soa(1), "x.jain.ad.jp. 60 IN A 192.0.2.2"});
    auto d = diff(a, b);
    ASSERT_EQ(d.removed.size(), 2u);
    EXPECT_EQ(d.removed[0].type, dns::rr_type::SOA);
    EXPECT_EQ(d.added[0].type, dns::rr_type::SOA);
    EXPECT_EQ(texts(apply(a, d)), texts(b));
}

TEST(Journal, ApplyRefusesWhatDoesNotFit) {
    auto z = gen1();
    auto d = diff(gen1(), gen2());
    auto missing = d;
    missing.removed.push_back(dns::rr::from_text("gone.jain.ad.jp. 3600 IN A 192.0.2.9"));
    EXPECT_THROW(apply(z, missing), journal_error);
    auto exists = d;
    exists.added.push_back(dns::rr::from_text("ns.jain.ad.jp. 60 IN A 133.69.136.1"));
    EXPECT_THROW(apply(z, exists), journal_error);
    auto twice = d;
    twice.added.push_back(d.added.back());
    EXPECT_THROW(apply(z, twice), journal_error);
    // A difference for another version of the zone.
    EXPECT_THROW(apply(gen3(), diff(gen1(), gen2())), journal_error);
    // Removal matches case-insensitively and regardless of TTL (RFC 1995 deletions).
    auto upper = d;
    upper.removed[1] = dns::rr::from_text("NEZU.JAIN.AD.JP. 1 IN A 133.69.136.5");
    EXPECT_EQ(texts(apply(z, upper)), texts(gen2()));
}

TEST(Journal, CondenseRfc1995Example) {
    std::vector<dns::zone_diff> j = {diff(gen1(), gen2()), diff(gen2(), gen3())};
    auto c = condense(j);
    EXPECT_EQ(c.from_serial, 1u);
    EXPECT_EQ(c.to_serial, 3u);
    // RFC 1995 §7's condensed message: NEZU removed; JAIN-BB .3 and 192.41.197.2 added; the
    // .4 that came and went is gone.
    ASSERT_EQ(c.removed.size(), 2u);
    EXPECT_EQ(zone::soa_serial(c.removed[0].rdata), 1u);
    EXPECT_EQ(c.removed[1].to_text(), "nezu.jain.ad.jp.\t3600\tIN\tA\t133.69.136.5");
    ASSERT_EQ(c.added.size(), 3u);
    EXPECT_EQ(zone::soa_serial(c.added[0].rdata), 3u);
    EXPECT_EQ(c.added[1].to_text(), "jain-bb.jain.ad.jp.\t3600\tIN\tA\t133.69.136.3");
    EXPECT_EQ(c.added[2].to_text(), "jain-bb.jain.ad.jp.\t3600\tIN\tA\t192.41.197.2");
    EXPECT_EQ(texts(apply(gen1(), c)), texts(gen3()));
    EXPECT_EQ(texts(c.removed), texts(diff(gen1(), gen3()).removed));
    EXPECT_EQ(texts(c.added), texts(diff(gen1(), gen3()).added));
}

TEST(Journal, CondenseRefusesBrokenChainAndKeepsTtlChanges) {
    std::vector<dns::zone_diff> broken = {diff(gen1(), gen2()), diff(gen1(), gen2())};
    EXPECT_THROW(condense(broken), journal_error);
    EXPECT_TRUE(condense({}).empty());

    auto a = store_of({soa(1), "x.jain.ad.jp. 60 IN A 192.0.2.1"});
    auto b = store_of({soa(2)});
    auto c = store_of({soa(3), "x.jain.ad.jp. 120 IN A 192.0.2.1"});
    auto d = store_of({soa(4), "x.jain.ad.jp. 60 IN A 192.0.2.1"});
    std::vector<dns::zone_diff> j = {diff(a, b), diff(b, c)};
    auto ac = condense(j);
    EXPECT_EQ(ac.removed.size(), 2u);  // SOA 1 and the TTL-60 record
    EXPECT_EQ(ac.added.size(), 2u);    // SOA 3 and the TTL-120 record
    EXPECT_EQ(texts(apply(a, ac)), texts(c));
    j.push_back(diff(c, d));
    auto ad = condense(j);
    EXPECT_EQ(ad.removed.size(), 1u);  // back as it was: only the SOAs change
    EXPECT_EQ(ad.added.size(), 1u);
    EXPECT_EQ(texts(apply(a, ad)), texts(d));
}

// Random versions of a zone: every diff applies to give the next version, and the
// condensed journal takes the first version to the last.
TEST(Journal, RandomRoundTrips) {
    std::mt19937 rng(1995);
    auto version = [&](uint32_t serial) {
        std::vector<std::string> lines = {soa(serial), "jain.ad.jp. 3600 IN NS ns.jain.ad.jp."};
        for (int i = 0; i < 60; ++i) {
            if (rng() % 3 == 0) continue;
            std::string owner = "h" + std::to_string(i % 20) + ".jain.ad.jp. ";
            std::string ttl = (rng() % 4 == 0) ? "60" : "3600";
            if (i % 2)
                lines.push_back(owner + ttl + " IN A 192.0.2." + std::to_string(i));
            else
                lines.push_back(owner + ttl + " IN TXT \"v" + std::to_string(rng() % 3) + "\"");
        }
        return store_of(lines);
    };
    std::vector<dns::record_store> versions;
    for (uint32_t s = 1; s <= 12; ++s)
        versions.push_back(version(s));
    std::vector<dns::zone_diff> journal;
    for (size_t k = 1; k < versions.size(); ++k) {
        journal.push_back(diff(versions[k - 1], versions[k]));
        ASSERT_EQ(texts(apply(versions[k - 1], journal.back())), texts(versions[k])) << k;
    }
    for (size_t from = 0; from + 1 < versions.size(); ++from) {
        auto c = condense(std::span<const dns::zone_diff>(journal).subspan(from));
        EXPECT_EQ(c.from_serial, from + 1);
        EXPECT_EQ(texts(apply(versions[from], c)), texts(versions.back())) << from;
    }
}

}  // namespace
