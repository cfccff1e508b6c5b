// The lab's plan, its generated configurations and zone files, and zone-file edits
// (docs/lab.md). Everything here is a function on values except the file writes at the end.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include "cmd/hsyncctl/lab.h"
#include "dns/error.h"
#include "dns/rdata.h"
#include "dns/text.h"
#include "dns/zonefile.h"
#include "dnssec/ds.h"
#include "dnssec/key.h"
#include "dnssec/keyfile.h"
#include "dnssec/tsig.h"

namespace hsync::cmd::lab {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// YAML accepts JSON strings: quoting through JSON escapes everything YAML would trip on.
std::string q(const std::string& s) {
    return json(s).dump();
}

std::string addr(uint16_t port) {
    return "127.0.0.1:" + std::to_string(port);
}

std::string pname(int n, const char* what) {
    return "p" + std::to_string(n) + "-" + what;
}

// Lab timings (docs/lab.md "Timing"): short TTLs (--ttl) so that changes show within
// seconds. The SOA MINIMUM (negative TTL, RFC 2308) stays at 5 s or below the TTL.
uint32_t negative_ttl(uint32_t ttl) {
    return std::min<uint32_t>(5, ttl);
}
constexpr const char* secondary_retry = "2";  // seconds: a secondary started before its
                                              // primary listens tries again soon

std::string provider_label(int n) {
    std::string label = "p";  // (not "p" + ...: g++ 12 warns falsely, -Wrestrict)
    label += std::to_string(n);
    return label;
}

}  // namespace

// ------------------------------------------------------------------ lab_state

bool lab_state::is_active(int provider) const {
    return std::find(active.begin(), active.end(), provider) != active.end();
}

bool lab_state::signs(int provider) const {
    return std::find(unsigned_providers.begin(), unsigned_providers.end(), provider) ==
           unsigned_providers.end();
}

const process_entry* lab_state::provider_process(int n, std::string_view what) const {
    return find(pname(n, std::string(what).c_str()));
}

const process_entry* lab_state::find(std::string_view name) const {
    for (const auto& p : processes)
        if (p.name == name) return &p;
    return nullptr;
}

process_entry* lab_state::find(std::string_view name) {
    for (auto& p : processes)
        if (p.name == name) return &p;
    return nullptr;
}

const tsig_entry* lab_state::key(std::string_view name) const {
    for (const auto& k : keys)
        if (k.name == name) return &k;
    return nullptr;
}

const process_entry* lab_state::primary_of(std::string_view zone) const {
    for (const auto& p : processes)
        if (p.zone == zone && p.upstream.empty() && p.is_hsyncd()) return &p;
    return nullptr;
}

json lab_state::to_json() const {
    json j;
    j["version"] = 1;
    j["dir"] = dir;
    j["providers"] = active.size();  // running providers (the others are spare)
    j["planned_providers"] = planned;
    j["active_providers"] = active;
    j["spare"] = spare;
    j["unsigned_providers"] = unsigned_providers;
    j["ttl"] = ttl;
    j["sync"] = sync;
    j["created"] = created;
    j["fixed_ports"] = fixed_ports;
    j["hsyncd"] = hsyncd;
    j["unbound"] = unbound;
    j["unbound_control"] = unbound_control;
    j["hsyncctl"] = hsyncctl;
    j["trust_anchor"] = trust_anchor;
    j["zones"] = {{"parent", std::string(parent_zone)}, {"customer", std::string(child_zone)}};
    j["tsig_keys"] = json::array();
    for (const auto& k : keys)
        j["tsig_keys"].push_back({{"name", k.name},
                                  {"algorithm", k.algorithm},
                                  {"secret", k.secret},
                                  {"file", k.file},
                                  {"purpose", k.purpose}});
    j["processes"] = json::array();
    for (const auto& p : processes)
        j["processes"].push_back({{"name", p.name},
                                  {"role", p.role},
                                  {"provider", p.provider},
                                  {"zone", p.zone},
                                  {"upstream", p.upstream},
                                  {"address", "127.0.0.1"},
                                  {"dns_port", p.dns_port},
                                  {"management_port", p.mgmt_port},
                                  {"dir", p.dir},
                                  {"config", p.config},
                                  {"log", p.log},
                                  {"data_dir", p.data_dir},
                                  {"zone_file", p.zone_file},
                                  {"tsig_keys", p.keys},
                                  {"argv", p.argv},
                                  {"pid", p.pid},
                                  {"start_time", p.start_time}});
    for (size_t i = 0; i < processes.size(); ++i)
        if (processes[i].role == "agent") {
            j["processes"][i]["identity"] = processes[i].identity;
            j["processes"][i]["identity_ds"] = processes[i].identity_ds;
            j["processes"][i]["api_port"] = processes[i].api_port;
        }
    for (size_t i = 0; i < processes.size(); ++i)
        if (processes[i].is_hsyncd())
            j["processes"][i]["management_key_file"] = management_key_path(processes[i]);
    return j;
}

