// The sub-commands of hsyncctl; each file adds its own to the CLI11 application.
#pragma once

#include <CLI/CLI.hpp>

namespace hsync::cmd {

void add_zone_commands(CLI::App& app);          // zone check | print
void add_zone_sign_commands(CLI::App& zone);    // zone sign | verify
void add_rr_command(CLI::App& app);             // rr: HSYNC <-> RFC 3597 form
void add_keygen_command(CLI::App& app);         // keygen, keyinfo
void add_daemon_commands(CLI::App& app);        // status, --server (talks to a running hsyncd)
void add_zone_daemon_commands(CLI::App& zone);  // zone list | show | reload | notify
void add_tsig_commands(CLI::App& app);
void add_combiner_commands(CLI::App& app);  // combiner data NAME
void add_agent_commands(CLI::App& app);     // agent peers | zones | show ZONE | identity
void add_parent_commands(CLI::App& app);    // parent children | scan CHILD
void add_resolve_command(CLI::App& app);    // resolve NAME TYPE: DNSSEC-validated lookup
void add_lab_commands(CLI::App& app);       // lab up|down|status|logs|edit|probe (docs/lab.md)
void add_config_commands(CLI::App& app);    // config check FILE (runs hsyncd --check)

}  // namespace hsync::cmd
