// The delegation follower (docs/lab.md "The delegation follower"): `hsyncctl lab follow`,
// a process of the lab. Every server of the lab shares 127.0.0.1 on its own port, so
// Unbound cannot follow a real referral to ns.pN.example.lab.; it reaches example.lab.
// through a stub zone instead. This process makes that stub do what a referral would: it
// polls the parent's signer for the NS set of example.lab. and, when the set changes,
// points the stub at those providers' auth servers (unbound-control stub_add, which
// replaces the stub in place: Unbound's hints_add_stub deletes the old one first) and
// flushes what Unbound learnt through the old set.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/hsyncctl/lab.h"
#include "dns/error.h"

namespace hsync::cmd::lab {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr auto poll_interval = 200ms;

// One logfmt line (as hsyncd writes them) on stdout, which is the follower's log.
void log_line(const char* level, const std::string& event, const std::string& fields) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    std::tm tm{};
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    std::printf("%s.%03ldZ level=%s role=delegation-follower event=%s%s%s\n", when,
                ts.tv_nsec / 1000000, level, event.c_str(), fields.empty() ? "" : " ",
                fields.c_str());
    std::fflush(stdout);
}

// A logfmt value: quoted when it holds a space, a quote or '='.
std::string lf(const std::string& v) {
    if (!v.empty() && v.find_first_of(" \"=\\") == std::string::npos) return v;
    std::string out = "\"";
    for (char c : v) {
        if (c == '"' || c == '\\') out += '\\';
        out += c == '\n' ? ' ' : c;
    }
    return out + "\"";
}

std::string joined(const std::vector<std::string>& v, const char* sep = " ") {
    std::string out;
    for (const auto& x : v)
        out += (out.empty() ? "" : sep) + x;
    return out;
}

struct run_result {
    int status = -1;  // exit status; -1: did not run or was killed
    std::string output;
};

// Runs argv (no shell), stdout and stderr captured, killed after `timeout`.
run_result run_program(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    run_result res;
    std::vector<char*> argv;
    std::vector<std::string> copy = args;
    for (auto& a : copy)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
        res.output = std::string("pipe: ") + std::strerror(errno);
        return res;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        res.output = std::string("fork: ") + std::strerror(errno);
        ::close(out[0]), ::close(out[1]);
        return res;
    }
    if (pid == 0) {
        int null_fd = ::open("/dev/null", O_RDONLY);
        if (null_fd >= 0) ::dup2(null_fd, 0);
        ::dup2(out[1], 1);
        ::dup2(out[1], 2);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(out[1]);
    auto deadline = clock_type::now() + timeout;
    char buf[4096];
    for (;;) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
        if (left.count() <= 0) {
            ::kill(pid, SIGKILL);
            res.output += " (killed after " + std::to_string(timeout.count()) + " ms)";
            break;
        }
        pollfd pfd{out[0], POLLIN, 0};
        int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) continue;
        ssize_t got = ::read(out[0], buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        res.output.append(buf, static_cast<size_t>(got));
    }
    ::close(out[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) res.status = WEXITSTATUS(status);
    while (!res.output.empty() && (res.output.back() == '\n' || res.output.back() == ' '))
        res.output.pop_back();
    return res;
}

class follower {
  public:
    explicit follower(lab_state st) : st_(std::move(st)) {
        parent_signer_ = st_.find("parent-signer");
        resolver_ = st_.find("resolver");
        if (!parent_signer_ || !resolver_) throw lab_error("the lab has no parent-signer/resolver");
        if (st_.unbound_control.empty()) throw lab_error("lab.json names no unbound-control");
        for (const auto& p : st_.processes)
            if (p.role == "auth" && p.provider > 0) {
                port_of_[provider_nameserver(p.provider)] = p.dns_port;
                name_of_[p.dns_port] = provider_nameserver(p.provider);
            }
    }

    int run() {
        // Where the stub points now: what Unbound's configuration says (written at up with
        // the providers in the parent's delegation then, and by this process since).
        for (uint16_t port : configured_stub_ports(resolver_->config)) {
            auto it = name_of_.find(port);
            current_.push_back(it == name_of_.end() ? "127.0.0.1@" + std::to_string(port)
                                                    : it->second);
        }
        std::sort(current_.begin(), current_.end());
        log_line("info", "start",
                 "zone=" + std::string(child_zone) + " parent=127.0.0.1:" +
                     std::to_string(parent_signer_->dns_port) + " stub=" + lf(joined(current_)) +
                     " servers=" + lf(joined(addresses(current_))) +
                     " interval_ms=" + std::to_string(poll_interval.count()));
        auto next = clock_type::now();
        for (;;) {
            poll_once();
            next += poll_interval;
            auto now = clock_type::now();
            if (next < now) next = now;
            std::this_thread::sleep_until(next);
        }
    }

  private:
    std::vector<std::string> addresses(const std::vector<std::string>& names) const {
        std::vector<std::string> out;
        for (const auto& n : names) {
            auto it = port_of_.find(n);
            out.push_back(it == port_of_.end() ? n : "127.0.0.1@" + std::to_string(it->second));
        }
        return out;
    }