lab_state lab_state::from_json(const json& j) {
    try {
        lab_state st;
        st.dir = j.at("dir").get<std::string>();
        // A lab started before spare providers existed: all planned, all active.
        st.planned = j.value("planned_providers", j.at("providers").get<int>());
        if (j.contains("active_providers")) {
            st.active = j.at("active_providers").get<std::vector<int>>();
        } else {
            for (int n = 1; n <= st.planned; ++n)
                st.active.push_back(n);
        }
        st.spare = j.value("spare", 0);
        if (j.contains("unsigned_providers"))
            st.unsigned_providers = j.at("unsigned_providers").get<std::vector<int>>();
        st.ttl = j.value("ttl", uint32_t{10});
        st.sync = j.value("sync", std::string(sync_peer));
        st.created = j.value("created", int64_t{0});
        st.fixed_ports = j.value("fixed_ports", false);
        st.hsyncd = j.value("hsyncd", "");
        st.unbound = j.value("unbound", "");
        st.unbound_control = j.value("unbound_control", "");
        st.hsyncctl = j.value("hsyncctl", "");
        st.trust_anchor = j.value("trust_anchor", "");
        for (const auto& k : j.at("tsig_keys"))
            st.keys.push_back({k.at("name").get<std::string>(),
                               k.at("algorithm").get<std::string>(),
                               k.at("secret").get<std::string>(), k.at("file").get<std::string>(),
                               k.value("purpose", "")});
        for (const auto& x : j.at("processes")) {
            process_entry p;
            p.name = x.at("name").get<std::string>();
            p.role = x.at("role").get<std::string>();
            p.provider = x.value("provider", 0);
            p.zone = x.value("zone", "");
            p.upstream = x.value("upstream", "");
            p.dns_port = x.at("dns_port").get<uint16_t>();
            p.mgmt_port = x.value("management_port", uint16_t{0});
            p.dir = x.value("dir", "");
            p.config = x.value("config", "");
            p.log = x.value("log", "");
            p.data_dir = x.value("data_dir", "");
            p.zone_file = x.value("zone_file", "");
            p.keys = x.value("tsig_keys", std::vector<std::string>{});
            p.argv = x.at("argv").get<std::vector<std::string>>();
            p.pid = x.value("pid", 0L);
            p.start_time = x.value("start_time", 0ULL);
            p.identity = x.value("identity", "");
            p.api_port = x.value("api_port", uint16_t{0});
            p.identity_ds = x.value("identity_ds", "");
            st.processes.push_back(std::move(p));
        }
        return st;
    } catch (const json::exception& e) {
        throw lab_error(std::string("the lab's state file is damaged: ") + e.what());
    }
}

// ------------------------------------------------------------------ the plan

size_t ports_needed(int planned) {
    // DNS + management per hsyncd, the agents' REST API, Unbound's DNS (the follower has
    // none).
    return 2 * (3 + 4 * static_cast<size_t>(planned)) + static_cast<size_t>(planned) + 1;
}

std::string provider_identity(int n) {
    return "agent." + provider_label(n) + ".lab.";
}

std::string provider_nameserver(int n) {
    return "ns." + provider_label(n) + "." + std::string(child_zone);
}

