// Talking to a running lab: serials by SOA query and management API, the stand-in agent,
// zone edits with reload, and the validation probe through Unbound (docs/lab.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "api/management.h"
#include "api/management_auth.h"
#include "cmd/hsyncctl/lab.h"
#include "dns/edns.h"
#include "dns/error.h"
#include "dns/message.h"
#include "dns/rdata.h"
#include "dns/text.h"
#include "dns/zone_diff.h"
#include "dnssec/ds.h"
#include "dnssec/key.h"
#include "dnssec/tsig.h"
#include "net/client.h"

namespace hsync::cmd::lab {

using json = nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

net::awaitable<void> do_query(net::asio::any_io_executor ex, net::peer server,
                              std::vector<uint8_t> wire, net::query_options o,
                              net::query_result* out) {
    *out = co_await net::query(ex, server, std::move(wire), o);
}

// One exchange with 127.0.0.1:port, on a private event loop.
net::query_result exchange(uint16_t port, std::vector<uint8_t> wire, net::query_options o) {
    net::asio::io_context io;
    net::query_result out;
    net::peer server{net::asio::ip::make_address("127.0.0.1"), port};
    net::asio::co_spawn(io, do_query(io.get_executor(), server, std::move(wire), o, &out),
                        net::asio::detached);
    io.run();
    return out;
}

std::vector<uint8_t> query_wire(std::string_view name, uint16_t qtype, bool rd, bool dnssec_ok) {
    dns::message m;
    m.id = net::random_id();
    m.rd = rd;
    m.questions.push_back({dns::name::from_text(name), qtype, dns::rr_class::IN});
    dns::edns e;
    e.udp_payload_size = 1232;
    e.dnssec_ok = dnssec_ok;
    m.opt = e;
    std::vector<uint8_t> wire;
    m.to_wire(wire);
    return wire;
}

int64_t unix_now() {
    return static_cast<int64_t>(std::time(nullptr));
}

std::string zone_target(std::string_view zone) {
    return "/zones/" + std::string(zone);
}

std::optional<uint32_t> json_serial(const json& v) {
    if (v.is_number_unsigned() || v.is_number_integer()) return v.get<uint32_t>();
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit))
            return static_cast<uint32_t>(std::stoul(s));
    }
    return std::nullopt;
}

dnssec::tsig_key tsig_of(const tsig_entry& k) {
    dnssec::tsig_key key;
    key.name = dns::name::from_text(k.name);
    key.algorithm = dnssec::tsig_algorithm_from_text(k.algorithm);
    dns::parse_base64(k.secret, key.secret);
    return key;
}

std::string remaining_text(clock_type::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - clock_type::now());
    return std::to_string(std::max<long>(0, left.count())) + " s";
}

// The DNSKEY tags in the answer to a DNSKEY query at 127.0.0.1:port.
std::set<uint16_t> served_key_tags(uint16_t port, std::string_view zone) {
    net::query_options o;
    o.timeout = 1000ms;
    o.retries = 1;
    auto r = exchange(port, query_wire(zone, dns::rr_type::DNSKEY, false, true), o);
    std::set<uint16_t> tags;
    if (!r) return tags;
    for (const auto& rr : r.response.answer)
        if (rr.type == dns::rr_type::DNSKEY) tags.insert(dnssec::key_tag(rr.rdata));
    return tags;
}

// The DS RDATA served by 127.0.0.1:port for `name`.
std::set<std::vector<uint8_t>, dns::rdata_less> served_ds(uint16_t port, std::string_view name) {
    net::query_options o;
    o.timeout = 1000ms;
    o.retries = 1;
    auto r = exchange(port, query_wire(name, dns::rr_type::DS, false, true), o);
    std::set<std::vector<uint8_t>, dns::rdata_less> out;
    if (!r) return out;
    for (const auto& rr : r.response.answer)
        if (rr.type == dns::rr_type::DS) out.insert(rr.rdata);
    return out;
}

