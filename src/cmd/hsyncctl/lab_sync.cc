// Talking to a running lab: serials by SOA query and management API, the agents'
// processes, zone edits with reload, and the validation probe through Unbound
// (docs/lab.md).
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
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

void wait_signed(const process_entry& s, std::chrono::milliseconds timeout) {
    auto deadline = clock_type::now() + timeout;
    for (;;) {
        std::string why;
        try {
            json keys = api_call(s, "GET", zone_target(s.zone) + "/keys", 2000ms);
            if (!keys["signed_serial"].is_null() && !keys["keys"].empty()) return;
            why = "not signed yet";
        } catch (const lab_error& e) {
            why = e.what();
        }
        if (!is_running(s))
            throw lab_error(s.name + " exited; log " + s.log + ":\n" + tail_file(s.log, 15));
        if (clock_type::now() >= deadline)
            throw lab_error(s.name + " has not signed " + s.zone + " after " +
                            std::to_string(timeout.count() / 1000) + " s (" + why +
                            "); log: " + s.log);
        std::this_thread::sleep_for(150ms);
    }
}

// ------------------------------------------------------------------ the agents' processes

namespace {

std::string canonical_identity(const std::string& text) {
    try {
        return dns::name::from_text(text.empty() || text.back() != '.' ? text + "." : text)
            .canonical()
            .to_text();
    } catch (const dns::dns_error&) {
        return text;
    }
}

std::string json_text(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// One agent's state for the progress line: "add-signer step 3 (name), waiting for X".
std::string progress_text(const agent_process& a) {
    if (!a.answered) return "(" + a.problem + ")";
    std::string t = a.process;
    if (a.process != "none") t += " step " + std::to_string(a.step);
    if (!a.step_name.empty()) t += " (" + a.step_name + ")";
    if (!a.waiting_for.empty()) t += ", waiting for " + a.waiting_for;
    if (!a.error.empty()) t += ", error: " + a.error;
    return t;
}

}  // namespace

agent_process query_agent_process(const process_entry& agent) {
    agent_process a;
    a.agent = agent.name;
    try {
        json j = api_call(agent, "GET", "/agent/process/" + std::string(child_zone), 2000ms);
        a.answered = true;
        a.process = json_text(j, "process");
        a.step_name = json_text(j, "step_name");
        a.waiting_for = json_text(j, "waiting_for");
        a.error = json_text(j, "error");
        a.leader = json_text(j, "leader");
        if (j.contains("step") && j["step"].is_number_integer()) a.step = j["step"].get<int>();
        if (j.contains("members") && j["members"].is_array())
            for (const auto& m : j["members"])
                if (m.is_string()) a.members.push_back(canonical_identity(m.get<std::string>()));
        std::sort(a.members.begin(), a.members.end());
        a.members.erase(std::unique(a.members.begin(), a.members.end()), a.members.end());
    } catch (const lab_error& e) {
        // Not a multi-signer zone at this agent (no HSYNC RRset naming it): no process,
        // no group, which is done when the owner lists no provider either.
        if (std::string(e.what()).find("no such endpoint") != std::string::npos) {
            a.answered = true;
            a.process = "none";
        } else {
            a.problem = e.what();
        }
    }
    return a;
}

void wait_agents_done(const lab_state& st, std::chrono::milliseconds timeout, const reporter& say) {
    auto t0 = clock_type::now();
    auto deadline = t0 + timeout;
    const process_entry* owner = st.primary_of(child_zone);
    const dns::name origin = dns::name::from_text(child_zone);
    std::string last_progress;
    std::vector<std::string> not_done;
    int calm = 0;
    for (;;) {
        // The providers the owner lists as ON: what every agent's group must end up as.
        std::vector<std::string> want;
        std::string want_problem;
        try {
            want = hsync_on_identities(read_zone_file(owner->zone_file, origin), origin);
        } catch (const lab_error& e) {
            want_problem = e.what();
        }
        std::string want_text;
        for (const auto& w : want)
            want_text += (want_text.empty() ? "" : " ") + w;

        // Agents in the same state share a part of the progress line.
        std::vector<std::pair<std::string, std::string>> progress;  // state, agents
        not_done.clear();
        for (const auto& p : st.processes) {
            if (p.role != "agent") continue;
            if (!is_running(p)) {
                // An active provider's agent that is gone (crashed, stopped) is not done.
                if (st.is_active(p.provider))
                    not_done.push_back(p.name + ": not running (log " + p.log + ")");
                continue;
            }
            auto a = query_agent_process(p);
            std::string state = progress_text(a);
            auto same = std::find_if(progress.begin(), progress.end(),
                                     [&](const auto& x) { return x.first == state; });
            if (same == progress.end())
                progress.emplace_back(state, p.name);
            else
                same->second += ", " + p.name;
            std::string why;
            if (!a.answered)
                why = a.problem;
            else if (!a.error.empty())
                why = "error: " + a.error;
            else if (a.process != "none")
                why = a.process + " step " + std::to_string(a.step) + ", waiting for " +
                      (a.waiting_for.empty() ? "-" : a.waiting_for);
            else if (!want_problem.empty())
                why = want_problem;
            else if (a.members != want) {
                std::string members;
                for (const auto& m : a.members)
                    members += (members.empty() ? "" : " ") + m;
                why = "members {" + members + "}, the owner's HSYNC ON {" + want_text + "}";
            }
            if (!why.empty()) not_done.push_back(p.name + ": " + why);
        }
        // Every running hop serves what its upstream serves (the agents' last UPDATEs
        // included); a process stopped on purpose is not waited for.
        std::vector<std::string> behind;
        if (not_done.empty())
            for (const auto& h : collect_serials(st)) {
                const process_entry* p = st.find(h.process);
                const process_entry* up = h.upstream.empty() ? nullptr : st.find(h.upstream);
                if (h.in_sync || !is_running(*p) || (up && !is_running(*up))) continue;
                behind.push_back(h.process + " serves " +
                                 (h.served ? std::to_string(*h.served) : "nothing") + ", behind " +
                                 (h.upstream.empty() ? "-" : h.upstream));
            }

        std::string line;
        for (const auto& [state, agents] : progress)
            line += (line.empty() ? "" : "; ") + agents + ": " + state;
        if (line != last_progress && say) {
            double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
            char at[32];
            std::snprintf(at, sizeof at, "%6.1f s", secs);
            say("  " + std::string(at) + "  " + (line.empty() ? "no agent is running" : line));
            last_progress = line;
        }
        // Twice in a row, as in wait_settled: a step may begin a moment after the last
        // one's result is served.
        calm = not_done.empty() && behind.empty() ? calm + 1 : 0;
        if (calm >= 2) return;
        if (clock_type::now() >= deadline) {
            std::string msg =
                "the agents are not done after " +
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                " s:";
            for (const auto& x : not_done)
                msg += "\n  " + x;
            for (const auto& x : behind)
                msg += "\n  " + x;
            msg += "\n(logs: " + st.dir + "/pN-agent/log)";
            throw lab_error(msg);
        }
        std::this_thread::sleep_for(250ms);
    }
}

std::optional<std::vector<std::string>> delegation_ns(uint16_t port, std::string_view zone,
                                                      std::chrono::milliseconds timeout) {
    net::query_options o;
    o.timeout = timeout;
    o.retries = 0;
    o.tc_fallback_to_tcp = true;
    auto r = exchange(port, query_wire(zone, dns::rr_type::NS, false, false), o);
    if (!r || r.response.rcode != dns::rcode::NOERROR) return std::nullopt;
    dns::name z = dns::name::from_text(zone);
    std::vector<std::string> out;
    // A referral carries the delegation in the authority section; the zone's own servers
    // (or a parent that is also authoritative for it) in the answer.
    for (const auto* section : {&r.response.answer, &r.response.authority})
        for (const auto& rr : *section)
            if (rr.type == dns::rr_type::NS && rr.owner == z) {
                std::string ns = dns::name::from_wire(rr.rdata).canonical().to_text();
                if (std::find(out.begin(), out.end(), ns) == out.end()) out.push_back(ns);
            }
    if (out.empty()) return std::nullopt;
    std::sort(out.begin(), out.end());
    return out;
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

// SIGTERM or SIGINT ends a probe early, with its summary: a test runs one for the whole
// of a scenario whose length it does not know in advance.
volatile std::sig_atomic_t probe_stop = 0;
extern "C" void on_probe_stop(int) {
    probe_stop = 1;
}

}  // namespace

int run_probe(const lab_state& st, const probe_options& o) {
    probe_stop = 0;
    std::signal(SIGTERM, on_probe_stop);
    std::signal(SIGINT, on_probe_stop);
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
    } while (clock_type::now() < end && !probe_stop);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGINT, SIG_DFL);
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