lab_state make_plan(const std::string& dir, const plan_options& o,
                    const std::vector<uint16_t>& ports) {
    const int providers = o.providers + o.spare;
    if (ports.size() < ports_needed(providers)) throw lab_error("make_plan: not enough ports");
    lab_state st;
    st.dir = dir;
    st.planned = providers;
    for (int n = 1; n <= o.providers; ++n)
        st.active.push_back(n);
    st.spare = o.spare;
    for (int n : o.no_sign) {
        if (n <= o.providers || n > providers)
            throw lab_error("--no-sign " + std::to_string(n) +
                            ": only a spare provider joins with Sign=NO (one not started at up)");
        st.unsigned_providers.push_back(n);
    }
    st.ttl = o.ttl;
    st.sync = o.sync;
    st.hsyncd = o.hsyncd;
    st.unbound = o.unbound;
    st.unbound_control = o.unbound_control;
    st.hsyncctl = o.hsyncctl;
    const std::string& hsyncd = o.hsyncd;
    size_t next = 0;
    auto key = [&](const std::string& name, const std::string& purpose) {
        st.keys.push_back({name + ".", "hmac-sha256", "", dir + "/keys/" + name + ".key", purpose});
        return name + ".";
    };
    auto add = [&](const std::string& name, const std::string& role, int provider,
                   std::string_view zone, const std::string& upstream,
                   std::vector<std::string> keys) -> process_entry& {
        process_entry p;
        p.name = name;
        p.role = role;
        p.provider = provider;
        p.zone = std::string(zone);
        p.upstream = upstream;
        p.dir = dir + "/" + name;
        p.log = p.dir + "/log";
        p.dns_port = ports[next++];
        if (role == "unbound") {
            p.config = p.dir + "/unbound.conf";
            // A private copy unless $HSYNC_UNBOUND names the binary: Debian's AppArmor
            // profile for /usr/sbin/unbound (enforced by default on Debian 12) confines it
            // to /etc/unbound and friends, so it could not read a configuration or write
            // a log in the lab's directory. The profile attaches by path; the copy is the
            // same program, run unprivileged for this lab only (docs/lab.md).
            const char* env = std::getenv("HSYNC_UNBOUND");
            std::string exe = env && *env ? o.unbound : p.dir + "/unbound";
            p.argv = {exe, "-d", "-p", "-c", p.config};
        } else {
            p.mgmt_port = ports[next++];
            p.config = p.dir + "/hsyncd.yaml";
            p.data_dir = p.dir + "/data";
            p.argv = {hsyncd, "-c", p.config};
        }
        p.keys = std::move(keys);
        st.processes.push_back(std::move(p));
        return st.processes.back();
    };

    std::string pk = key("parent-xfr", "transfers of lab. from parent to parent-signer");
    add("parent", "parent", 0, parent_zone, "", {pk}).zone_file =
        dir + "/parent/" + std::string(parent_zone) + "zone";
    add("parent-signer", "signer", 0, parent_zone, "parent", {pk});
    std::vector<std::string> owner_keys;
    for (int n = 1; n <= providers; ++n)
        owner_keys.push_back(key(pname(n, "owner-xfr"), "transfers of example.lab. from owner to " +
                                                            pname(n, "combiner")));
    add("owner", "auth", 0, child_zone, "", owner_keys).zone_file =
        dir + "/owner/" + std::string(child_zone) + "zone";
    for (int n = 1; n <= providers; ++n) {
        std::string agent =
            key(pname(n, "agent"), "UPDATEs (agent data) to " + pname(n, "combiner"));
        std::string sx = key(pname(n, "signer-xfr"), "transfers from " + pname(n, "combiner") +
                                                         " to " + pname(n, "signer"));
        std::string ax =
            key(pname(n, "auth-xfr"), "transfers from " + pname(n, "signer") + " to " +
                                          pname(n, "auth") + ", and out of " + pname(n, "auth"));
        std::string gx = key(pname(n, "agent-xfr"),
                             "transfers from " + pname(n, "signer") + " to " + pname(n, "agent"));
        add(pname(n, "combiner"), "combiner", n, child_zone, "owner",
            {owner_keys[static_cast<size_t>(n - 1)], agent, sx});
        add(pname(n, "signer"), "signer", n, child_zone, pname(n, "combiner"), {sx, ax, gx});
        // A provider with Sign=NO serves p1-signer's signed zone (its combiner and signer
        // stay planned, never started); p1-signer lets it transfer with its own keys.
        bool signs = st.signs(n);
        add(pname(n, "auth"), "auth", n, child_zone,
            signs ? pname(n, "signer") : pname(1, "signer"), {ax});
        if (!signs)
            for (auto& p : st.processes)
                if (p.name == pname(1, "signer")) p.keys.insert(p.keys.end(), {ax, gx});
    }
    // The agents: each a secondary of its provider's signer and the primary of its identity
    // zone agent.pN.lab. (delegated from lab. with DS); it sends UPDATEs to its combiner
    // with pN-agent. (after the transfer key: a secondary fetches with its first key that
    // its upstream has).
    for (int n = 1; n <= providers; ++n) {
        auto& p = add(pname(n, "agent"), "agent", n, child_zone,
                      st.signs(n) ? pname(n, "signer") : pname(1, "signer"),
                      {pname(n, "agent-xfr") + ".", pname(n, "agent") + "."});
        p.identity = provider_identity(n);
        p.api_port = ports[next++];
    }
    add("resolver", "unbound", 0, "", "", {});
    // The delegation follower (lab_follow.cc): no port; this hsyncctl, `lab follow`.
    process_entry f;
    f.name = "delegation-follower";
    f.role = "follower";
    f.dir = dir + "/" + f.name;
    f.log = f.dir + "/log";
    f.argv = {o.hsyncctl, "lab", "follow", "--dir", dir};
    st.processes.push_back(std::move(f));
    return st;
}

void generate_secrets(lab_state& st) {
    for (auto& k : st.keys) {
        auto key = dnssec::generate_tsig_key(dns::name::from_text(k.name),
                                             dnssec::tsig_algorithm::hmac_sha256);
        k.secret.clear();
        dns::append_base64(k.secret, key.secret);
    }
}

std::string tsig_key_file_text(const tsig_entry& k) {
    dnssec::tsig_key key;
    key.name = dns::name::from_text(k.name);
    key.algorithm = dnssec::tsig_algorithm_from_text(k.algorithm);
    dns::parse_base64(k.secret, key.secret);
    return "# " + k.purpose + " (hsyncctl lab; use with dig -k / nsupdate -k)\n" +
           dnssec::format_tsig_key_file(std::span<const dnssec::tsig_key>(&key, 1));
}

// ------------------------------------------------------------------ configurations

std::string management_key_path(const process_entry& p) {
    return p.data_dir + "/management.key";
}