// Sends an RFC 2136 UPDATE adding `records` at the apex of `zone`, signed with `key`
// (TSIG, RFC 8945), over TCP; checks the answer's TSIG and RCODE.
void send_update(const process_entry& to, std::string_view zone,
                 const std::vector<dns::rr>& records, const tsig_entry& key) {
    dns::message m;
    m.id = net::random_id();
    m.opcode = dns::opcode::UPDATE;
    m.questions.push_back({dns::name::from_text(zone), dns::rr_type::SOA, dns::rr_class::IN});
    m.authority = records;  // RFC 2136 §2.5.1: add to an RRset (class IN)
    std::vector<uint8_t> wire;
    m.to_wire(wire);
    dnssec::tsig_session session(tsig_of(key));
    session.sign(wire, unix_now());
    net::query_options o;
    o.tcp = true;
    o.timeout = 5000ms;
    auto r = exchange(to.dns_port, std::move(wire), o);
    if (!r)
        throw lab_error("UPDATE to " + to.name + " (127.0.0.1:" + std::to_string(to.dns_port) +
                        ") failed: " + r.error);
    auto v = session.verify(r.wire, r.response, unix_now());
    if (r.response.rcode != dns::rcode::NOERROR)
        throw lab_error("UPDATE to " + to.name +
                        " refused: " + dns::rcode_to_text(r.response.rcode) +
                        (v.ok() ? "" : " (TSIG: " + v.reason + ")") + "; see " + to.log);
    if (!v.ok())
        throw lab_error("the answer of " + to.name + " to the UPDATE does not verify: " + v.reason);
}

}  // namespace

std::optional<uint32_t> soa_serial(uint16_t port, std::string_view zone,
                                   std::chrono::milliseconds timeout, bool rd, bool* ad) {
    net::query_options o;
    o.timeout = timeout;
    o.retries = 0;
    auto r = exchange(port, query_wire(zone, dns::rr_type::SOA, rd, rd), o);
    if (!r || r.response.rcode != dns::rcode::NOERROR) return std::nullopt;
    dns::name z = dns::name::from_text(zone);
    for (const auto& rr : r.response.answer)
        if (rr.type == dns::rr_type::SOA && rr.owner == z) {
            if (ad) *ad = r.response.ad;
            try {
                return soa_serial_of(rr);
            } catch (const lab_error&) {
                return std::nullopt;
            }
        }
    return std::nullopt;
}

json api_call(const process_entry& p, const char* method, const std::string& path,
              std::chrono::milliseconds timeout) {
    api::client_reply r;
    try {
        auto key = api::read_management_key(management_key_path(p));
        r = api::http_request("127.0.0.1:" + std::to_string(p.mgmt_port), method, path, timeout,
                              &key);
    } catch (const std::exception& e) {
        throw lab_error(p.name + ": " + e.what());
    }
    json j = json::parse(r.body, nullptr, false);
    if (r.status < 200 || r.status > 299) {
        std::string msg = j.is_object() && j.contains("error") && j["error"].is_string()
                              ? j["error"].get<std::string>()
                              : "HTTP " + std::to_string(r.status);
        throw lab_error(p.name + ": " + std::string(method) + " " + path + ": " + msg);
    }
    if (j.is_discarded()) throw lab_error(p.name + ": " + path + ": the reply is not JSON");
    return j;
}

std::vector<hop_serial> collect_serials(const lab_state& st) {
    std::vector<hop_serial> out;
    for (const auto& p : st.processes) {
        // A process not started yet (the agents start once the trust anchor is known).
        if (!p.is_hsyncd() || p.pid == 0) continue;
        hop_serial h;
        h.process = p.name;
        h.zone = p.zone;
        h.upstream = p.upstream;
        h.served = soa_serial(p.dns_port, p.zone, 500ms);
        if (p.role == "combiner" || p.role == "signer") {
            try {
                json z = api_call(p, "GET", zone_target(p.zone), 2000ms);
                const json& d = z["details"];
                if (d.is_object())
                    h.input = json_serial(
                        d.value(p.role == "combiner" ? "owner serial" : "signed from", json()));
            } catch (const lab_error&) {
            }
        }
        out.push_back(std::move(h));
    }
    for (auto& h : out) {
        if (h.upstream.empty()) {
            h.in_sync = h.served.has_value();
            continue;
        }
        auto up = std::find_if(out.begin(), out.end(),
                               [&](const hop_serial& x) { return x.process == h.upstream; });
        if (up == out.end() || !up->served || !h.served) continue;
        h.in_sync = h.input ? *h.input == *up->served : *h.served == *up->served;
    }
    return out;
}

