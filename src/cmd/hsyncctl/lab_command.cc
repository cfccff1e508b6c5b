// hsyncctl lab up|down|stop|start|status|logs|edit|wait|probe|follow (docs/lab.md).
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <thread>

#include <CLI/CLI.hpp>

#include "cmd/hsyncctl/cli_output.h"
#include "cmd/hsyncctl/commands.h"
#include "cmd/hsyncctl/lab.h"
#include "dns/error.h"
#include "dns/message.h"
#include "dns/rdata.h"

namespace hsync::cmd {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
using lab::lab_error;
using lab::lab_state;
using lab::process_entry;

struct lab_args {
    std::string dir;
    int providers = 2;
    int spare = -1;  // not given: 1, or 0 with the most providers
    std::vector<int> no_sign;
    int ttl = 10;
    std::string sync = lab::sync_peer;
    int base_port = 0;
    double timeout = 90;
    double wait_timeout = 120;  // lab wait
    bool keep_on_failure = false;
    bool json_out = false;
    std::string process;
    size_t lines = 0;
    std::vector<std::string> add, del, hsync;
    std::vector<int> add_provider, offboard;
    std::string nsmgmt;
    std::string zone = std::string(lab::child_zone);
    bool no_wait = false;
    double wait = 60;
    std::string names;
    int interval_ms = 200;
    double duration = 10;
    bool require_ad = false;
    bool kill = false;
};

const char* const default_probe_names =
    "www.example.lab/A,www.example.lab/AAAA,example.lab/SOA,example.lab/DNSKEY,"
    "nonexistent.example.lab/A,lab/SOA";

void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

[[noreturn]] void lab_fail(const std::string& message) {
    std::fflush(stdout);
    std::fprintf(stderr, "hsyncctl lab: %s\n", message.c_str());
    throw CLI::RuntimeError(1);
}

std::string lab_dir(const lab_args& a) {
    std::string d = a.dir.empty() ? lab::default_lab_dir() : a.dir;
    std::error_code ec;
    fs::path p = fs::absolute(d, ec);
    if (ec) lab_fail("--dir " + d + ": " + ec.message());
    return p.lexically_normal().string();
}

// " --dir D" when D is not the default, for the hints printed to the user.
std::string dir_flag(const lab_args&, const std::string& dir) {
    std::string def = fs::absolute(lab::default_lab_dir()).lexically_normal().string();
    return dir == def ? "" : " --dir " + dir;
}

lab_state need_state(const std::string& dir) {
    auto st = lab::load_state(dir);
    if (!st) lab_fail("no lab in " + dir + " (hsyncctl lab up starts one)");
    return *st;
}

// Runs a command body; lab errors become one message and exit status 1.
template <typename F>
void guarded(F&& f) {
    try {
        f();
    } catch (const lab_error& e) {
        lab_fail(e.what());
    } catch (const dns::dns_error& e) {
        lab_fail(e.what());
    }
}

std::string port_text(uint16_t p) {
    return p ? "127.0.0.1:" + std::to_string(p) : "-";
}

// ------------------------------------------------------------------ up

// Waits until a started hsyncd listens on its DNS and management ports.
void wait_listening(const process_entry& p, std::chrono::milliseconds timeout) {
    auto deadline = clock_type::now() + timeout;
    while (clock_type::now() < deadline) {
        if (!lab::is_running(p)) {
            std::this_thread::sleep_for(100ms);  // let it finish writing its last words
            std::string log = lab::tail_file(p.log, 12);
            bool in_use = log.find("in use") != std::string::npos;
            throw lab_error(p.name + " exited at start; the end of " + p.log + ":\n" + log, in_use);
        }
        if (lab::tcp_connects(p.mgmt_port, 200ms) && lab::tcp_connects(p.dns_port, 200ms)) return;
        std::this_thread::sleep_for(50ms);
    }
    throw lab_error(p.name + " does not listen on 127.0.0.1:" + std::to_string(p.dns_port) +
                    " and :" + std::to_string(p.mgmt_port) + " after " +
                    std::to_string(timeout.count() / 1000) + " s; log: " + p.log);
}

// Waits until Unbound answers SOA of lab. validated (AD) and of example.lab. (with AD too
// when `child_ad`: example.lab. has no DS until the agents have had the parent publish it).
void wait_resolver(const process_entry& p, std::chrono::milliseconds timeout, bool child_ad) {
    auto deadline = clock_type::now() + timeout;
    std::string last = "no answer";
    while (clock_type::now() < deadline) {
        if (!lab::is_running(p)) {
            std::this_thread::sleep_for(100ms);
            std::string log = lab::tail_file(p.log, 12);
            bool in_use = log.find("in use") != std::string::npos ||
                          log.find("could not open") != std::string::npos;
            throw lab_error("Unbound exited at start; the end of " + p.log + ":\n" + log, in_use);
        }
        bool ok = true;
        for (auto zone : {lab::parent_zone, lab::child_zone}) {
            auto r = lab::resolve(p.dns_port, zone, dns::rr_type::SOA, 1000ms);
            if (!r.answered) {
                ok = false;
                last = "no answer for " + std::string(zone) + " SOA";
                break;
            }
            bool need_ad = zone == lab::parent_zone || child_ad;
            if (r.rcode != dns::rcode::NOERROR || (need_ad && !r.ad)) {
                ok = false;
                last = std::string(zone) + " SOA: " + dns::rcode_to_text(r.rcode) +
                       (r.ad ? " AD" : " without AD") +
                       (r.ede_code ? ", EDE " + std::to_string(*r.ede_code) + " (" +
                                         lab::ede_name(*r.ede_code) + ") " + r.ede_text
                                   : "");
                break;
            }
        }
        if (ok) return;
        std::this_thread::sleep_for(200ms);
    }
    throw lab_error("Unbound does not validate the lab (" + last + "); the end of " + p.log +
                    ":\n" + lab::tail_file(p.log, 12));
}

// Waits until a process without a management API has started: Unbound listens, the
// follower has logged its start.
void wait_started(const process_entry& p, std::chrono::milliseconds timeout) {
    auto deadline = clock_type::now() + timeout;
    while (clock_type::now() < deadline) {
        if (!lab::is_running(p)) {
            std::this_thread::sleep_for(100ms);
            std::string log = lab::tail_file(p.log, 12);
            bool in_use = log.find("in use") != std::string::npos ||
                          log.find("could not open") != std::string::npos;
            throw lab_error(p.name + " exited at start; the end of " + p.log + ":\n" + log, in_use);
        }
        if (p.role == "unbound"
                ? lab::tcp_connects(p.dns_port, 200ms)
                : lab::tail_file(p.log, 50).find("event=start") != std::string::npos)
            return;
        std::this_thread::sleep_for(50ms);
    }
    throw lab_error(p.name + " did not start within " + std::to_string(timeout.count() / 1000) +
                    " s; log: " + p.log);
}

// Waits until every agent's relation with every other agent is OPERATIONAL and every
// multi-signer zone is negotiated (docs/agent.md).
void wait_agents(const lab_state& st, std::chrono::milliseconds timeout) {
    auto t0 = clock_type::now();
    auto deadline = t0 + timeout;
    std::string last;
    const int providers = static_cast<int>(st.active.size());
    while (true) {
        bool ok = true;
        for (const auto& p : st.processes) {
            if (p.role != "agent" || !st.is_active(p.provider)) continue;
            try {
                auto peers = lab::api_call(p, "GET", "/agent/peers", 2000ms)["peers"];
                auto zones = lab::api_call(p, "GET", "/agent/zones", 2000ms)["zones"];
                size_t operational = 0;
                for (const auto& x : peers)
                    if (x.value("state", "") == "OPERATIONAL") ++operational;
                if (operational + 1 < static_cast<size_t>(providers)) {
                    ok = false;
                    last = p.name + ": " + std::to_string(operational) + " of " +
                           std::to_string(providers - 1) + " peers OPERATIONAL";
                    for (const auto& x : peers)
                        if (x.value("state", "") != "OPERATIONAL")
                            last += "; " + x.value("identity", "") + " " + x.value("state", "") +
                                    " (" +
                                    (x["reason"].is_string() ? x["reason"].get<std::string>()
                                                             : std::string("-")) +
                                    ")";
                    break;
                }
                for (const auto& z : zones)
                    if (z.value("state", "") != "negotiated" && providers > 1) {
                        ok = false;
                        last =
                            p.name + ": zone " + z.value("zone", "") + " " + z.value("state", "");
                    }
            } catch (const lab_error& e) {
                ok = false;
                last = e.what();
            }
            if (!ok) break;
        }
        if (ok) break;
        if (clock_type::now() > deadline)
            throw lab_error("the agents did not all reach OPERATIONAL (" + last + ")");
        std::this_thread::sleep_for(200ms);
    }
    say("  every agent OPERATIONAL with every other, zones negotiated (" +
        std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0).count()) +
        " ms)");
}