std::string hsyncd_config(const lab_state& st, const process_entry& p) {
    std::string y = "# " + p.name + ": generated by hsyncctl lab up (docs/lab.md)\n";
    y += "role: " + p.role + "\n";
    y += "listen: [" + q(addr(p.dns_port)) + "]\n";
    y += "management: " + q(addr(p.mgmt_port)) + "\n";
    y += "management-key-file: " + q(management_key_path(p)) + "\n";
    y += "data-dir: " + q(p.data_dir) + "\n";
    y += "log-level: info\n";
    if (!p.keys.empty()) {
        y += "tsig-keys:\n";
        for (const auto& k : p.keys)
            y += "  - key-file: " + q(st.key(k)->file) + "\n";
    }
    if (p.role == "parent") {
        // The parent role (docs/parent.md): scans example.lab. every 2 s at each provider's
        // auth server, validating from the lab's trust anchor (written to the file once
        // parent-signer has signed lab.), the chain of trust from parent-signer itself.
        const process_entry* ps = st.find("parent-signer");
        y += "parent:\n";
        y += "  scan-interval: 2\n  notify-min-interval: 0\n";
        y += "  initial-ds: accept-after-delay\n  initial-ds-delay: 0\n";
        y += "  ds-ttl: " + std::to_string(st.ttl) + "\n";
        y += "  timeout: 2000\n";
        y += "  resolver:\n";
        y += "    trust-anchor-file: " + q(trust_anchor_path(st)) + "\n";
        y += "    stubs:\n      - {zone: " + q(std::string(parent_zone)) + ", servers: [" +
             q(addr(ps->dns_port)) + "]}\n";
        // Every planned provider's, spare ones too: one added later is scanned as well.
        y += "  nameservers:\n";
        for (const auto& a : st.processes)
            if (a.role == "auth" && a.provider > 0)
                y +=
                    "    " + q(provider_nameserver(a.provider)) + ": " + q(addr(a.dns_port)) + "\n";
        // The agents' identity zones are delegations of lab. too: scanned at their agents.
        for (const auto& a : st.processes)
            if (a.role == "agent")
                y += "    " + q("ns." + a.identity) + ": " + q(addr(a.dns_port)) + "\n";
        y += "  dsync: {target: " + q("ns." + std::string(parent_zone)) +
             ", port: " + std::to_string(p.dns_port) + "}\n";
    }
    if (p.role == "agent") {
        // The agent (docs/agent.md): finds its peers through their identity zones, validating
        // from the lab's trust anchor; lab. and each identity zone straight from their servers.
        const process_entry* ps = st.find("parent-signer");
        y += "agent:\n";
        y += "  identity: " + q(p.identity) + "\n";
        y += "  ttl: " + std::to_string(st.ttl) + "\n";
        y += "  nameservers: [{name: " + q("ns." + p.identity) + ", addresses: [127.0.0.1]}]\n";
        y += "  provider-nameservers: [" + q(provider_nameserver(p.provider)) + "]\n";
        y += "  heartbeat-interval: 5\n  retry-initial: 1\n  retry-max: 10\n";
        y += "  message-timeout: 1000\n";
        if (st.sync == sync_leader_follower) y += "  peer-sync: false\n";
        // Its combiner takes its UPDATEs (keys, CDS, NS) with pN-agent.; the parent's
        // servers are asked for DS and NS directly.
        // (A provider with Sign=NO has no combiner: its agent changes nothing.)
        const process_entry* combiner = st.provider_process(p.provider, "combiner");
        if (st.signs(p.provider))
            y += "  combiner: {server: " + q(addr(combiner->dns_port)) +
                 ", key: " + q(pname(p.provider, "agent") + ".") + "}\n";
        y += "  parent-nameservers: [" + q(addr(ps->dns_port)) + "]\n";
        if (p.api_port) y += "  api: {listen: " + q(addr(p.api_port)) + "}\n";
        // Anyone on the lab's loopback may transfer the identity zone (dig, dnssec-verify).
        y += "  identity-allow-transfer: [\"127.0.0.1\"]\n";
        y += "  resolver:\n";
        y += "    trust-anchor-file: " + q(trust_anchor_path(st)) + "\n";
        y += "    timeout: 3000\n";
        y += "    stubs:\n      - {zone: " + q(std::string(parent_zone)) + ", servers: [" +
             q(addr(ps->dns_port)) + "]}\n";
        for (const auto& a : st.processes)
            if (a.role == "agent")
                y += "      - {zone: " + q(a.identity) + ", servers: [" + q(addr(a.dns_port)) +
                     "]}\n";
    }
    if (p.role == "signer") {
        y += "dnssec-policies:\n"
             "  - name: lab\n"
             "    algorithm: ecdsap256sha256\n"
             "    keys: ksk-zsk\n"
             "    dnskey-ttl: " +
             std::to_string(st.ttl) +
             "\n"
             "    signature-validity: 14d\n"
             "    signature-refresh: 7d\n";
    }
    // The processes that transfer this one's zone, and where NOTIFY goes.
    std::vector<const process_entry*> downstream;
    for (const auto& d : st.processes)
        if (d.upstream == p.name) downstream.push_back(&d);
    y += "zones:\n";
    y += "  - name: " + q(p.zone) + "\n";
    if (p.upstream.empty()) {
        y += "    type: primary\n";
        y += "    file: " + q(p.zone_file) + "\n";
    } else {
        const process_entry* up = st.find(p.upstream);
        // The key this process fetches with: the first of its keys that its upstream has.
        std::string tk;
        for (const auto& k : p.keys)
            if (std::find(up->keys.begin(), up->keys.end(), k) != up->keys.end()) {
                tk = k;
                break;
            }
        y += "    type: secondary\n";
        y += "    primaries: [" + q(addr(up->dns_port)) + "]\n";
        y += "    transfer-key: " + q(tk) + "\n";
        y += "    retry: " + std::string(secondary_retry) + "\n";
    }
    if (!downstream.empty()) {
        y += "    notify: [";
        for (size_t i = 0; i < downstream.size(); ++i)
            y += (i ? ", " : "") + q(addr(downstream[i]->dns_port));
        y += "]\n";
    }
    // Transfers out: with the key of each downstream hop; pN-auth, pN-agent and
    // parent-signer (the ends of the chains) with their own transfer key, so that `dig -k`
    // can look at them. The UPDATE keys (pN-agent.) never allow a transfer.
    auto is_update_key = [](const std::string& k) {
        return k.find("-agent.") != std::string::npos;
    };
    std::vector<std::string> out_keys;
    for (const auto* d : downstream)
        for (const auto& k : d->keys)
            if (std::find(p.keys.begin(), p.keys.end(), k) != p.keys.end() &&
                std::find(out_keys.begin(), out_keys.end(), k) == out_keys.end() &&
                !is_update_key(k))
                out_keys.push_back(k);
    if (downstream.empty())
        for (auto k = p.keys.rbegin(); k != p.keys.rend(); ++k)
            if (!is_update_key(*k)) {
                out_keys.push_back(*k);
                break;
            }
    if (!out_keys.empty()) {
        y += "    allow-transfer: [";
        for (size_t i = 0; i < out_keys.size(); ++i)
            y += (i ? ", " : "") + q("key " + out_keys[i]);
        y += "]\n";
    }
    if (p.role == "combiner") {
        std::string agent = "p" + std::to_string(p.provider) + "-agent.";
        y += "    allow-update: " + q("key " + agent) + "\n";
    }
    if (p.role == "signer") y += "    dnssec-policy: lab\n";
    return y;
}

