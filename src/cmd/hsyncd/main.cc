// hsyncd: the hsync daemon. One process runs one role (docs/architecture.md).
//
//   hsyncd -c CONFIG.yaml           run
//   hsyncd -c CONFIG.yaml --check   check the configuration and the files it names, exit
//
// Exit status: 0 stopped cleanly (SIGTERM/SIGINT) or config OK, 1 failed at run time
// (e.g. an address in use) or --check found problems, 2 bad command line or configuration
// (nothing was started).
// SIGHUP reloads the configuration and the zones; a bad new configuration is logged and
// the daemon keeps running on the old one.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "api/management.h"
#include "cmd/hsyncd/config.h"
#include "cmd/hsyncd/config_check.h"
#include "cmd/hsyncd/roles.h"
#include "net/asio.h"
#include "zone/log.h"

namespace {

using namespace hsync;
namespace asio = net::asio;

constexpr const char* version = "0.1.0";

double epoch_seconds() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

log::level level_of(const std::string& text) {
    log::level l = log::level::info;
    log::parse_level(text, l);  // validated by the config parser
    return l;
}

std::string listen_text(const hsyncd::config& cfg) {
    std::string out;
    for (const auto& e : cfg.listen)
        out += (out.empty() ? "" : ",") + e.to_string();
    return out;
}

// The running daemon: configuration, role, management API and signal handling, all on
// one io_context (single-threaded: the role is only touched from the loop thread).
class server_process {
  public:
    server_process(asio::io_context& io, hsyncd::config cfg)
        : io_(io), cfg_(std::move(cfg)), signals_(io, SIGTERM, SIGINT, SIGHUP) {}

    int start() {
        try {
            role_ = hsyncd::make_role(cfg_, io_);
        } catch (const std::exception& e) {
            log::error("start_failed", {{"error", e.what()}});
            return 1;
        }
        api::management_options opts;
        try {
            // Before the port opens, so a client that can connect finds the key in place.
            bool created = false;
            opts.key = api::load_or_create_management_key(cfg_.management_key_file, &created);
            log::info("management_key", {{"file", cfg_.management_key_file}, {"created", created}});
        } catch (const std::exception& e) {
            log::error("start_failed", {{"what", "management key"}, {"error", e.what()}});
            hsyncd::stop_role(*role_);
            return 1;
        }
        opts.endpoint = asio::ip::tcp::endpoint(cfg_.management.address, cfg_.management.port);
        opts.info.version = version;
        opts.info.started_at = epoch_seconds();
        opts.info.pid = static_cast<long>(::getpid());
        opts.info.now = epoch_seconds;
        try {
            management_ = std::make_unique<api::management_server>(io_, *role_, opts);
        } catch (const std::exception& e) {
            log::error("start_failed", {{"what", "management"},
                                        {"address", cfg_.management.to_string()},
                                        {"error", e.what()}});
            hsyncd::stop_role(*role_);
            return 1;
        }
        wait_for_signal();
        log::info("started", {{"version", version},
                              {"pid", static_cast<long>(::getpid())},
                              {"listen", listen_text(cfg_)},
                              {"management", cfg_.management.to_string()},
                              {"zones", cfg_.zones.size()}});
        return 0;
    }