void start_process(lab_state& st, process_entry& p) {
    lab::spawn(p, [&st] { lab::save_state(st); });
    say("  started " + p.name + " (" + p.role + (p.zone.empty() ? "" : ", " + p.zone) +
        (p.identity.empty() ? "" : ", identity " + p.identity) + ") pid " + std::to_string(p.pid) +
        (p.dns_port ? ", DNS " + port_text(p.dns_port) : std::string()) +
        (p.mgmt_port ? ", management " + port_text(p.mgmt_port) : std::string()));
    if (p.is_hsyncd())
        wait_listening(p, 20s);
    else
        wait_started(p, 20s);
}

// Starts provider n's chain (combiner, signer, auth) and marks it active; its agent starts
// once the signer has signed (`up`: once the trust anchor is known too).
void start_provider_chain(lab_state& st, int n) {
    for (const char* what : {"combiner", "signer", "auth"})
        if (st.signs(n) || std::string_view(what) == "auth")
            start_process(st, *st.find("p" + std::to_string(n) + "-" + what));
    if (!st.is_active(n)) {
        st.active.push_back(n);
        std::sort(st.active.begin(), st.active.end());
    }
    lab::save_state(st);
}

void start_lab(lab_state& st, std::chrono::milliseconds timeout) {
    // The parent's chain and the owner, then every active provider's chain; spare
    // providers stay planned only (lab edit --add-provider starts one).
    for (auto& p : st.processes)
        if (p.is_hsyncd() && p.role != "agent" && p.provider == 0) start_process(st, p);
    for (int n : std::vector<int>(st.active))
        start_provider_chain(st, n);
    auto t0 = clock_type::now();
    lab::wait_settled(st, timeout);
    st.trust_anchor = lab::wait_trust_anchor(st, timeout);
    lab::write_file_atomic(lab::trust_anchor_path(st), st.trust_anchor + "\n");
    for (int n : st.active)
        lab::wait_signed(*st.provider_process(n, "signer"), timeout);
    say("  every zone transferred and signed (" +
        std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0).count()) +
        " ms); trust anchor: the parent signer's KSK");

    // Unbound reaches example.lab. at the providers the parent delegates to; the follower
    // keeps it so as the agents change the delegation.
    process_entry& r = *st.find("resolver");
    lab::write_file_atomic(r.config, lab::unbound_config(st, r, lab::initial_stub_ports(st)));
    lab::save_state(st);
    start_process(st, r);
    wait_resolver(r, 20s, false);
    start_process(st, *st.find("delegation-follower"));

    // The agents validate what they find from the lab's trust anchor: they start once it
    // is known. They exchange the providers' keys, have the parent publish the DS, and
    // manage NS (docs/agent.md); up waits until they say they are done.
    for (int n : st.active)
        start_process(st, *st.find("p" + std::to_string(n) + "-agent"));
    wait_agents(st, timeout);
    say("  waiting for the agents' processes (GET /agent/process/" + std::string(lab::child_zone) +
        "):");
    lab::wait_agents_done(st, timeout, say);
    wait_resolver(r, timeout, true);
}

