// hsyncctl combiner data NAME [--json]: the agent data a running combiner holds for a
// zone, per RRset with when and by which key it last changed (GET /zones/NAME/agent-data).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "api/management.h"
#include "cmd/hsyncctl/cli_output.h"
#include "cmd/hsyncctl/commands.h"

namespace hsync::cmd {
namespace {

using json = nlohmann::json;

struct combiner_args {
    std::string server;  // empty: from -c CONFIG, else 127.0.0.1:8053
    std::string zone;
    bool json_out = false;
};

}  // namespace

void add_combiner_commands(CLI::App& app) {
    auto a = std::make_shared<combiner_args>();
    if (const char* env = std::getenv("HSYNC_SERVER"); env && *env) a->server = env;
    auto* combiner = app.add_subcommand("combiner", "Talk to a running hsyncd combiner");
    combiner->require_subcommand(1);
    auto* data = combiner->add_subcommand("data", "The agent data a combiner holds for a zone");
    data->add_option("name", a->zone, "Zone name")->required();
    data->add_option("--server", a->server, "hsyncd management address ADDR:PORT")
        ->envname("HSYNC_SERVER");
    add_key_option(data);
    data->add_flag("--json", a->json_out, "Print the API's JSON");
    CLI::App* root = &app;
    data->callback([a, root, data] {
        // `hsyncctl --server ADDR combiner data ...`: the top-level option (status, zone ...).
        inherit_server(*root, *data, a->server);
        json j = api_call(a->server, "GET", zone_api_path(a->zone) + "/agent-data");
        if (a->json_out) {
            std::printf("%s\n", j.dump(2, ' ', false, json::error_handler_t::replace).c_str());
            return;
        }
        std::printf("zone           %s\nowner serial   %s\nserved serial  %s\nNS managed by  %s\n",
                    json_text(j["zone"]).c_str(), json_text(j["owner_serial"]).c_str(),
                    json_text(j["served_serial"]).c_str(), json_text(j["ns_management"]).c_str());
        if (!j["rrsets"].is_array() || j["rrsets"].empty()) {
            std::printf("no agent data\n");
            return;
        }
        for (const auto& s : j["rrsets"]) {
            std::printf("\n%s: %zu records, changed %s by %s%s\n", json_text(s["type"]).c_str(),
                        s["records"].is_array() ? s["records"].size() : 0,
                        json_text(s["changed_at_text"]).c_str(), json_text(s["changed_by"]).c_str(),
                        s["applied"] == false ? " (kept, not applied: NSMgmt is OWNER)" : "");
            if (s["records"].is_array())
                for (const auto& rec : s["records"])
                    std::printf("  %s\n", json_text(rec).c_str());
        }
    });
}

}  // namespace hsync::cmd