std::vector<hop_serial> wait_settled(const lab_state& st, std::chrono::milliseconds timeout) {
    auto deadline = clock_type::now() + timeout;
    std::vector<hop_serial> last;
    int calm = 0;
    for (;;) {
        for (const auto& p : st.processes)
            if (p.pid > 0 && !is_running(p))
                throw lab_error(p.name + " is not running (exited); its log " + p.log + ":\n" +
                                tail_file(p.log, 15));
        last = collect_serials(st);
        bool all =
            std::all_of(last.begin(), last.end(), [](const hop_serial& h) { return h.in_sync; });
        // Twice in a row: an input serial may be recorded a moment before its result is
        // served.
        calm = all ? calm + 1 : 0;
        if (calm >= 2) return last;
        if (clock_type::now() >= deadline) break;
        std::this_thread::sleep_for(150ms);
    }
    std::string msg =
        "the lab did not settle within " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) + " s:";
    for (const auto& h : last)
        if (!h.in_sync)
            msg += "\n  " + h.process + " serves " +
                   (h.served ? std::to_string(*h.served) : "nothing") +
                   (h.input ? " (took " + std::to_string(*h.input) + ")" : "") + ", behind " +
                   (h.upstream.empty() ? "-" : h.upstream) + "; log: " + st.find(h.process)->log;
    throw lab_error(msg);
}

std::string wait_trust_anchor(const lab_state& st, std::chrono::milliseconds timeout) {
    auto deadline = clock_type::now() + timeout;
    const process_entry* ps = st.find("parent-signer");
    std::string last_error = "no answer yet";
    for (;;) {
        if (!is_running(*ps))
            throw lab_error("parent-signer exited; its log " + ps->log + ":\n" +
                            tail_file(ps->log, 15));
        try {
            json j = api_call(*ps, "GET", zone_target(parent_zone) + "/keys", 2000ms);
            if (!j["signed_serial"].is_null())
                for (const auto& k : j["keys"])
                    if ((k.value("role", "") == "ksk" || k.value("role", "") == "csk") &&
                        k.value("state", "") == "active")
                        return k.value("dnskey", "");
            last_error = "no active KSK yet";
        } catch (const lab_error& e) {
            last_error = e.what();
        }
        if (clock_type::now() >= deadline)
            throw lab_error("the parent's signer has no signed lab. zone and KSK after " +
                            std::to_string(timeout.count() / 1000) + " s (" + last_error +
                            "); log: " + ps->log);
        std::this_thread::sleep_for(150ms);
    }
}

// ------------------------------------------------------------------ the stand-in agent