void stop_quietly(lab_state& st) {
    lab::stop_processes(st.processes, 3000ms, nullptr);
    std::error_code ec;
    fs::remove(lab::state_path(st.dir), ec);
}

// Removes what a previous lab left in `dir` (only in a directory marked as a lab's).
void clear_lab_dir(const std::string& dir) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().filename() == ".hsync-lab") continue;
        fs::remove_all(e.path(), ec);
        if (ec) lab_fail("cannot clear " + e.path().string() + ": " + ec.message());
    }
}

void cmd_up(const lab_args& args) {
    lab_args a = args;
    if (a.spare < 0) a.spare = a.providers < lab::max_providers ? 1 : 0;
    std::string dir = lab_dir(a);
    if (a.providers < 1 || a.spare < 0 || a.providers + a.spare > lab::max_providers)
        lab_fail("--providers (1 or more) and --spare together plan at most " +
                 std::to_string(lab::max_providers) + " providers");
    if (a.sync != lab::sync_peer && a.sync != lab::sync_leader_follower)
        lab_fail("--sync must be peer or leader-follower");
    // Unbound's control socket lives in the lab's directory; a unix socket path has room
    // for 107 bytes (sun_path).
    if (std::string sock = dir + "/resolver/unbound.ctl"; sock.size() > 107)
        lab_fail("--dir " + dir + " is too long for Unbound's control socket (" + sock + ", " +
                 std::to_string(sock.size()) + " bytes, at most 107); choose a shorter --dir");
    std::optional<lab_state> old;
    guarded([&] { old = lab::load_state(dir); });
    if (old) {
        bool running = std::any_of(old->processes.begin(), old->processes.end(),
                                   [](const process_entry& p) { return lab::is_running(p); });
        if (running) lab_fail("a lab is already running in " + dir + " (lab down first)");
        say("the lab state in " + dir + " is from a lab that no longer runs; starting a new one");
    }
    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_empty(dir, ec) && !fs::exists(lab::marker_path(dir), ec))
        lab_fail(dir + " is not empty and is not a lab directory; choose another --dir");
    lab::plan_options po;
    po.providers = a.providers;
    po.spare = a.spare;
    po.no_sign = a.no_sign;
    po.ttl = static_cast<uint32_t>(a.ttl);
    po.sync = a.sync;
    guarded([&] {
        po.hsyncd = lab::find_hsyncd();
        po.unbound = lab::find_unbound();
        po.unbound_control = lab::find_unbound_control(po.unbound);
        po.hsyncctl = lab::find_hsyncctl();
    });
    const size_t n = lab::ports_needed(a.providers + a.spare);
    const bool fixed = a.base_port != 0;
    if (fixed && (a.base_port < 1024 || a.base_port + static_cast<long>(n) - 1 > 65535))
        lab_fail("--base-port " + std::to_string(a.base_port) + ": the lab needs " +
                 std::to_string(n) + " ports from there, all within 1024..65535");
    const auto timeout = std::chrono::milliseconds(static_cast<long>(a.timeout * 1000));
    for (int attempt = 1;; ++attempt) {
        std::vector<uint16_t> ports;
        if (fixed) {
            for (size_t i = 0; i < n; ++i)
                ports.push_back(static_cast<uint16_t>(a.base_port + i));
        } else {
            guarded([&] { ports = lab::pick_ports(n); });
        }
        lab_state st = lab::make_plan(dir, po, ports);
        st.fixed_ports = fixed;
        st.created = static_cast<int64_t>(std::time(nullptr));
        // Picked ports were checked by pick_ports; given ones are checked here, before
        // anything is written or started.
        for (const auto& p : st.processes)
            for (auto [port, what] :
                 {std::pair{p.dns_port, "DNS"}, std::pair{p.mgmt_port, "management"},
                  std::pair{p.api_port, "REST API"}})
                if (fixed && port && !lab::port_free(port)) {
                    lab_fail(
                        "port " + std::to_string(port) + " (" + p.name + " " + what +
                        ") is already in use on 127.0.0.1; choose another --base-port (the lab "
                        "needs " +
                        std::to_string(n) + " ports from it) or leave it out");
                }
        fs::create_directories(dir, ec);
        if (ec) lab_fail("cannot create " + dir + ": " + ec.message());
        clear_lab_dir(dir);
        guarded([&] { lab::write_file_atomic(lab::marker_path(dir), "hsyncctl lab directory\n"); });
        say("hsync lab in " + dir + ": parent lab., customer example.lab., " +
            std::to_string(a.providers) + " provider(s)" +
            (a.spare ? " and " + std::to_string(a.spare) + " spare" : std::string()) + ", TTL " +
            std::to_string(a.ttl) + " s, sync " + a.sync + ", ports " +
            std::to_string(ports.front()) + "-" + std::to_string(ports.back()));
        try {
            lab::generate_secrets(st);
            lab::make_agent_identity_keys(st);
            lab::write_lab_files(st);
            lab::save_state(st);
            start_lab(st, timeout);
        } catch (const lab_error& e) {
            if (a.keep_on_failure) {
                lab::save_state(st);
                lab_fail(std::string(e.what()) +
                         "\n(--keep-on-failure: the lab is left running; "
                         "hsyncctl lab down" +
                         dir_flag(a, dir) + " stops it)");
            }
            stop_quietly(st);
            if (e.port_in_use && !fixed && attempt < 3) {
                say("a port was taken while the lab started; trying again on other ports");
                continue;
            }
            lab_fail(std::string(e.what()) + "\nthe lab is stopped; its files stay in " + dir);
        } catch (...) {
            stop_quietly(st);
            throw;
        }
        lab::save_state(st);
        const process_entry& r = *st.find("resolver");
        std::string df = dir_flag(a, dir);
        say("");
        say("The lab is up: example.lab. is signed by " + std::to_string(a.providers) +
            " provider(s) and validates (AD) through Unbound.");
        say("  resolve:  dig @127.0.0.1 -p " + std::to_string(r.dns_port) +
            " www.example.lab. A +dnssec");
        say("  look:     hsyncctl lab status" + df + "   |  hsyncctl lab logs p1-signer" + df);
        say("  change:   hsyncctl lab edit" + df + " --add 'new IN A 192.0.2.9'");
        if (a.spare)
            say("  grow:     hsyncctl lab edit" + df + " --add-provider " +
                std::to_string(a.providers + 1) + " && hsyncctl lab wait" + df);
        say("  probe:    hsyncctl lab probe" + df + " --duration 10");
        say("  stop:     hsyncctl lab down" + df);
        return;
    }
}

