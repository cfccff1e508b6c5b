// hsyncctl agent peers [--json] | agent zones [--json] | agent show ZONE [--json] |
// agent process ZONE [--json] | agent discover PEER | agent identity: a running agent's
// relations with its peers (GET /agent/peers), its multi-signer zones and their negotiation
// (GET /agent/zones, /agent/zone/ZONE), the zone's multi-signer process (GET
// /agent/process/ZONE), and the keys it publishes (GET /agent/identity).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cmd/hsyncctl/cli_output.h"
#include "cmd/hsyncctl/commands.h"
#include "zone/text.h"

namespace hsync::cmd {
namespace {

using json = nlohmann::json;

struct agent_args {
    std::string server;  // empty: from -c CONFIG, else 127.0.0.1:8053
    std::string zone;
    bool json_out = false;
};

std::string dump(const json& j) {
    return j.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string list_text(const json& list) {
    if (!list.is_array() || list.empty()) return "-";
    std::string out;
    for (const auto& e : list)
        out += (out.empty() ? "" : ", ") + json_text(e);
    return out;
}

CLI::App* agent_subcommand(CLI::App* agent, const char* name, const char* help,
                           const std::shared_ptr<agent_args>& a) {
    auto* cmd = agent->add_subcommand(name, help);
    cmd->add_option("--server", a->server, "hsyncd management address ADDR:PORT")
        ->envname("HSYNC_SERVER");
    add_key_option(cmd);
    cmd->add_flag("--json", a->json_out, "Print the API's JSON");
    return cmd;
}

}  // namespace

void add_agent_commands(CLI::App& app) {
    auto a = std::make_shared<agent_args>();
    if (const char* env = std::getenv("HSYNC_SERVER"); env && *env) a->server = env;
    auto* agent = app.add_subcommand("agent", "Talk to a running hsyncd agent role");
    agent->require_subcommand(1);
    CLI::App* root = &app;

    auto* peers = agent_subcommand(agent, "peers", "One row per remote agent: state, transport", a);
    peers->callback([a, root, peers] {
        inherit_server(*root, *peers, a->server);
        json j = api_call(a->server, "GET", "/agent/peers");
        if (a->json_out) {
            std::printf("%s\n", dump(j["peers"]).c_str());
            return;
        }
        std::vector<std::vector<std::string>> rows{
            {"PEER", "STATE", "TRANSPORT", "ZONES", "LAST HELLO", "LAST BEAT", "REASON"}};
        for (const auto& p : j["peers"])
            rows.push_back({json_text(p["identity"]), json_text(p["state"]),
                            json_text(p["transport"]), json_text(p["zones"]),
                            json_text(p["last_hello"]), json_text(p["last_beat"]),
                            json_text(p["reason"])});
        if (rows.size() == 1) {
            std::printf("no peers (no zone names another agent)\n");
            return;
        }
        print_table(rows);
    });

    auto* zones = agent_subcommand(agent, "zones", "One row per multi-signer zone", a);
    zones->callback([a, root, zones] {
        inherit_server(*root, *zones, a->server);
        json j = api_call(a->server, "GET", "/agent/zones");
        if (a->json_out) {
            std::printf("%s\n", dump(j["zones"]).c_str());
            return;
        }
        std::vector<std::vector<std::string>> rows{
            {"ZONE", "STATE", "TRANSPORT", "SYNC", "PROCESS", "AGENTS", "ERROR"}};
        for (const auto& z : j["zones"]) {
            std::string process = json_text(z["process"]);
            if (process != "none" && z.contains("step"))
                process += " " + json_text(z["step"]) +
                           (json_text(z["process_status"]) == "failed" ? " failed" : "");
            rows.push_back({json_text(z["zone"]), json_text(z["state"]), json_text(z["transport"]),
                            json_text(z["sync"]), process, list_text(z["agents"]),
                            json_text(z["error"])});
        }
        if (rows.size() == 1) {
            std::printf("no multi-signer zones (no zone has an HSYNC RRset)\n");
            return;
        }
        print_table(rows);
    });

    auto* show = agent_subcommand(agent, "show", "One multi-signer zone in detail", a);
    show->add_option("zone", a->zone, "The zone")->required();
    show->callback([a, root, show] {
        inherit_server(*root, *show, a->server);
        json z = api_call(a->server, "GET", "/agent/zone/" + path_segment(a->zone));
        if (a->json_out) {
            std::printf("%s\n", dump(z).c_str());
            return;
        }
        std::printf("zone        %s\n", json_text(z["zone"]).c_str());
        std::printf("state       %s\n", json_text(z["state"]).c_str());
        if (!z["error"].is_null()) std::printf("error       %s\n", json_text(z["error"]).c_str());
        std::printf("transport   %s\nsync        %s\n", json_text(z["transport"]).c_str(),
                    json_text(z["sync"]).c_str());
        std::printf("nsmgmt      %s\nleader      %s (candidate)\n", json_text(z["nsmgmt"]).c_str(),
                    json_text(z["leader_candidate"]).c_str());
        std::printf("since       %s\n", json_text(z["since"]).c_str());
        std::printf("waiting for %s\n", list_text(z["waiting_for"]).c_str());
        std::printf("own keys    %s DNSKEY, %s CDS\n", json_text(z["own_keys"]["dnskey"]).c_str(),
                    json_text(z["own_keys"]["cds"]).c_str());
        for (size_t i = 0; i < z["hsync"].size(); ++i)
            std::printf("%s%s\n", i ? "            " : "hsync       ",
                        json_text(z["hsync"][i]).c_str());
        for (const auto& p : z["problems"])
            std::printf("problem     %s\n", json_text(p).c_str());
        std::vector<std::vector<std::string>> rows{
            {"PEER", "RELATION", "HELLO", "LAST", "NEXT TRY"}};
        for (const auto& p : z["peers"])
            rows.push_back({json_text(p["identity"]), json_text(p["state"]), json_text(p["hello"]),
                            json_text(p["last"]), json_text(p["next_try"])});
        if (rows.size() > 1) {
            std::printf("\n");
            print_table(rows);
        }
    });

    auto* process =
        agent_subcommand(agent, "process", "The zone's add/remove signer process, step by step", a);
    process->add_option("zone", a->zone, "The zone")->required();
    process->callback([a, root, process] {
        inherit_server(*root, *process, a->server);
        json p = api_call(a->server, "GET", "/agent/process/" + path_segment(a->zone));
        if (a->json_out) {
            std::printf("%s\n", dump(p).c_str());
            return;
        }
        std::printf("zone        %s\n", json_text(p["zone"]).c_str());
        std::printf("members     %s\n", list_text(p["members"]).c_str());
        std::printf("mode        %s\n", json_text(p["mode"]).c_str());
        if (!p["leader"].is_null())
            std::printf("leader      %s (term %s)\n", json_text(p["leader"]).c_str(),
                        json_text(p["term"]).c_str());
        if (json_text(p["process"]) == "none") {
            std::printf("process     none\n");
            return;
        }
        std::printf("process     %s (%s -> %s)\n", json_text(p["process"]).c_str(),
                    list_text(p["before"]).c_str(), list_text(p["after"]).c_str());
        std::printf("step        %s of %s: %s (%s)\n", json_text(p["step"]).c_str(),
                    json_text(p["steps"]).c_str(), json_text(p["step_name"]).c_str(),
                    json_text(p["status"]).c_str());
        std::printf("since       %s\n", p["since"].is_number_integer()
                                            ? zone::utc_text(p["since"].get<int64_t>()).c_str()
                                            : json_text(p["since"]).c_str());
        std::printf("waiting for %s\n", p["waiting_for"].get<std::string>().empty()
                                            ? "-"
                                            : json_text(p["waiting_for"]).c_str());
        if (!p["error"].get<std::string>().empty())
            std::printf("error       %s\n", json_text(p["error"]).c_str());
        std::vector<std::vector<std::string>> rows{{"AGENT", "REPORTED STEP"}};
        for (const auto& [id, step] : p["agents"].items())
            rows.push_back({id, step.is_null() ? "-" : json_text(step)});
        std::printf("\n");
        print_table(rows);
    });

    auto* discover = agent_subcommand(agent, "discover",
                                      "Look a peer's records up again now (after a key change)", a);
    discover->add_option("peer", a->zone, "The peer's identity")->required();
    discover->callback([a, root, discover] {
        inherit_server(*root, *discover, a->server);
        api_call(a->server, "POST", "/agent/peers/" + path_segment(a->zone) + "/discover");
        std::printf("discovery of %s started\n", a->zone.c_str());
    });

    auto* identity =
        agent_subcommand(agent, "identity", "The agent's identity and the keys it publishes", a);
    identity->callback([a, root, identity] {
        inherit_server(*root, *identity, a->server);
        json j = api_call(a->server, "GET", "/agent/identity");
        if (a->json_out) {
            std::printf("%s\n", dump(j).c_str());
            return;
        }
        std::printf("identity  %s\nKEY       %s\nDNSKEY    %s\n", json_text(j["identity"]).c_str(),
                    json_text(j["sig0_key"]).c_str(), json_text(j["dnskey"]).c_str());
    });
}

}  // namespace hsync::cmd