  private:
    void wait_for_signal() {
        signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                reload();
                wait_for_signal();
                return;
            }
            log::info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
            if (management_) management_->stop();
            if (role_) hsyncd::stop_role(*role_);
            io_.stop();
        });
    }

    void reload() {
        log::info("reload_started", {{"config", cfg_.file}});
        hsyncd::config next;
        try {
            next = hsyncd::load_config(cfg_.file);
        } catch (const hsyncd::config_error& e) {
            log::error("reload_failed",
                       {{"error", e.what()}, {"action", "kept the running configuration"}});
            return;
        }
        if (next.role != cfg_.role) {
            log::error("reload_failed",
                       {{"error", "role cannot change from " + cfg_.role + " to " + next.role +
                                      " while running; restart hsyncd"},
                        {"action", "kept the running configuration"}});
            return;
        }
        if (!(next.management == cfg_.management))
            log::warn("restart_needed", {{"key", "management"},
                                         {"running", cfg_.management.to_string()},
                                         {"configured", next.management.to_string()}});
        // A changed or rotated key applies to the next request; a bad one keeps the old.
        try {
            if (management_)
                management_->set_key(api::load_or_create_management_key(next.management_key_file));
        } catch (const std::exception& e) {
            log::error("management_key_failed",
                       {{"error", e.what()}, {"action", "kept the running key"}});
        }
        std::string err = hsyncd::reconfigure_role(*role_, cfg_, next);
        if (!err.empty()) {
            log::error("reload_failed",
                       {{"error", err}, {"action", "kept the running configuration"}});
            return;
        }
        if (next.log_level != cfg_.log_level || next.log_file != cfg_.log_file) {
            try {
                log::setup(next.role, level_of(next.log_level), next.log_file);
            } catch (const std::exception& e) {
                log::error("log_file_failed", {{"file", next.log_file}, {"error", e.what()}});
            }
        }
        auto keep_management = cfg_.management;
        cfg_ = std::move(next);
        cfg_.management = keep_management;  // what is really bound
        log::info("reload_done", {{"zones", cfg_.zones.size()}});
    }

    asio::io_context& io_;
    hsyncd::config cfg_;
    asio::signal_set signals_;
    std::unique_ptr<roles::role> role_;
    std::unique_ptr<api::management_server> management_;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"hsyncd: the hsync daemon (one role per process)"};
    std::string config_file;
    bool check = false;
    app.add_option("-c,--config", config_file, "Configuration file (YAML)");
    app.add_flag("--check", check,
                 "Check the configuration and the zone and key files it names, report every "
                 "problem, and exit (1 if there are any); binds nothing, opens no database");
    app.set_version_flag("-V,--version", std::string("hsyncd ") + version);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    if (config_file.empty()) {
        std::fprintf(stderr, "hsyncd: -c CONFIG.yaml is required (see --help)\n");
        return 2;
    }

    if (check) {
        auto r = hsyncd::check_config(config_file);
        for (const auto& p : r.problems)
            std::fprintf(stderr, "%s\n", p.c_str());
        if (!r.problems.empty()) {
            std::fprintf(stderr, "hsyncd: %s: %zu problem%s\n", config_file.c_str(),
                         r.problems.size(), r.problems.size() == 1 ? "" : "s");
            return 1;
        }
        std::printf("%s: OK (role %s, %zu zone%s)\n", config_file.c_str(), r.cfg.role.c_str(),
                    r.cfg.zones.size(), r.cfg.zones.size() == 1 ? "" : "s");
        return 0;
    }

    hsyncd::config cfg;
    try {
        cfg = hsyncd::load_config(config_file);
    } catch (const hsyncd::config_error& e) {
        std::fprintf(stderr, "hsyncd: %s\n", e.what());
        return 2;
    }
    if (!hsyncd::role_implemented(cfg.role)) {
        std::fprintf(stderr, "hsyncd: %s: role: \"%s\" is not implemented yet\n",
                     config_file.c_str(), cfg.role.c_str());
        return 2;
    }
    try {
        log::setup(cfg.role, level_of(cfg.log_level), cfg.log_file);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hsyncd: %s: log-file: cannot open \"%s\": %s\n", config_file.c_str(),
                     cfg.log_file.c_str(), e.what());
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);

    asio::io_context io(1);
    int rc = 0;
    {
        server_process d(io, std::move(cfg));
        rc = d.start();
        if (rc == 0) {
            try {
                io.run();
            } catch (const std::exception& e) {
                // Handlers should never throw; if one does, stop loudly rather than limp on.
                log::error("fatal", {{"error", e.what()}});
                rc = 1;
            }
        }
    }
    if (rc == 0) log::info("stopped");
    return rc;
}