// ------------------------------------------------------------------ down

void cmd_down(const lab_args& a) {
    std::string dir = lab_dir(a);
    std::optional<lab_state> st;
    guarded([&] { st = lab::load_state(dir); });
    if (!st)
        lab_fail("no lab is running in " + dir + " (no " + lab::state_path(dir) +
                 "); nothing to stop");
    auto rep = lab::stop_processes(st->processes, 5000ms, say);
    std::error_code ec;
    fs::remove(lab::state_path(dir), ec);
    say("lab in " + dir + " stopped: " + std::to_string(rep.stopped + rep.killed) +
        " process(es) stopped" +
        (rep.killed ? " (" + std::to_string(rep.killed) + " killed)" : "") +
        (rep.gone ? ", " + std::to_string(rep.gone) + " had already exited" : "") +
        (rep.foreign
             ? ", " + std::to_string(rep.foreign) + " PID(s) reused by other programs left alone"
             : "") +
        "; configs, keys, logs and data stay in " + dir);
}

// ------------------------------------------------------------------ stop, start

// One process of a running lab: stopped (SIGTERM, or SIGKILL with --kill: a crash), or
// started again with the same configuration and data. The system tests use them to kill
// and restart agents; the PID in lab.json follows.
void cmd_stop_one(const lab_args& a) {
    std::string dir = lab_dir(a);
    lab_state st = need_state(dir);
    process_entry* p = st.find(a.process);
    if (!p) lab_fail("no process " + a.process + " in the lab (see hsyncctl lab status)");
    if (!lab::is_running(*p)) lab_fail(p->name + " is not running");
    if (a.kill) {
        ::kill(static_cast<pid_t>(p->pid), SIGKILL);
        for (int i = 0; i < 100 && lab::is_running(*p); ++i)
            std::this_thread::sleep_for(20ms);
        say(p->name + " killed (SIGKILL), pid " + std::to_string(p->pid));
    } else {
        lab::stop_processes({*p}, 5000ms, nullptr);
        say(p->name + " stopped, pid " + std::to_string(p->pid));
    }
}

void cmd_start_one(const lab_args& a) {
    std::string dir = lab_dir(a);
    lab_state st = need_state(dir);
    process_entry* p = st.find(a.process);
    if (!p) lab_fail("no process " + a.process + " in the lab (see hsyncctl lab status)");
    if (lab::is_running(*p))
        lab_fail(p->name + " is running already (pid " + std::to_string(p->pid) + ")");
    // A spare provider joins as a whole, in the owner's zone too.
    if (p->provider > 0 && !st.is_active(p->provider))
        lab_fail(p->name + " belongs to spare provider p" + std::to_string(p->provider) +
                 ", which has not been started: hsyncctl lab edit --add-provider " +
                 std::to_string(p->provider));
    guarded([&] {
        lab::spawn(*p, [&st] { lab::save_state(st); });
        if (p->is_hsyncd())
            wait_listening(*p, 20s);
        else
            wait_started(*p, 20s);
    });
    say(p->name + " started, pid " + std::to_string(p->pid));
}