void stand_in_agent_sync(lab_state& st, std::chrono::milliseconds timeout, const reporter& say) {
    auto deadline = clock_type::now() + timeout;
    const dns::name zone = dns::name::from_text(child_zone);

    // 1. Every provider's keys, once its signer has signed the zone.
    std::vector<dns::rr> dnskeys;  // the union, each key once
    std::vector<dns::rr> ksks;
    std::string listing;
    for (int n = 1; n <= st.providers; ++n) {
        const process_entry* s = st.find("p" + std::to_string(n) + "-signer");
        json keys;
        for (;;) {
            std::string why;
            try {
                keys = api_call(*s, "GET", zone_target(child_zone) + "/keys", 2000ms);
                if (!keys["signed_serial"].is_null() && !keys["keys"].empty()) break;
                why = "not signed yet";
            } catch (const lab_error& e) {
                why = e.what();
            }
            if (!is_running(*s))
                throw lab_error(s->name + " exited; log " + s->log + ":\n" + tail_file(s->log, 15));
            if (clock_type::now() >= deadline)
                throw lab_error(s->name + " has no keys for " + std::string(child_zone) + " (" +
                                why + "); log: " + s->log);
            std::this_thread::sleep_for(150ms);
        }
        listing += " p" + std::to_string(n) + ":";
        for (const auto& k : keys["keys"]) {
            std::string state = k.value("state", "");
            if (state != "published" && state != "active" && state != "retired") continue;
            dns::rr r;
            try {
                r = dns::rr::from_text(k.value("dnskey", ""));
            } catch (const dns::dns_error& e) {
                throw lab_error(s->name + ": a key's DNSKEY does not parse: " + e.what());
            }
            std::string role = k.value("role", "");
            listing += " " + role + " " + std::to_string(dnssec::key_tag(r.rdata));
            if ((role == "ksk" || role == "csk") && state == "active") ksks.push_back(r);
            if (std::none_of(dnskeys.begin(), dnskeys.end(),
                             [&](const dns::rr& x) { return x.rdata == r.rdata; }))
                dnskeys.push_back(r);
        }
    }
    say("stand-in agent: keys of every provider:" + listing);

    // 2. The union of the DNSKEYs, and the CDS of every KSK, to every combiner, as its
    // agent would send them.
    std::vector<dns::rr> agent_data = dnskeys;
    std::set<std::vector<uint8_t>, dns::rdata_less> ds_want;
    for (const auto& k : ksks) {
        dns::rr cds;
        cds.owner = zone;
        cds.type = dns::rr_type::CDS;
        cds.ttl = 30;
        cds.rdata = dnssec::ds_rdata(zone, k.rdata, dnssec::digest_type::SHA256);
        ds_want.insert(cds.rdata);
        agent_data.push_back(std::move(cds));
    }
    for (int n = 1; n <= st.providers; ++n) {
        const process_entry* c = st.find("p" + std::to_string(n) + "-combiner");
        send_update(*c, child_zone, agent_data, *st.key("p" + std::to_string(n) + "-agent."));
    }
    say("stand-in agent: sent " + std::to_string(dnskeys.size()) + " DNSKEYs and " +
        std::to_string(ksks.size()) + " CDS to " + std::to_string(st.providers) +
        " combiner(s) (UPDATE, TSIG pN-agent.)");

    // 3. Every provider's auth serves all of them.
    std::set<uint16_t> want;
    for (const auto& k : dnskeys)
        want.insert(dnssec::key_tag(k.rdata));
    for (int n = 1; n <= st.providers; ++n) {
        const process_entry* a = st.find("p" + std::to_string(n) + "-auth");
        for (;;) {
            auto tags = served_key_tags(a->dns_port, child_zone);
            if (std::includes(tags.begin(), tags.end(), want.begin(), want.end())) break;
            if (clock_type::now() >= deadline)
                throw lab_error(a->name + " does not serve every provider's DNSKEY (has " +
                                std::to_string(tags.size()) + " of " + std::to_string(want.size()) +
                                "); logs: " + st.dir + "/p" + std::to_string(n) + "-*/log");
            std::this_thread::sleep_for(150ms);
        }
    }

    // 4. The parent role takes the CDS into DS (it scans every provider's auth server);
    // the parent's signer serves it.
    const process_entry* ps = st.find("parent-signer");
    const process_entry* parent = st.find("parent");
    for (;;) {
        if (served_ds(ps->dns_port, child_zone) == ds_want) break;
        if (clock_type::now() >= deadline) {
            std::string result = "no result";
            try {
                json c =
                    api_call(*parent, "GET", "/parent/children/" + std::string(child_zone), 2000ms);
                result = c.value("result", result);
            } catch (const lab_error& e) {
                result = e.what();
            }
            throw lab_error("parent-signer does not serve the DS of " + std::string(child_zone) +
                            " (the parent role's last scan: " + result + "); logs: " + parent->log +
                            ", " + ps->log);
        }
        std::this_thread::sleep_for(150ms);
    }
    say("stand-in agent: the parent role published the DS of " + std::to_string(ksks.size()) +
        " KSK(s) from the CDS, served by parent-signer; " + remaining_text(deadline) + " to spare");
}