std::string unbound_control_socket(const process_entry& resolver) {
    return resolver.dir + "/unbound.ctl";
}

std::vector<uint16_t> initial_stub_ports(const lab_state& st) {
    std::vector<uint16_t> out;
    for (int n : st.active)
        out.push_back(st.provider_process(n, "auth")->dns_port);
    return out;
}

std::string unbound_config(const lab_state& st, const process_entry& p,
                           const std::vector<uint16_t>& stub_ports) {
    std::string c =
        "# " + p.name + ": the lab's validating resolver, generated by hsyncctl lab up\n";
    c += "server:\n";
    c += "    verbosity: 1\n";
    c += "    interface: 127.0.0.1\n";
    c += "    port: " + std::to_string(p.dns_port) + "\n";
    c += "    do-ip4: yes\n    do-ip6: no\n    do-udp: yes\n    do-tcp: yes\n";
    c += "    access-control: 127.0.0.0/8 allow\n";
    // Every lab server is on 127.0.0.1 (on its own port).
    c += "    do-not-query-localhost: no\n";
    c += "    username: \"\"\n    chroot: \"\"\n";
    c += "    directory: " + q(p.dir) + "\n";
    c += "    pidfile: " + q(p.dir + "/unbound.pid") + "\n";
    c += "    use-syslog: no\n    logfile: \"\"\n    log-time-ascii: yes\n    log-servfail: yes\n";
    c += "    num-threads: 1\n    so-reuseport: no\n";
    c += "    module-config: \"validator iterator\"\n";
    std::string anchor = st.trust_anchor;  // Unbound reads no escapes: tabs become spaces
    std::replace(anchor.begin(), anchor.end(), '\t', ' ');
    c += "    trust-anchor: " + q(anchor) + "\n";
    // Bogus answers logged with their reason, and returned as Extended DNS Errors (RFC 8914).
    c += "    val-log-level: 2\n    ede: yes\n";
    // A lab wants changes to show within seconds and the probe to reach the servers.
    c += "    cache-max-ttl: 10\n    cache-max-negative-ttl: 5\n";
    c += "    infra-host-ttl: 30\n    infra-keep-probing: yes\n";
    c += "    prefetch: no\n    serve-expired: no\n";
    const process_entry* ps = st.find("parent-signer");
    c += "\nstub-zone:\n    name: " + q(std::string(parent_zone)) + "\n";
    c += "    stub-addr: 127.0.0.1@" + std::to_string(ps->dns_port) + "\n";
    // Where the parent's delegation points (every server shares 127.0.0.1, so a real
    // referral cannot reach them); the delegation follower keeps it current.
    c += "\nstub-zone:\n    name: " + q(std::string(child_zone)) + "\n";
    for (uint16_t port : stub_ports)
        c += "    stub-addr: 127.0.0.1@" + std::to_string(port) + "\n";
    for (const auto& a : st.processes)
        if (a.role == "agent")
            c += "\nstub-zone:\n    name: " + q(a.identity) + "\n    stub-addr: 127.0.0.1@" +
                 std::to_string(a.dns_port) + "\n";
    // For the follower's unbound-control: a unix socket in the lab's directory, so only
    // this user reaches it (no certificates needed).
    c += "\nremote-control:\n    control-enable: yes\n";
    c += "    control-interface: " + q(unbound_control_socket(p)) + "\n";
    c += "    control-use-cert: no\n";
    return c;
}

std::string trust_anchor_path(const lab_state& st) {
    return st.dir + "/trust-anchor";
}

std::string parent_zone_text(const lab_state& st, uint32_t serial) {
    std::string z =
        "; lab. - the lab's parent zone (its \"TLD\"), generated by hsyncctl lab up.\n"
        "; Change it with `hsyncctl lab edit --zone lab. ...` (which raises the serial).\n";
    z += "$ORIGIN lab.\n$TTL " + std::to_string(st.ttl) + "\n";
    z += "@  IN SOA ns.lab. hostmaster.lab. " + std::to_string(serial) + " 60 2 1209600 " +
         std::to_string(negative_ttl(st.ttl)) + "\n";
    z += "@  IN NS ns.lab.\nns IN A 127.0.0.1\n";
    z += "; the delegation of the customer zone to the active providers (its DS, and later NS\n"
         "; changes: the parent role, from the CDS and CSYNC the agents have published)\n";
    for (int n : st.active)
        z += "example IN NS " + provider_nameserver(n) + "\n";
    for (int n : st.active)
        z += "ns." + provider_label(n) + ".example IN A 127.0.0.1\n";
    z += "; the providers' agents' identity zones (docs/agent.md), delegated securely\n";
    for (const auto& p : st.processes) {
        if (p.role != "agent") continue;
        std::string label =
            p.identity.substr(0, p.identity.size() - std::string(parent_zone).size() - 1);
        z += label + " IN NS ns." + label + "\n";
        z += "ns." + label + " IN A 127.0.0.1\n";
        if (!p.identity_ds.empty()) z += p.identity_ds + "\n";
    }
    return z;
}

