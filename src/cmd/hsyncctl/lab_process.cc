// Starting, checking and stopping the lab's processes, its ports and its state file
// (docs/lab.md "Processes"). A process is only ever signalled after /proc shows that its
// recorded PID still runs the recorded command line, started at the recorded time: a PID
// reused by another program is never killed.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/hsyncctl/lab.h"

namespace hsync::cmd::lab {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string default_lab_dir() {
    if (const char* d = std::getenv("HSYNC_LAB_DIR"); d && *d) return d;
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x)
        return std::string(x) + "/hsync/lab";
    if (const char* h = std::getenv("HOME"); h && *h)
        return std::string(h) + "/.local/state/hsync/lab";
    return "/tmp/hsync-lab-" + std::to_string(::getuid());
}

std::string state_path(const std::string& dir) {
    return dir + "/lab.json";
}
std::string marker_path(const std::string& dir) {
    return dir + "/.hsync-lab";
}

namespace {

bool executable(const std::string& p) {
    return !p.empty() && ::access(p.c_str(), X_OK) == 0;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct proc_stat {
    char state = '?';
    unsigned long long start_time = 0;
};

// /proc/PID/stat: "pid (comm) S ppid ... starttime(22) ..."; comm may hold spaces and
// parentheses, so fields are counted from the last ')'.
std::optional<proc_stat> read_stat(long pid) {
    std::string s = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close = s.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream in(s.substr(close + 1));
    proc_stat st;
    in >> st.state;
    std::string field;
    for (int i = 4; i < 22 && in >> field; ++i) {
    }
    if (!(in >> st.start_time)) return std::nullopt;
    return st;
}

std::string joined_argv(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        out += a;
        out += '\0';
    }
    return out;
}

}  // namespace

std::string find_hsyncd() {
    if (const char* e = std::getenv("HSYNCD"); e && *e) {
        if (!executable(e)) throw lab_error(std::string("HSYNCD=") + e + " is not an executable");
        return fs::absolute(e).string();
    }
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto p = (self.parent_path() / "hsyncd").string();
        if (executable(p)) return p;
    }
    throw lab_error("cannot find hsyncd next to hsyncctl (" + self.parent_path().string() +
                    "); build it (scripts/build) or set HSYNCD");
}

std::string find_unbound() {
    if (const char* e = std::getenv("HSYNC_UNBOUND"); e && *e) {
        if (!executable(e))
            throw lab_error(std::string("HSYNC_UNBOUND=") + e + " is not an executable");
        return fs::absolute(e).string();
    }
    std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
    path += ":/usr/sbin:/usr/local/sbin:/sbin";
    std::istringstream in(path);
    std::string dir;
    while (std::getline(in, dir, ':'))
        if (!dir.empty() && executable(dir + "/unbound"))
            return fs::absolute(dir + "/unbound").string();
    throw lab_error("unbound is not installed (Debian package \"unbound\"): run scripts/setup");
}

std::string find_unbound_control(const std::string& unbound) {
    if (const char* e = std::getenv("HSYNC_UNBOUND_CONTROL"); e && *e) {
        if (!executable(e))
            throw lab_error(std::string("HSYNC_UNBOUND_CONTROL=") + e + " is not an executable");
        return fs::absolute(e).string();
    }
    // The one that belongs to that unbound first (both come with Debian's "unbound").
    auto beside = (fs::path(unbound).parent_path() / "unbound-control").string();
    if (executable(beside)) return beside;
    std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
    path += ":/usr/sbin:/usr/local/sbin:/sbin";
    std::istringstream in(path);
    std::string dir;
    while (std::getline(in, dir, ':'))
        if (!dir.empty() && executable(dir + "/unbound-control"))
            return fs::absolute(dir + "/unbound-control").string();
    throw lab_error(
        "unbound-control is not installed (Debian package \"unbound\"): run scripts/setup, or "
        "set HSYNC_UNBOUND_CONTROL");
}

std::string find_hsyncctl() {
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) throw lab_error("cannot find this program (/proc/self/exe): " + ec.message());
    return self.string();
}