// ------------------------------------------------------------------ status

void cmd_status(const lab_args& a) {
    std::string dir = lab_dir(a);
    lab_state st = need_state(dir);
    std::vector<bool> alive;
    for (const auto& p : st.processes)
        alive.push_back(lab::is_running(p));
    auto serials = lab::collect_serials(st);
    const process_entry* res = st.find("resolver");
    struct via_resolver {
        std::string zone;
        std::optional<uint32_t> serial;
        bool ad = false;
    };
    std::vector<via_resolver> resolved;
    for (auto zone : {lab::parent_zone, lab::child_zone}) {
        via_resolver v{std::string(zone), std::nullopt, false};
        if (res && lab::is_running(*res))
            v.serial = lab::soa_serial(res->dns_port, zone, 1000ms, true, &v.ad);
        resolved.push_back(v);
    }
    // A spare provider's processes have never been started: not a failure.
    auto state_of = [&](size_t i) -> std::string {
        return alive[i] ? "running" : st.processes[i].pid ? "exited" : "not started";
    };
    bool all_alive = true;
    for (size_t i = 0; i < st.processes.size(); ++i)
        if (state_of(i) == "exited") all_alive = false;
    // Where the parent delegates example.lab., and where Unbound's stub points (the
    // delegation follower keeps the two the same).
    std::optional<std::vector<std::string>> parent_ns;
    if (const process_entry* ps = st.find("parent-signer"); ps && lab::is_running(*ps)) {
        try {
            parent_ns = lab::delegation_ns(ps->dns_port, lab::child_zone, 1000ms);
        } catch (const std::exception&) {  // shown as "no answer"
        }
    }
    std::vector<std::string> stub;
    if (res)
        for (uint16_t port : lab::configured_stub_ports(res->config)) {
            std::string name = "127.0.0.1@" + std::to_string(port);
            for (const auto& p : st.processes)
                if (p.role == "auth" && p.provider > 0 && p.dns_port == port)
                    name = lab::provider_nameserver(p.provider);
            stub.push_back(name);
        }
    std::sort(stub.begin(), stub.end());
    if (a.json_out) {
        json j = st.to_json();
        j["state_file"] = lab::state_path(dir);
        j["keys_dir"] = dir + "/keys";
        for (size_t i = 0; i < st.processes.size(); ++i) {
            auto& p = j["processes"][i];
            p["alive"] = static_cast<bool>(alive[i]);
            p["state"] = state_of(i);
            p["started"] = st.processes[i].pid != 0;
            p["dns"] = port_text(st.processes[i].dns_port);
            p["management"] = port_text(st.processes[i].mgmt_port);
            json files = json::array();
            for (const auto& k : st.processes[i].keys)
                files.push_back(st.key(k)->file);
            p["tsig_key_files"] = files;
            if (st.processes[i].role == "signer")
                p["dnssec_keys_dir"] = st.processes[i].data_dir + "/keys";
        }
        j["serials"] = json::array();
        for (const auto& h : serials)
            j["serials"].push_back({{"zone", h.zone},
                                    {"process", h.process},
                                    {"upstream", h.upstream},
                                    {"serial", h.served ? json(*h.served) : json()},
                                    {"input_serial", h.input ? json(*h.input) : json()},
                                    {"in_sync", h.in_sync}});
        for (const auto& v : resolved)
            j["serials"].push_back({{"zone", v.zone},
                                    {"process", "resolver"},
                                    {"serial", v.serial ? json(*v.serial) : json()},
                                    {"validated", v.ad}});
        j["delegation"] = {{"zone", std::string(lab::child_zone)},
                           {"parent_ns", parent_ns ? json(*parent_ns) : json()},
                           {"resolver_stub", stub}};
        j["all_alive"] = all_alive;
        std::printf("%s\n", j.dump(2).c_str());
        if (!all_alive) throw CLI::RuntimeError(1);
        return;
    }
    char when[32] = "-";
    std::time_t t = static_cast<std::time_t>(st.created);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::string providers;
    for (int n = 1; n <= st.planned; ++n)
        providers += " p" + std::to_string(n) + (st.is_active(n) ? "" : " (spare)");
    std::printf("lab in %s: providers%s; TTL %u s, sync %s; started %s, %s\n\n", dir.c_str(),
                providers.c_str(), st.ttl, st.sync.c_str(), when,
                all_alive ? "every started process running" : "SOME PROCESSES ARE NOT RUNNING");
    std::vector<std::vector<std::string>> rows{
        {"PROCESS", "ROLE", "PROVIDER", "PID", "ALIVE", "DNS", "MANAGEMENT", "CONFIG"}};
    for (size_t i = 0; i < st.processes.size(); ++i) {
        const auto& p = st.processes[i];
        std::string cfg =
            p.config.rfind(dir + "/", 0) == 0 ? p.config.substr(dir.size() + 1) : p.config;
        rows.push_back({p.name, p.role, p.provider ? "p" + std::to_string(p.provider) : "-",
                        p.pid ? std::to_string(p.pid) : "-",
                        alive[i] ? "yes" : (p.pid ? "NO" : "not started"), port_text(p.dns_port),
                        port_text(p.mgmt_port), cfg.empty() ? "-" : cfg});
    }
    print_table(rows);
    std::printf("\n");
    std::vector<std::vector<std::string>> zrows{
        {"ZONE", "HOP", "SERIAL", "TOOK", "FROM", "IN SYNC"}};
    for (const auto& h : serials)
        zrows.push_back({h.zone, h.process, h.served ? std::to_string(*h.served) : "-",
                         h.input ? std::to_string(*h.input) : "-",
                         h.upstream.empty() ? "-" : h.upstream, h.in_sync ? "yes" : "no"});
    for (const auto& v : resolved)
        zrows.push_back({v.zone, "resolver", v.serial ? std::to_string(*v.serial) : "-", "-",
                         "(cache)",
                         v.serial ? (v.ad ? "validated (AD)" : "NOT validated") : "no answer"});
    print_table(zrows);
    auto names = [](const std::vector<std::string>& v) {
        std::string out;
        for (const auto& x : v)
            out += " " + x;
        return out.empty() ? std::string(" -") : out;
    };
    std::printf(
        "\n%s delegated by parent-signer to:%s\nUnbound's stub for it (the delegation "
        "follower's):%s\n",
        std::string(lab::child_zone).c_str(),
        parent_ns ? names(*parent_ns).c_str() : " (no answer)", names(stub).c_str());
    std::printf("\nlogs: %s/<process>/log   TSIG keys: %s/keys/*.key   state: %s\n", dir.c_str(),
                dir.c_str(), lab::state_path(dir).c_str());
    if (!all_alive) throw CLI::RuntimeError(1);
}