// ------------------------------------------------------------------ zone edits

change_result edit_zone(const lab_state& st, std::string_view zone, const zone_change& c) {
    const process_entry* p = st.primary_of(zone);
    if (!p) throw lab_error("the lab has no primary for " + std::string(zone));
    if (!is_running(*p))
        throw lab_error(p->name + " (the primary of " + std::string(zone) +
                        ") is not running; see " + p->log);
    dns::name origin = dns::name::from_text(zone);
    auto records = read_zone_file(p->zone_file, origin);
    auto res = apply_change(records, origin, c);
    std::string old_text;
    {
        std::ifstream in(p->zone_file);
        std::stringstream ss;
        ss << in.rdbuf();
        old_text = ss.str();
    }
    write_file_atomic(p->zone_file, zone_file_text(records, origin));
    auto reload = [&] { api_call(*p, "POST", zone_target(zone) + "/reload", 5000ms); };
    reload();
    // The primary serves the new serial, or says why not.
    auto deadline = clock_type::now() + 10s;
    while (clock_type::now() < deadline) {
        // The parent role may serve a later serial than the file's (its own changes).
        if (auto served = soa_serial(p->dns_port, zone, 500ms);
            served && !dns::serial_lt(*served, res.new_serial))
            return res;
        std::this_thread::sleep_for(100ms);
    }
    std::string why = "no error reported";
    try {
        json z = api_call(*p, "GET", zone_target(zone), 2000ms);
        if (z["last_error"].is_string() && !z["last_error"].get<std::string>().empty())
            why = z["last_error"].get<std::string>();
    } catch (const lab_error& e) {
        why = e.what();
    }
    // Put the old file back so that the zone file and what is served agree.
    write_file_atomic(p->zone_file, old_text);
    try {
        reload();
    } catch (const lab_error&) {
    }
    throw lab_error(p->name + " did not load the changed " + std::string(zone) + " (serial " +
                    std::to_string(res.new_serial) + "): " + why + "; the old file is restored");
}

// ------------------------------------------------------------------ resolving and probing

std::string ede_name(uint16_t code) {
    // RFC 8914 §4.
    static const char* const names[] = {"Other",
                                        "Unsupported DNSKEY Algorithm",
                                        "Unsupported DS Digest Type",
                                        "Stale Answer",
                                        "Forged Answer",
                                        "DNSSEC Indeterminate",
                                        "DNSSEC Bogus",
                                        "Signature Expired",
                                        "Signature Not Yet Valid",
                                        "DNSKEY Missing",
                                        "RRSIGs Missing",
                                        "No Zone Key Bit Set",
                                        "NSEC Missing",
                                        "Cached Error",
                                        "Not Ready",
                                        "Blocked",
                                        "Censored",
                                        "Filtered",
                                        "Prohibited",
                                        "Stale NXDOMAIN Answer",
                                        "Not Authoritative",
                                        "Not Supported",
                                        "No Reachable Authority",
                                        "Network Error",
                                        "Invalid Data"};
    if (code < std::size(names)) return names[code];
    return "EDE " + std::to_string(code);
}

resolve_result resolve(uint16_t port, std::string_view name, uint16_t qtype,
                       std::chrono::milliseconds timeout) {
    net::query_options o;
    o.timeout = timeout;
    o.retries = 0;
    o.tc_fallback_to_tcp = true;  // RFC 7766 §5
    auto r = exchange(port, query_wire(name, qtype, true, true), o);
    resolve_result out;
    if (!r) return out;
    out.answered = true;
    out.rcode = r.response.rcode;
    out.ad = r.response.ad;
    for (const auto& rr : r.response.answer)
        out.answer.push_back(rr.to_text());
    if (r.response.opt)
        for (const auto& opt : r.response.opt->options)
            if (const auto* g = std::get_if<dns::generic_option>(&opt);
                g && g->code == dns::edns_code::EDE && g->data.size() >= 2) {
                out.ede_code = static_cast<uint16_t>(g->data[0] << 8 | g->data[1]);
                out.ede_text.assign(g->data.begin() + 2, g->data.end());
                break;
            }
    return out;
}