std::string child_zone_text(const lab_state& st, uint32_t serial) {
    std::string z =
        "; example.lab. - the customer zone, at its owner's primary; generated by hsyncctl lab "
        "up.\n"
        "; Change it with `hsyncctl lab edit ...` (which raises the serial and reloads).\n";
    z += "$ORIGIN example.lab.\n$TTL " + std::to_string(st.ttl) + "\n";
    z += "@  IN SOA ns.p1.example.lab. hostmaster.example.lab. " + std::to_string(serial) +
         " 60 2 1209600 " + std::to_string(negative_ttl(st.ttl)) + "\n";
    for (int n : st.active)
        z += "@  IN NS ns." + provider_label(n) + "\n";
    z += "; the providers that serve and sign this zone (State NSMgmt Sign Identity)\n";
    for (int n : st.active)
        z += "@  IN HSYNC ON OWNER YES " + provider_identity(n) + "\n";
    for (int n : st.active)
        z += "ns." + provider_label(n) + " IN A 127.0.0.1\n";
    z += "@   IN TXT \"hsync lab: served by " + std::to_string(st.active.size()) + " providers\"\n";
    z += "www IN A 192.0.2.1\nwww IN AAAA 2001:db8::1\n";
    return z;
}

void write_file_atomic(const std::string& path, const std::string& text, unsigned mode) {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) throw lab_error("cannot write " + tmp + ": " + std::strerror(errno));
    size_t off = 0;
    while (off < text.size()) {
        ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::close(fd);
            throw lab_error("cannot write " + tmp + ": " + std::strerror(e));
        }
        off += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0)
        throw lab_error("cannot write " + tmp + ": " + std::strerror(errno));
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        throw lab_error("cannot rename " + tmp + ": " + std::strerror(errno));
}

void make_agent_identity_keys(lab_state& st) {
    for (auto& p : st.processes) {
        if (p.role != "agent") continue;
        auto owner = dns::name::from_text(p.identity);
        auto k = dnssec::key::generate(owner, 13, dnssec::key_role::csk);
        std::string dir = p.data_dir + "/agent/identity";
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) throw lab_error("cannot create " + dir + ": " + ec.message());
        dnssec::write_key_files(k, dir);
        p.identity_ds = dnssec::make_ds(k, 2, st.ttl).to_text();
    }
}

void write_lab_files(const lab_state& st) {
    std::error_code ec;
    fs::create_directories(st.dir + "/keys", ec);
    if (ec) throw lab_error("cannot create " + st.dir + "/keys: " + ec.message());
    for (const auto& k : st.keys)
        write_file_atomic(k.file, tsig_key_file_text(k), 0600);
    for (const auto& p : st.processes) {
        fs::create_directories(p.dir, ec);
        if (!ec && !p.data_dir.empty()) fs::create_directories(p.data_dir, ec);
        if (ec) throw lab_error("cannot create " + p.dir + ": " + ec.message());
        if (p.is_hsyncd()) write_file_atomic(p.config, hsyncd_config(st, p));
        if (p.name == "parent") {
            write_file_atomic(p.zone_file, parent_zone_text(st, 1));
            write_file_atomic(trust_anchor_path(st),
                              "; the lab's trust anchor: written by lab up once parent-signer "
                              "has signed lab.\n");
        }
        if (p.name == "owner") write_file_atomic(p.zone_file, child_zone_text(st, 1));
        if (p.role == "unbound" && p.argv[0] != st.unbound) {
            fs::copy_file(st.unbound, p.argv[0], fs::copy_options::overwrite_existing, ec);
            if (!ec) fs::permissions(p.argv[0], fs::perms(0755), ec);
            if (ec)
                throw lab_error("cannot copy " + st.unbound + " to " + p.argv[0] + ": " +
                                ec.message() + " (set HSYNC_UNBOUND=" + st.unbound +
                                " to run it in place)");
        }
        // The resolver's configuration needs the trust anchor: written when it is known.
    }
}

// ------------------------------------------------------------------ zone files and edits

namespace {

size_t name_end(const std::vector<uint8_t>& rd, size_t i) {
    while (i < rd.size() && rd[i] != 0)
        i += rd[i] + 1u;
    if (i >= rd.size()) throw lab_error("malformed SOA RDATA");
    return i + 1;
}

size_t serial_offset(const dns::rr& soa) {
    size_t i = name_end(soa.rdata, name_end(soa.rdata, 0));
    if (i + 4 > soa.rdata.size()) throw lab_error("malformed SOA RDATA");
    return i;
}

bool is_apex_soa(const dns::rr& r, const dns::name& origin) {
    return r.type == dns::rr_type::SOA && r.owner == origin;
}

std::string trim(std::string_view s) {
    size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
    return a == std::string_view::npos ? std::string() : std::string(s.substr(a, b - a + 1));
}

// HSYNC RDATA (docs/protocol.md): State, NSMgmt, Sign, Identity.
constexpr uint8_t hsync_on = 1, hsync_off = 2;
constexpr uint8_t nsmgmt_owner = 1, nsmgmt_agent = 2;
constexpr uint8_t sign_yes = 1, sign_no = 2;

// The Identity of an apex HSYNC record; nullopt for anything else or a malformed one.
std::optional<dns::name> hsync_identity(const dns::rr& r, const dns::name& origin) {
    if (r.type != dns::hsync_code() || !(r.owner == origin) || r.rdata.size() < 4)
        return std::nullopt;
    try {
        return dns::name::from_wire(std::span(r.rdata).subspan(3));
    } catch (const dns::dns_error&) {
        return std::nullopt;
    }
}

// The NSMgmt the zone's HSYNC records mean together (docs/protocol.md): AGENT only when
// every State=ON record says AGENT (with no ON record: every record).
uint8_t zone_nsmgmt(const std::vector<dns::rr>& zone, const dns::name& origin) {
    size_t on = 0, on_agent = 0, all = 0, all_agent = 0;
    for (const auto& r : zone) {
        if (!hsync_identity(r, origin)) continue;
        ++all;
        bool agent = r.rdata[1] == nsmgmt_agent;
        all_agent += agent;
        if (r.rdata[0] == hsync_on) {
            ++on;
            on_agent += agent;
        }
    }
    if (on > 0) return on == on_agent ? nsmgmt_agent : nsmgmt_owner;
    return all > 0 && all == all_agent ? nsmgmt_agent : nsmgmt_owner;
}

}  // namespace