// ------------------------------------------------------------------ logs

void cmd_logs(const lab_args& a) {
    std::string dir = lab_dir(a);
    lab_state st = need_state(dir);
    if (!a.process.empty()) {
        const process_entry* p = st.find(a.process);
        if (!p) {
            std::string names;
            for (const auto& q : st.processes)
                names += " " + q.name;
            lab_fail("no process \"" + a.process + "\" in the lab; there are:" + names);
        }
        std::printf("%s", lab::tail_file(p->log, a.lines ? a.lines : 40).c_str());
        return;
    }
    for (const auto& p : st.processes) {
        std::printf("== %s (%s)\n%s\n", p.name.c_str(), p.log.c_str(),
                    lab::tail_file(p.log, a.lines ? a.lines : 8).c_str());
    }
}

// ------------------------------------------------------------------ edit

// Starts spare provider n for `edit --add-provider`: its chain, then its agent once the
// signer has signed. On failure what was started for it is stopped again.
void add_provider(lab_state& st, int n, std::chrono::milliseconds timeout) {
    const std::string prefix = "p" + std::to_string(n) + "-";
    try {
        say("starting provider p" + std::to_string(n) + ":");
        start_provider_chain(st, n);
        if (st.signs(n)) lab::wait_signed(*st.provider_process(n, "signer"), timeout);
        start_process(st, *st.find(prefix + "agent"));
    } catch (const lab_error&) {
        std::vector<process_entry> started;
        for (const char* what : {"combiner", "signer", "auth", "agent"})
            if (const auto* p = st.find(prefix + what); p && lab::is_running(*p))
                started.push_back(*p);
        lab::stop_processes(started, 3000ms, nullptr);
        std::erase(st.active, n);
        lab::save_state(st);
        throw;
    }
}