    // Logs a problem once until it changes or clears (the loop runs five times a second).
    void problem(const std::string& event, const std::string& fields) {
        std::string key = event + " " + fields;
        if (key == last_problem_) return;
        last_problem_ = key;
        log_line("warn", event, fields);
    }

    void poll_once() {
        std::optional<std::vector<std::string>> ns;
        try {
            ns = delegation_ns(parent_signer_->dns_port, child_zone, 1000ms);
        } catch (const std::exception& e) {
            problem("query_failed", "error=" + lf(e.what()));
            return;
        }
        if (!ns) {
            problem("no_delegation", "zone=" + std::string(child_zone) + " parent=127.0.0.1:" +
                                         std::to_string(parent_signer_->dns_port));
            return;
        }
        std::vector<std::string> want, unknown;
        for (const auto& n : *ns)
            (port_of_.count(n) ? want : unknown).push_back(n);
        if (!unknown.empty())
            problem("unknown_nameservers",
                    "names=" + lf(joined(unknown)) + " note=\"not a lab provider's; left out\"");
        if (want.empty()) {
            problem("no_lab_nameserver", "ns=" + lf(joined(*ns)) + " note=\"stub kept\"");
            return;
        }
        if (want == current_) {
            if (unknown.empty()) last_problem_.clear();
            return;
        }
        std::string error;
        if (!apply(want, error)) {
            problem("stub_failed", "old=" + lf(joined(current_)) + " new=" + lf(joined(want)) +
                                       " error=" + lf(error));
            return;  // tried again at the next poll
        }
        log_line("info", "stub_changed",
                 "zone=" + std::string(child_zone) + " old=" + lf(joined(current_)) +
                     " new=" + lf(joined(want)) + " servers=" + lf(joined(addresses(want))));
        current_ = std::move(want);
        last_problem_.clear();
    }

    bool apply(const std::vector<std::string>& names, std::string& error) {
        std::vector<uint16_t> ports;
        for (const auto& n : names)
            ports.push_back(port_of_.at(n));
        // The file first: an Unbound started later (lab start resolver) reads the same.
        try {
            write_file_atomic(resolver_->config, unbound_config(st_, *resolver_, ports));
        } catch (const lab_error& e) {
            error = e.what();
            return false;
        }
        std::vector<std::string> base = {st_.unbound_control, "-c", resolver_->config};
        auto control = [&](std::vector<std::string> args) {
            std::vector<std::string> argv = base;
            argv.insert(argv.end(), args.begin(), args.end());
            auto r = run_program(argv, 5000ms);
            if (r.status != 0 || r.output.rfind("ok", 0) != 0) {
                error = joined(args) + ": " +
                        (r.output.empty() ? "exit status " + std::to_string(r.status) : r.output);
                return false;
            }
            return true;
        };
        std::vector<std::string> stub = {"stub_add", std::string(child_zone)};
        for (uint16_t port : ports)
            stub.push_back("127.0.0.1@" + std::to_string(port));
        // Then Unbound forgets what it learnt from the old servers: their infrastructure
        // entries (RTT, lameness) and the zone's cached data and keys.
        return control(stub) && control({"flush_infra", "all"}) &&
               control({"flush_zone", std::string(child_zone)});
    }

    lab_state st_;
    const process_entry* parent_signer_ = nullptr;
    const process_entry* resolver_ = nullptr;
    std::map<std::string, uint16_t> port_of_;  // ns.pN.example.lab. -> pN-auth's DNS port
    std::map<uint16_t, std::string> name_of_;
    std::vector<std::string> current_;  // the NS names the stub points at, sorted
    std::string last_problem_;
};

}  // namespace

// The follower rewrites Unbound's configuration with every change (so that a restarted
// Unbound agrees), so the file says what the stub holds.
std::vector<uint16_t> configured_stub_ports(const std::string& config) {
    std::ifstream in(config);
    std::string line;
    bool in_child = false;
    std::vector<uint16_t> ports;
    const std::string child_name = "name: \"" + std::string(child_zone) + "\"";
    while (std::getline(in, line)) {
        std::string t = line.substr(std::min(line.size(), line.find_first_not_of(" \t")));
        if (t.rfind("stub-zone:", 0) == 0 || t.rfind("remote-control:", 0) == 0 ||
            t.rfind("server:", 0) == 0)
            in_child = false;
        else if (t == child_name)
            in_child = true;
        else if (in_child && t.rfind("stub-addr: 127.0.0.1@", 0) == 0) {
            try {
                ports.push_back(static_cast<uint16_t>(std::stoul(t.substr(21))));
            } catch (const std::exception&) {  // not written by the lab: not a port
            }
        }
    }
    return ports;
}

int run_follower(const std::string& dir) {
    try {
        auto st = load_state(dir);
        if (!st) throw lab_error("no lab in " + dir);
        follower f(std::move(*st));
        return f.run();
    } catch (const lab_error& e) {
        log_line("error", "stopped", "error=" + lf(e.what()));
        return 1;
    } catch (const dns::dns_error& e) {
        log_line("error", "stopped", "error=" + lf(e.what()));
        return 1;
    }
}

}  // namespace hsync::cmd::lab