void save_state(const lab_state& st) {
    write_file_atomic(state_path(st.dir), st.to_json().dump(2) + "\n", 0600);
}

std::optional<lab_state> load_state(const std::string& dir) {
    std::string path = state_path(dir);
    std::error_code ec;
    if (!fs::exists(path, ec)) return std::nullopt;
    std::string text = read_file(path);
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw lab_error(path +
                        " is not a lab state file (not JSON); remove it by hand if no lab runs");
    return lab_state::from_json(j);
}

void spawn(process_entry& p, const std::function<void()>& record) {
    // Everything the child needs is prepared before fork: after it, only async-signal-safe
    // calls.
    std::vector<char*> argv;
    for (auto& a : p.argv)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    int log_fd = ::open(p.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) throw lab_error("cannot open " + p.log + ": " + std::strerror(errno));
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int go[2], err[2];
    if (null_fd < 0 || ::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
        ::close(log_fd);
        throw lab_error(std::string("cannot start ") + p.name + ": " + std::strerror(errno));
    }
    const char* dir = p.dir.c_str();
    pid_t pid = ::fork();
    if (pid < 0) {
        int e = errno;
        ::close(log_fd), ::close(null_fd), ::close(go[0]), ::close(go[1]), ::close(err[0]),
            ::close(err[1]);
        throw lab_error(std::string("cannot start ") + p.name + ": fork: " + std::strerror(e));
    }
    if (pid == 0) {
        ::setsid();  // its own session: no terminal, its own process group
        ::dup2(null_fd, 0);
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        // Wait until the parent has recorded our PID; if the parent died first, give up.
        char c;
        ssize_t n;
        do {
            n = ::read(go[0], &c, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) ::_exit(126);
        if (::chdir(dir) == 0) ::execv(argv[0], argv.data());
        int e = errno;
        [[maybe_unused]] ssize_t w = ::write(err[1], &e, sizeof e);
        ::_exit(127);
    }
    ::close(log_fd), ::close(null_fd), ::close(go[0]), ::close(err[1]);
    p.pid = pid;
    if (auto s = read_stat(pid)) p.start_time = s->start_time;
    try {
        record();
    } catch (...) {
        ::close(go[1]);  // the child sees EOF and exits without running anything
        ::close(err[0]);
        ::waitpid(pid, nullptr, 0);
        p.pid = 0;
        throw;
    }
    [[maybe_unused]] ssize_t w = ::write(go[1], "g", 1);
    ::close(go[1]);
    int e = 0;
    ssize_t n;
    do {
        n = ::read(err[0], &e, sizeof e);  // EOF (0) when exec succeeded (CLOEXEC)
    } while (n < 0 && errno == EINTR);
    ::close(err[0]);
    if (n == static_cast<ssize_t>(sizeof e)) {
        ::waitpid(pid, nullptr, 0);
        throw lab_error("cannot run " + p.argv[0] + ": " + std::strerror(e));
    }
}

bool is_running(const process_entry& p) {
    if (p.pid <= 0) return false;
    // Our own children (during `up`) are reaped here, so that they do not stay zombies.
    ::waitpid(static_cast<pid_t>(p.pid), nullptr, WNOHANG);
    auto st = read_stat(p.pid);
    if (!st || st->state == 'Z' || st->state == 'X' || st->state == 'x') return false;
    if (p.start_time != 0 && st->start_time != p.start_time) return false;
    return read_file("/proc/" + std::to_string(p.pid) + "/cmdline") == joined_argv(p.argv);
}

stop_report stop_processes(const std::vector<process_entry>& ps, std::chrono::milliseconds grace,
                           const reporter& say) {
    stop_report rep;
    std::vector<const process_entry*> signalled;
    for (auto it = ps.rbegin(); it != ps.rend(); ++it) {
        const auto& p = *it;
        if (p.pid <= 0) continue;
        if (!is_running(p)) {
            // Gone already (crashed, or stopped by hand), or the PID now belongs to another
            // program: either way nothing of ours to stop.
            auto st = read_stat(p.pid);
            bool alive_other = st && st->state != 'Z' && st->state != 'X';
            if (alive_other) {
                ++rep.foreign;
                if (say)
                    say("  " + p.name + ": pid " + std::to_string(p.pid) +
                        " now runs another program; left alone");
            } else {
                ++rep.gone;
                if (say)
                    say("  " + p.name + ": pid " + std::to_string(p.pid) + " had already exited");
            }
            continue;
        }
        ::kill(static_cast<pid_t>(p.pid), SIGTERM);
        signalled.push_back(&p);
    }
    auto wait_all = [&](std::chrono::milliseconds limit) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (std::none_of(signalled.begin(), signalled.end(),
                             [](const process_entry* p) { return is_running(*p); }))
                return;
            std::this_thread::sleep_for(50ms);
        }
    };
    wait_all(grace);
    for (const auto* p : signalled) {
        if (is_running(*p)) {
            ::kill(static_cast<pid_t>(p->pid), SIGKILL);
            ++rep.killed;
            if (say)
                say("  " + p->name + ": pid " + std::to_string(p->pid) + " did not stop within " +
                    std::to_string(grace.count()) + " ms; killed (SIGKILL)");
        } else {
            ++rep.stopped;
        }
    }
    if (rep.killed) wait_all(3000ms);
    return rep;
}