void cmd_edit(const lab_args& a) {
    std::string dir = lab_dir(a);
    lab_state st = need_state(dir);
    if (a.zone.empty()) lab_fail("--zone: empty");
    guarded([&] {
        std::string zone =
            dns::name::from_text(a.zone.back() == '.' ? a.zone : a.zone + ".").to_text();
        if (zone != lab::child_zone && zone != lab::parent_zone)
            throw lab_error("--zone must be " + std::string(lab::child_zone) + " or " +
                            std::string(lab::parent_zone));
        dns::name origin = dns::name::from_text(zone);
        auto child_only = [&](const char* option) {
            if (zone != lab::child_zone)
                throw lab_error(std::string(option) + " applies to " +
                                std::string(lab::child_zone));
        };
        lab::zone_change c;
        c.ttl = st.ttl;
        for (const auto& d : a.del)
            c.remove.push_back(lab::parse_delete(d, origin));
        for (const auto& x : a.add)
            c.add.push_back(lab::parse_add(x, origin, st.ttl));
        for (const auto& h : a.hsync) {
            child_only("--hsync-state");
            c.hsync_state.push_back(lab::parse_hsync_state(h, st.planned));
        }
        auto provider_arg = [&](const char* option, int n) {
            child_only(option);
            if (n < 1 || n > st.planned)
                throw lab_error(std::string(option) + " " + std::to_string(n) +
                                ": the lab has providers 1 to " + std::to_string(st.planned) +
                                " (lab up --spare plans more)");
        };
        std::vector<int> adding;
        for (int n : a.add_provider) {
            provider_arg("--add-provider", n);
            if (std::find(adding.begin(), adding.end(), n) != adding.end()) continue;
            for (const char* what : {"combiner", "signer", "auth", "agent"})
                if (const auto* p = st.provider_process(n, what); p && lab::is_running(*p))
                    throw lab_error("--add-provider " + std::to_string(n) + ": " + p->name +
                                    " is running already (p" + std::to_string(n) +
                                    " is an active provider)");
            adding.push_back(n);
            // The address its nameserver's glue at the parent needs, and its HSYNC record.
            c.add.push_back(
                lab::parse_add("ns.p" + std::to_string(n) + " IN A 127.0.0.1", origin, st.ttl));
            c.hsync_add.push_back(lab::provider_identity(n));
            if (!st.signs(n)) c.hsync_add_unsigned.push_back(lab::provider_identity(n));
        }
        for (int n : a.offboard) {
            provider_arg("--offboard", n);
            if (std::find(adding.begin(), adding.end(), n) != adding.end())
                throw lab_error("--offboard " + std::to_string(n) + " and --add-provider " +
                                std::to_string(n) + " in one edit");
            c.hsync_state.emplace_back(lab::provider_identity(n), false);
        }
        if (!a.nsmgmt.empty()) {
            child_only("--nsmgmt");
            std::string m = a.nsmgmt;
            std::transform(m.begin(), m.end(), m.begin(), ::tolower);
            if (m != "owner" && m != "agent") throw lab_error("--nsmgmt must be owner or agent");
            c.nsmgmt_agent = m == "agent";
        }
        // The whole change is checked on the zone file before any provider starts.
        {
            const process_entry* primary = st.primary_of(zone);
            auto records = lab::read_zone_file(primary->zone_file, origin);
            lab::apply_change(records, origin, c);
        }
        for (int n : adding)
            add_provider(st, n, std::chrono::milliseconds(static_cast<long>(a.wait * 1000)));

        auto t0 = clock_type::now();
        auto res = lab::edit_zone(st, zone, c);
        const process_entry* primary = st.primary_of(zone);
        bool hsync = !c.hsync_state.empty() || !c.hsync_add.empty() || c.nsmgmt_agent;
        say(zone + ": " + std::to_string(res.added) + " added, " + std::to_string(res.removed) +
            " removed" +
            (hsync ? ", " + std::to_string(res.hsync_changed) + " HSYNC changed" : "") +
            "; serial " + std::to_string(res.old_serial) + " -> " + std::to_string(res.new_serial) +
            " at " + primary->name + " (" + primary->zone_file + ")");
        for (const auto& n : res.notes)
            say("  note: " + n);
        if (res.hsync_changed > 0 || !c.hsync_add.empty())
            say("  the agents act on the HSYNC change; hsyncctl lab wait" + dir_flag(a, dir) +
                " waits until they are done");
        if (a.no_wait) return;
        auto serials =
            lab::wait_settled(st, std::chrono::milliseconds(static_cast<long>(a.wait * 1000)));
        double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
        std::string line;
        for (const auto& h : serials)
            if (h.zone == zone)
                line += " " + h.process + " " + (h.served ? std::to_string(*h.served) : "-");
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f", secs);
        say("every hop serves the change after " + std::string(buf) + " s:" + line);
    });
}

// ------------------------------------------------------------------ wait

void cmd_wait(const lab_args& a) {
    std::string dir = lab_dir(a);
    lab_state st = need_state(dir);
    guarded([&] {
        auto t0 = clock_type::now();
        lab::wait_agents_done(
            st, std::chrono::milliseconds(static_cast<long>(a.wait_timeout * 1000)), say);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f",
                      std::chrono::duration<double>(clock_type::now() - t0).count());
        say("the agents are done after " + std::string(buf) +
            " s: no process under way, every group is the owner's HSYNC ON set, every hop in "
            "sync");
    });
}

// ------------------------------------------------------------------ follow

void cmd_follow(const lab_args& a) {
    int rc = lab::run_follower(lab_dir(a));
    if (rc != 0) throw CLI::RuntimeError(rc);
}

// ------------------------------------------------------------------ probe

void cmd_probe(const lab_args& a) {
    std::string dir = lab_dir(a);
    lab_state st = need_state(dir);
    int rc = 0;
    guarded([&] {
        lab::probe_options o;
        o.names = lab::parse_probe_names(a.names.empty() ? default_probe_names : a.names);
        o.interval = std::chrono::milliseconds(a.interval_ms);
        o.duration = std::chrono::milliseconds(static_cast<long>(a.duration * 1000));
        o.json = a.json_out;
        o.require_ad = a.require_ad;
        rc = lab::run_probe(st, o);
    });
    if (rc != 0) throw CLI::RuntimeError(rc);
}

}  // namespace

