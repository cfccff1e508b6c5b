#include "api/metrics.h"

#include <sys/resource.h>
#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

namespace hsync::api {
namespace {

bool name_char(char c, bool first, bool colon_ok) {
    bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
    return alpha || (!first && c >= '0' && c <= '9');
}

// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names the same without ':'.
std::string sanitize(const std::string& n, bool colon_ok) {
    std::string out = n.empty() ? "_" : n;
    for (size_t i = 0; i < out.size(); ++i)
        if (!name_char(out[i], i == 0, colon_ok)) out[i] = '_';
    return out;
}

void append_escaped(std::string& out, const std::string& s, bool quote_too) {
    for (char c : s) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && quote_too)
            out += "\\\"";
        else
            out += c;
    }
}

}  // namespace

std::string format_sample_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[40];
    if (v == std::floor(v) && std::fabs(v) < 1e15)
        std::snprintf(buf, sizeof buf, "%.0f", v);
    else
        std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

std::string format_prometheus(const std::vector<roles::metric>& metrics) {
    // Group by family, keeping the order in which names first appear.
    std::vector<std::string> order;
    std::map<std::string, std::vector<const roles::metric*>> families;
    for (const auto& m : metrics) {
        std::string n = sanitize(m.name, true);
        auto& f = families[n];
        if (f.empty()) order.push_back(n);
        f.push_back(&m);
    }
    std::string out;
    for (const auto& n : order) {
        const auto& f = families[n];
        const auto& first = *f.front();
        if (!first.help.empty()) {
            out += "# HELP " + n + " ";
            append_escaped(out, first.help, false);
            out += '\n';
        }
        std::string type = first.type;
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary")
            type = "untyped";
        out += "# TYPE " + n + " " + type + "\n";
        for (const auto* m : f) {
            out += n;
            if (!m->labels.empty()) {
                out += '{';
                bool sep = false;
                for (const auto& [k, v] : m->labels) {
                    if (sep) out += ',';
                    sep = true;
                    out += sanitize(k, false) + "=\"";
                    append_escaped(out, v, true);
                    out += '"';
                }
                out += '}';
            }
            out += ' ' + format_sample_value(m->value) + '\n';
        }
    }
    return out;
}

std::vector<roles::metric> process_metrics(double start_time) {
    std::vector<roles::metric> out;
    auto add = [&](const char* name, const char* help, const char* type, double v) {
        roles::metric m;
        m.name = name;
        m.help = help;
        m.type = type;
        m.value = v;
        out.push_back(std::move(m));
    };
    rusage ru{};
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
                     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
        add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
            "counter", cpu);
    }
    // /proc/self/statm: size resident ... in pages.
    std::ifstream statm("/proc/self/statm");
    unsigned long long size = 0, resident = 0;
    if (statm >> size >> resident) {
        double page = static_cast<double>(sysconf(_SC_PAGESIZE));
        add("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", size * page);
        add("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
            resident * page);
    }
    std::error_code ec;
    size_t fds = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
        ++fds;
    if (!ec && fds > 0)
        add("process_open_fds", "Number of open file descriptors.", "gauge",
            static_cast<double>(fds - 1));  // minus the directory iterator's own
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        add("process_max_fds", "Maximum number of open file descriptors.", "gauge",
            static_cast<double>(rl.rlim_cur));
    add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
        "gauge", start_time);
    return out;
}

}  // namespace hsync::api
