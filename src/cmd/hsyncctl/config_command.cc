// `hsyncctl config check FILE`: the daemon's own check (`hsyncd -c FILE --check`), so that
// what is accepted here is exactly what a start accepts; hsyncctl links no YAML parser.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "cmd/hsyncctl/commands.h"

namespace hsync::cmd {
namespace {

namespace fs = std::filesystem;

bool executable(const std::string& p) {
    return ::access(p.c_str(), X_OK) == 0;
}

// $HSYNCD, else the hsyncd beside this hsyncctl (build/bin), else the installed one.
std::string find_daemon() {
    if (const char* e = std::getenv("HSYNCD"); e && *e) return e;
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec && executable((self.parent_path() / "hsyncd").string()))
        return (self.parent_path() / "hsyncd").string();
    for (const char* p : {"/usr/sbin/hsyncd", "/usr/local/sbin/hsyncd"})
        if (executable(p)) return p;
    return {};
}

}  // namespace

void add_config_commands(CLI::App& app) {
    auto* config = app.add_subcommand("config", "hsyncd configuration files");
    config->require_subcommand(1);
    auto file = std::make_shared<std::string>();
    auto* check = config->add_subcommand(
        "check",
        "Check a configuration and the zone and key files it names (hsyncd -c FILE --check): "
        "every problem as FILE:LINE, exit 1 if there are any");
    check->add_option("file", *file, "Configuration file (YAML)")->required();
    check->callback([file] {
        std::string daemon = find_daemon();
        if (daemon.empty()) {
            std::fprintf(stderr,
                         "hsyncctl: cannot find hsyncd (beside hsyncctl or in /usr/sbin); "
                         "set HSYNCD\n");
            throw CLI::RuntimeError(2);
        }
        std::vector<char*> argv{daemon.data(), const_cast<char*>("-c"), file->data(),
                                const_cast<char*>("--check"), nullptr};
        std::fflush(nullptr);
        ::execv(daemon.c_str(), argv.data());
        std::fprintf(stderr, "hsyncctl: cannot run %s: %s\n", daemon.c_str(), std::strerror(errno));
        throw CLI::RuntimeError(2);
    });
}

}  // namespace hsync::cmd