uint32_t soa_serial_of(const dns::rr& soa) {
    size_t i = serial_offset(soa);
    const auto& d = soa.rdata;
    return (uint32_t{d[i]} << 24) | (uint32_t{d[i + 1]} << 16) | (uint32_t{d[i + 2]} << 8) |
           d[i + 3];
}

void set_soa_serial(dns::rr& soa, uint32_t serial) {
    size_t i = serial_offset(soa);
    soa.rdata[i] = static_cast<uint8_t>(serial >> 24);
    soa.rdata[i + 1] = static_cast<uint8_t>(serial >> 16);
    soa.rdata[i + 2] = static_cast<uint8_t>(serial >> 8);
    soa.rdata[i + 3] = static_cast<uint8_t>(serial);
}

dns::rr parse_add(std::string_view text, const dns::name& origin, uint32_t ttl) {
    try {
        dns::rr r = dns::rr::from_text(trim(text), origin, ttl);
        return r;
    } catch (const dns::dns_error& e) {
        throw lab_error("--add '" + std::string(text) + "': " + e.what() +
                        " (expected NAME [TTL] [IN] TYPE RDATA, names relative to " +
                        origin.to_text() + ")");
    }
}

zone_change::removal parse_delete(std::string_view text, const dns::name& origin) {
    std::istringstream in{std::string(text)};
    std::string owner, type;
    in >> owner >> type;
    std::string rest;
    std::getline(in, rest);
    rest = trim(rest);
    zone_change::removal r;
    r.text = trim(text);
    try {
        if (owner.empty()) throw lab_error("empty");
        r.owner = dns::name::from_text(owner, &origin);
        if (!type.empty()) {
            if (!dns::type_from_text(type, r.type))
                throw lab_error("\"" + type + "\" is not a type");
            if (!rest.empty())
                r.rdata =
                    dns::rr::from_text(r.owner.to_text() + " 0 IN " + type + " " + rest, origin)
                        .rdata;
        }
    } catch (const dns::dns_error& e) {
        throw lab_error("--delete '" + std::string(text) + "': " + e.what() +
                        " (expected NAME [TYPE [RDATA]])");
    } catch (const lab_error& e) {
        throw lab_error("--delete '" + std::string(text) + "': " + e.what() +
                        " (expected NAME [TYPE [RDATA]])");
    }
    return r;
}

std::pair<std::string, bool> parse_hsync_state(std::string_view text, int planned) {
    auto eq = text.find('=');
    std::string who = trim(text.substr(0, eq));
    std::string what = eq == std::string_view::npos ? "" : trim(text.substr(eq + 1));
    std::transform(what.begin(), what.end(), what.begin(), ::tolower);
    int n = 0;
    if (who.size() >= 2 && (who[0] == 'p' || who[0] == 'P') &&
        std::all_of(who.begin() + 1, who.end(), ::isdigit))
        n = std::atoi(who.c_str() + 1);
    if (n < 1 || n > planned || (what != "on" && what != "off"))
        throw lab_error("--hsync-state '" + std::string(text) +
                        "': expected pN=on or pN=off with N from 1 to " + std::to_string(planned));
    return {provider_identity(n), what == "on"};
}