std::vector<std::pair<std::string, uint16_t>> parse_probe_names(std::string_view list) {
    std::vector<std::pair<std::string, uint16_t>> out;
    size_t pos = 0;
    while (pos <= list.size()) {
        size_t comma = list.find(',', pos);
        std::string item(list.substr(
            pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
        pos = comma == std::string_view::npos ? list.size() + 1 : comma + 1;
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (item.empty()) continue;
        uint16_t type = dns::rr_type::A;
        if (auto slash = item.find('/'); slash != std::string::npos) {
            if (!dns::type_from_text(item.substr(slash + 1), type))
                throw lab_error("--names: \"" + item.substr(slash + 1) + "\" is not a record type");
            item.resize(slash);
        }
        if (item.back() != '.') item += '.';
        try {
            item = dns::name::from_text(item).to_text();
        } catch (const dns::dns_error& e) {
            throw lab_error("--names: \"" + item + "\": " + e.what());
        }
        out.emplace_back(item, type);
    }
    if (out.empty()) throw lab_error("--names: no names given");
    return out;
}

namespace {

// Unbound 1.17 sends the EDE code without its reason; with val-log-level 2 it logs the
// reason as "validation failure <NAME TYPE IN>: reason". The last such line for the name.
std::string logged_reason(const std::string& log, const std::string& name, uint16_t type) {
    std::string key = "validation failure <" + name + " " + dns::type_to_text(type) + " IN>: ";
    std::string text = tail_file(log, 400);
    auto at = text.rfind(key);
    if (at == std::string::npos) return {};
    auto end = text.find('\n', at);
    return text.substr(at + key.size(),
                       end == std::string::npos ? std::string::npos : end - at - key.size());
}

}  // namespace

int run_probe(const lab_state& st, const probe_options& o) {
    const process_entry* res = st.find("resolver");
    if (!res || !is_running(*res))
        throw lab_error("the lab's resolver (Unbound) is not running in " + st.dir);
    struct counts {
        std::map<std::string, long> rcode;
        long timeouts = 0, ad = 0, not_ad = 0, total = 0;
    };
    std::vector<counts> per(o.names.size());
    counts all;
    json failures = json::array();
    auto start = clock_type::now();
    auto end = start + o.duration;
    auto next = start;
    if (!o.json && !o.quiet)
        std::printf("probe: %zu name(s) through Unbound at 127.0.0.1:%u every %lld ms for %.1f s\n",
                    o.names.size(), res->dns_port, static_cast<long long>(o.interval.count()),
                    static_cast<double>(o.duration.count()) / 1000.0);
    std::fflush(stdout);
    do {
        for (size_t i = 0; i < o.names.size(); ++i) {
            const auto& [name, type] = o.names[i];
            auto r = resolve(res->dns_port, name, type, o.timeout);
            double at = std::chrono::duration<double>(clock_type::now() - start).count();
            for (counts* c : {&per[i], &all}) {
                ++c->total;
                if (!r.answered) {
                    ++c->timeouts;
                    continue;
                }
                ++c->rcode[dns::rcode_to_text(r.rcode)];
                if (r.rcode == dns::rcode::NOERROR || r.rcode == dns::rcode::NXDOMAIN)
                    ++(r.ad ? c->ad : c->not_ad);
            }
            bool bad = !r.answered || r.rcode == dns::rcode::SERVFAIL;
            if (bad && r.answered && r.ede_text.empty()) {
                std::string why = logged_reason(res->log, name, type);
                if (!why.empty()) r.ede_text = "(resolver log) " + why;
            }
            if (bad) {
                std::string what = r.answered ? dns::rcode_to_text(r.rcode) : "TIMEOUT";
                std::string ede = r.ede_code ? "EDE " + std::to_string(*r.ede_code) + " (" +
                                                   ede_name(*r.ede_code) + ")" +
                                                   (r.ede_text.empty() ? "" : ": " + r.ede_text)
                                             : (r.answered ? "no EDE" : "no answer");
                if (failures.size() < 200)
                    failures.push_back({{"at", at},
                                        {"name", name},
                                        {"type", dns::type_to_text(type)},
                                        {"result", what},
                                        {"ede_code", r.ede_code ? json(*r.ede_code) : json()},
                                        {"ede", r.ede_code ? ede_name(*r.ede_code) : ""},
                                        {"ede_text", r.ede_text}});
                if (!o.json)
                    std::printf("  %7.3f s  %s %s %s: %s\n", at, what.c_str(), name.c_str(),
                                dns::type_to_text(type).c_str(), ede.c_str());
            }
        }
        std::fflush(stdout);
        next += o.interval;
        auto now = clock_type::now();
        if (next > now) std::this_thread::sleep_until(std::min(next, end));
    } while (clock_type::now() < end);
    double secs = std::chrono::duration<double>(clock_type::now() - start).count();
    long servfail = all.rcode.count("SERVFAIL") ? all.rcode["SERVFAIL"] : 0;
    int rc = servfail > 0 || all.timeouts > 0 || (o.require_ad && all.not_ad > 0) ? 1 : 0;
    if (o.json) {
        json j;
        j["resolver"] = "127.0.0.1:" + std::to_string(res->dns_port);
        j["seconds"] = secs;
        j["queries"] = all.total;
        j["rcodes"] = all.rcode;
        j["servfail"] = servfail;
        j["timeouts"] = all.timeouts;
        j["validated"] = all.ad;
        j["not_validated"] = all.not_ad;
        j["names"] = json::array();
        for (size_t i = 0; i < o.names.size(); ++i)
            j["names"].push_back({{"name", o.names[i].first},
                                  {"type", dns::type_to_text(o.names[i].second)},
                                  {"queries", per[i].total},
                                  {"rcodes", per[i].rcode},
                                  {"timeouts", per[i].timeouts},
                                  {"validated", per[i].ad},
                                  {"not_validated", per[i].not_ad}});
        j["failures"] = failures;
        j["pass"] = rc == 0;
        std::printf("%s\n", j.dump(2).c_str());
        return rc;
    }
    std::vector<std::vector<std::string>> rows{
        {"NAME", "TYPE", "QUERIES", "NOERROR", "NXDOMAIN", "SERVFAIL", "OTHER", "TIMEOUT", "AD"}};
    auto row = [&](const std::string& n, const std::string& t, counts& c) {
        long noerr = c.rcode["NOERROR"], nx = c.rcode["NXDOMAIN"], sf = c.rcode["SERVFAIL"];
        long other = 0;
        for (const auto& [k, v] : c.rcode)
            if (k != "NOERROR" && k != "NXDOMAIN" && k != "SERVFAIL") other += v;
        rows.push_back({n, t, std::to_string(c.total), std::to_string(noerr), std::to_string(nx),
                        std::to_string(sf), std::to_string(other), std::to_string(c.timeouts),
                        std::to_string(c.ad)});
    };
    for (size_t i = 0; i < o.names.size(); ++i)
        row(o.names[i].first, dns::type_to_text(o.names[i].second), per[i]);
    row("all", "", all);
    std::vector<size_t> w(rows[0].size(), 0);
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size(); ++i)
            w[i] = std::max(w[i], r[i].size());
    for (const auto& r : rows) {
        std::string line = " ";
        for (size_t i = 0; i < r.size(); ++i) {
            std::string cell = r[i];
            if (i >= 2)
                cell = std::string(w[i] - cell.size(), ' ') + cell;  // numbers right
            else
                cell += std::string(w[i] - cell.size(), ' ');
            line += " " + cell;
        }
        std::printf("%s\n", line.c_str());
    }
    std::printf(
        "probe: %ld queries in %.1f s: %ld SERVFAIL, %ld timeouts, %ld validated (AD), %ld not "
        "validated -> %s\n",
        all.total, secs, servfail, all.timeouts, all.ad, all.not_ad, rc ? "FAIL" : "pass");
    return rc;
}

}  // namespace hsync::cmd::lab