bool port_free(uint16_t port) {
    for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
        int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
        if (fd < 0) return false;
        int one = 1;
        // As the servers bind (SO_REUSEADDR): a TIME_WAIT connection does not block them.
        if (type == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        if (rc == 0 && type == SOCK_STREAM) rc = ::listen(fd, 1);
        ::close(fd);
        if (rc != 0) return false;
    }
    return true;
}

std::vector<uint16_t> pick_ports(size_t n) {
    unsigned lo = 32768;  // Linux default, if /proc says nothing
    {
        std::istringstream in(read_file("/proc/sys/net/ipv4/ip_local_port_range"));
        unsigned a = 0, b = 0;
        if (in >> a >> b && a > 1024) lo = a;
    }
    // Below the ephemeral range an outgoing connection never takes a port between our
    // check and the server's bind. If that range starts too low, use the top of the space.
    unsigned first = 10000, last = lo > first + n + 100 ? lo - static_cast<unsigned>(n)
                                                        : 65535 - static_cast<unsigned>(n);
    if (last <= first) first = 1025;
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<unsigned> dist(first, last);
    for (int attempt = 0; attempt < 200; ++attempt) {
        unsigned base = dist(rng);
        std::vector<uint16_t> out;
        for (size_t i = 0; i < n && port_free(static_cast<uint16_t>(base + i)); ++i)
            out.push_back(static_cast<uint16_t>(base + i));
        if (out.size() == n) return out;
    }
    throw lab_error("no block of " + std::to_string(n) + " free ports found on 127.0.0.1");
}

bool tcp_connects(uint16_t port, std::chrono::milliseconds timeout) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    bool ok = rc == 0;
    if (rc != 0 && errno == EINPROGRESS) {
        pollfd pfd{fd, POLLOUT, 0};
        if (::poll(&pfd, 1, static_cast<int>(timeout.count())) == 1) {
            int err = 0;
            socklen_t len = sizeof err;
            ok = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
        }
    }
    ::close(fd);
    return ok;
}

std::string tail_file(const std::string& path, size_t lines) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    // Read at most the last 1 MiB: logs grow without bound.
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    std::streamoff start = std::max<std::streamoff>(0, size - (1 << 20));
    in.seekg(start);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::deque<std::string> last;
    std::istringstream ss(text);
    std::string line;
    bool first = start > 0;  // a cut first line is dropped
    while (std::getline(ss, line)) {
        if (first) {
            first = false;
            continue;
        }
        last.push_back(line);
        if (last.size() > lines) last.pop_front();
    }
    std::string out;
    for (const auto& l : last)
        out += l + "\n";
    return out;
}

}  // namespace hsync::cmd::lab