void add_lab_commands(CLI::App& app) {
    auto a = std::make_shared<lab_args>();
    auto* lab =
        app.add_subcommand("lab",
                           "A whole DNS world on loopback: parent, owner, providers, Unbound "
                           "(docs/lab.md)");
    lab->require_subcommand(1);
    auto dir_opt = [&](CLI::App* c) {
        c->add_option("--dir", a->dir,
                      "State directory of the lab (default $HSYNC_LAB_DIR, else "
                      "~/.local/state/hsync/lab)")
            ->envname("HSYNC_LAB_DIR");
    };

    auto* up = lab->add_subcommand(
        "up", "Start a lab: every process on 127.0.0.1, zones signed and validated");
    dir_opt(up);
    up->add_option("--providers", a->providers, "Number of providers (default 2)")
        ->check(CLI::Range(1, lab::max_providers));
    up->add_option("--no-sign", a->no_sign,
                   "A spare provider that joins with Sign=NO: it serves p1's signed zone "
                   "(repeatable)");
    up->add_option("--spare", a->spare,
                   "Providers planned but not started (lab edit --add-provider; default 1, 0 "
                   "with --providers 9)")
        ->check(CLI::Range(0, lab::max_providers - 1));
    up->add_option("--ttl", a->ttl,
                   "TTL of both zones, DNSKEY, DS, NS and the agents' identity zones (default "
                   "10)")
        ->check(CLI::Range(1, 86400));
    up->add_option("--sync", a->sync,
                   "How the agents synchronize: peer or leader-follower (default peer)")
        ->check(CLI::IsMember({"peer", "leader-follower"}));
    up->add_option("--base-port", a->base_port,
                   "First of the consecutive ports the lab uses (default: a free block it picks)");
    up->add_option("--timeout", a->timeout, "Seconds to wait for each start-up stage (default 90)")
        ->check(CLI::Range(1.0, 3600.0));
    up->add_flag("--keep-on-failure", a->keep_on_failure,
                 "Leave the processes running when up fails");
    up->callback([a] { cmd_up(*a); });

    auto* down = lab->add_subcommand("down", "Stop every process of the lab (by its recorded PID)");
    dir_opt(down);
    down->callback([a] { cmd_down(*a); });

    auto* stop = lab->add_subcommand("stop", "Stop one process of the lab (--kill: SIGKILL)");
    dir_opt(stop);
    stop->add_option("process", a->process, "The process (as lab status names it)")->required();
    stop->add_flag("--kill", a->kill, "SIGKILL instead of SIGTERM (a crash)");
    stop->callback([a] { cmd_stop_one(*a); });

    auto* start = lab->add_subcommand("start", "Start a stopped process of the lab again");
    dir_opt(start);
    start->add_option("process", a->process, "The process (as lab status names it)")->required();
    start->callback([a] { cmd_start_one(*a); });

    auto* status =
        lab->add_subcommand("status", "Processes, ports and each zone's serial at every hop");
    dir_opt(status);
    status->add_flag("--json", a->json_out, "JSON with every path, port, key file and serial");
    status->callback([a] { cmd_status(*a); });

    auto* logs = lab->add_subcommand("logs", "The end of the logs (one process, or all)");
    dir_opt(logs);
    logs->add_option("process", a->process, "A process name (see lab status), e.g. p1-signer");
    logs->add_option("-n,--lines", a->lines, "Lines per log (default 40 for one, 8 for all)");
    logs->callback([a] { cmd_logs(*a); });

    auto* edit = lab->add_subcommand(
        "edit", "Change a zone at its primary: the file, a serial bump and a reload (then wait)");
    dir_opt(edit);
    edit->add_option("--zone", a->zone, "example.lab. (default) or lab.");
    edit->add_option("--add", a->add, "A record to add: 'NAME [TTL] [IN] TYPE RDATA' (repeatable)");
    edit->add_option("--delete", a->del, "Records to delete: 'NAME [TYPE [RDATA]]' (repeatable)");
    edit->add_option("--hsync-state", a->hsync,
                     "Set a provider's HSYNC State: pN=on|off (repeatable)");
    edit->add_option("--add-provider", a->add_provider,
                     "Start spare provider K and add it to the zone: HSYNC ON, ns.pK A "
                     "(repeatable)");
    edit->add_option("--offboard", a->offboard, "Set provider K's HSYNC State to OFF (repeatable)");
    edit->add_option("--nsmgmt", a->nsmgmt, "Set every HSYNC record's NSMgmt: owner|agent");
    edit->add_flag("--no-wait", a->no_wait, "Do not wait until every hop serves the change");
    edit->add_option("--wait", a->wait, "Seconds to wait for every hop (default 60)")
        ->check(CLI::Range(1.0, 3600.0));
    edit->callback([a] { cmd_edit(*a); });

    auto* wait = lab->add_subcommand(
        "wait", "Wait until every agent's multi-signer process is done and every hop is in sync");
    dir_opt(wait);
    wait->add_option("--timeout", a->wait_timeout, "Seconds to wait (default 120)")
        ->check(CLI::Range(1.0, 3600.0));
    wait->callback([a] { cmd_wait(*a); });

    auto* follow = lab->add_subcommand(
        "follow",
        "The delegation follower (lab up starts it): Unbound's example.lab. stub follows the "
        "parent's NS set");
    dir_opt(follow);
    follow->callback([a] { cmd_follow(*a); });

    auto* probe = lab->add_subcommand(
        "probe",
        "Resolve names through the lab's Unbound, count RCODEs, show every SERVFAIL's reason");
    dir_opt(probe);
    probe->add_option("--names", a->names,
                      std::string("name[/TYPE],... (default ") + default_probe_names + ")");
    probe->add_option("--interval", a->interval_ms, "Milliseconds between rounds (default 200)")
        ->check(CLI::Range(1, 600000));
    probe
        ->add_option(
            "--duration", a->duration,
            "Seconds to run (default 10; SIGTERM or SIGINT ends it early, with the summary)")
        ->check(CLI::Range(0.0, 86400.0));
    probe->add_flag("--require-ad", a->require_ad,
                    "Also fail on an answer that is not validated (no AD)");
    probe->add_flag("--json", a->json_out, "A JSON summary instead of the table");
    probe->callback([a] { cmd_probe(*a); });
}

}  // namespace hsync::cmd
