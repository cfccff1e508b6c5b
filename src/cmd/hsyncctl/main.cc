// hsyncctl: offline DNS tools and, later, the client of running hsyncd daemons.
#include <cstdio>
#include <exception>

#include "cmd/hsyncctl/commands.h"
#include "dns/error.h"

int main(int argc, char** argv) {
    CLI::App app{"hsyncctl: tools for hsync, the distributed DNSSEC multi-signer"};
    app.set_version_flag("--version", "hsyncctl 0.1.0");
    app.require_subcommand(1);
    hsync::cmd::add_zone_commands(app);
    hsync::cmd::add_zone_daemon_commands(*app.get_subcommand("zone"));
    hsync::cmd::add_daemon_commands(app);
    hsync::cmd::add_rr_command(app);
    hsync::cmd::add_keygen_command(app);
    hsync::cmd::add_tsig_commands(app);
    hsync::cmd::add_combiner_commands(app);
    hsync::cmd::add_agent_commands(app);
    hsync::cmd::add_parent_commands(app);
    hsync::cmd::add_lab_commands(app);
    hsync::cmd::add_resolve_command(app);
    hsync::cmd::add_config_commands(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const hsync::dns::dns_error& e) {
        std::fprintf(stderr, "hsyncctl: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hsyncctl: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