change_result apply_change(std::vector<dns::rr>& zone, const dns::name& origin,
                           const zone_change& c) {
    auto find_soa = [&]() -> dns::rr& {
        auto soa = std::find_if(zone.begin(), zone.end(),
                                [&](const dns::rr& r) { return is_apex_soa(r, origin); });
        if (soa == zone.end())
            throw lab_error("the zone " + origin.to_text() + " has no SOA record");
        return *soa;
    };
    change_result res;
    res.old_serial = soa_serial_of(find_soa());

    for (const auto& rm : c.remove) {
        if (rm.type == dns::rr_type::SOA)
            throw lab_error("--delete '" + rm.text +
                            "': the SOA is the lab's (it raises the serial)");
        size_t before = zone.size();
        std::erase_if(zone, [&](const dns::rr& r) {
            if (!(r.owner == rm.owner) || is_apex_soa(r, origin)) return false;
            if (rm.type != 0 && r.type != rm.type) return false;
            if (rm.rdata && r.rdata != *rm.rdata) return false;
            return true;
        });
        if (zone.size() == before)
            throw lab_error("--delete '" + rm.text + "': nothing in " + origin.to_text() +
                            " matches it");
        res.removed += before - zone.size();
    }
    for (const auto& a : c.add) {
        if (a.type == dns::rr_type::SOA)
            throw lab_error("--add: the SOA is the lab's (it raises the serial)");
        if (!a.owner.is_subdomain_of(origin))
            throw lab_error("--add '" + a.to_text() + "': " + a.owner.to_text() + " is not in " +
                            origin.to_text());
        bool dup = false;
        for (auto& r : zone)
            if (r.owner == a.owner && r.type == a.type) {
                if (r.rdata == a.rdata) dup = true;
                if (r.ttl != a.ttl) {
                    // RFC 2181 §5.2: one TTL per RRset.
                    res.notes.push_back("TTL of " + r.owner.to_text() + " " +
                                        dns::type_to_text(r.type) + " set to " +
                                        std::to_string(a.ttl) + " for the whole RRset");
                    r.ttl = a.ttl;
                }
            }
        if (dup) {
            res.notes.push_back("already in the zone: " + a.to_text());
            continue;
        }
        zone.push_back(a);
        ++res.added;
    }
    if (!c.hsync_add.empty()) {
        // A new provider joins with the NSMgmt the zone already uses (or the one asked
        // for), so that adding it does not change who manages the NS RRset.
        uint8_t mgmt = c.nsmgmt_agent ? (*c.nsmgmt_agent ? nsmgmt_agent : nsmgmt_owner)
                                      : zone_nsmgmt(zone, origin);
        uint32_t ttl = c.ttl;
        for (const auto& r : zone)
            if (hsync_identity(r, origin)) ttl = r.ttl;  // RFC 2181 §5.2: one TTL per RRset
        for (const auto& identity : c.hsync_add) {
            dns::name id = dns::name::from_text(identity);
            bool found = false;
            const uint8_t sign = std::find(c.hsync_add_unsigned.begin(), c.hsync_add_unsigned.end(),
                                           identity) != c.hsync_add_unsigned.end()
                                     ? sign_no
                                     : sign_yes;
            for (auto& r : zone) {
                auto rid = hsync_identity(r, origin);
                if (!rid || !(*rid == id)) continue;
                found = true;
                if (r.rdata[0] != hsync_on || r.rdata[1] != mgmt || r.rdata[2] != sign) {
                    r.rdata[0] = hsync_on;
                    r.rdata[1] = mgmt;
                    r.rdata[2] = sign;
                    ++res.hsync_changed;
                } else {
                    res.notes.push_back("HSYNC of " + identity + " is already ON");
                }
            }
            if (found) continue;
            zone.push_back(
                dns::rr::from_text(origin.to_text() + " " + std::to_string(ttl) + " IN HSYNC ON " +
                                       (mgmt == nsmgmt_agent ? "AGENT" : "OWNER") +
                                       (sign == sign_no ? " NO " : " YES ") + id.to_text(),
                                   origin));
            ++res.added;
        }
    }
    for (const auto& [identity, on] : c.hsync_state) {
        dns::name id = dns::name::from_text(identity);
        bool found = false;
        for (auto& r : zone) {
            auto rid = hsync_identity(r, origin);
            if (!rid || !(*rid == id)) continue;
            found = true;
            uint8_t want = on ? hsync_on : hsync_off;
            if (r.rdata[0] != want) {
                r.rdata[0] = want;
                ++res.hsync_changed;
            } else {
                res.notes.push_back("HSYNC of " + identity + " is already " + (on ? "ON" : "OFF"));
            }
        }
        if (!found)
            throw lab_error("--hsync-state: no HSYNC record for " + identity + " at " +
                            origin.to_text());
    }
    if (c.nsmgmt_agent) {
        uint8_t want = *c.nsmgmt_agent ? nsmgmt_agent : nsmgmt_owner;
        bool any = false;
        for (auto& r : zone) {
            if (!hsync_identity(r, origin)) continue;
            any = true;
            if (r.rdata[1] != want) {
                r.rdata[1] = want;
                ++res.hsync_changed;
            }
        }
        if (!any) throw lab_error("--nsmgmt: " + origin.to_text() + " has no HSYNC records");
    }
    // RFC 1982 serial arithmetic: +1 wraps past 2^32-1 to 0, which is "after" it; the
    // auth role skips nothing, so 0 is a fine serial too.
    res.new_serial = res.old_serial + 1;
    set_soa_serial(find_soa(), res.new_serial);
    return res;
}

std::vector<std::string> hsync_on_identities(const std::vector<dns::rr>& zone,
                                             const dns::name& origin) {
    std::vector<std::string> out;
    for (const auto& r : zone)
        if (auto id = hsync_identity(r, origin); id && r.rdata[0] == hsync_on) {
            std::string text = id->canonical().to_text();
            if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(text);
        }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<dns::rr> read_zone_file(const std::string& path, const dns::name& origin) {
    std::vector<dns::rr> out;
    std::vector<std::string> errors;
    dns::zone_reader reader(path, origin);
    reader.read([&](const dns::rr& r) { out.push_back(r); },
                [&](const dns::zone_error& e) {
                    if (errors.size() < 10) errors.push_back(e.to_text());
                });
    if (!errors.empty()) {
        std::string msg = "cannot use " + path + ":";
        for (const auto& e : errors)
            msg += "\n  " + e;
        throw lab_error(msg);
    }
    return out;
}

std::string zone_file_text(const std::vector<dns::rr>& zone, const dns::name& origin) {
    std::string out = "; " + origin.to_text() +
                      " - written by hsyncctl lab edit (the lab raises the serial on every edit)\n";
    for (const auto& r : zone)
        if (is_apex_soa(r, origin)) out += r.to_text() + "\n";
    for (const auto& r : zone)
        if (!is_apex_soa(r, origin)) out += r.to_text() + "\n";
    return out;
}

}  // namespace hsync::cmd::lab
