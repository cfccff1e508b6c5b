// hsyncctl parent children [--json] | parent scan CHILD [--no-wait] [--json]: a running
// parent role's children with their last scan and result (GET /parent/children), and a
// scan of one child now (POST /parent/children/CHILD/scan), waiting for its result.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cmd/hsyncctl/cli_output.h"
#include "cmd/hsyncctl/commands.h"

namespace hsync::cmd {
namespace {

using json = nlohmann::json;

struct parent_args {
    std::string server;  // empty: from -c CONFIG, else 127.0.0.1:8053
    std::string child;
    bool json_out = false;
    bool no_wait = false;
    unsigned wait_seconds = 60;
};

std::string records_text(const json& list) {
    if (!list.is_array() || list.empty()) return "-";
    std::string out;
    for (const auto& r : list) {
        // "child. 3600 IN DS 12345 13 2 ABCD..." -> "12345 13 2 ABCD..." for the table.
        std::string text = json_text(r);
        std::replace(text.begin(), text.end(), '\t', ' ');
        auto pos = text.find(" DS ");
        if (pos == std::string::npos) pos = text.find(" NS ");
        if (pos != std::string::npos) text = text.substr(pos + 4);
        out += (out.empty() ? "" : ", ") + text;
    }
    return out;
}

void print_child(const json& c) {
    std::printf("child      %s (zone %s)\n", json_text(c["child"]).c_str(),
                json_text(c["zone"]).c_str());
    std::printf("last scan  %s (%s scans)\n", json_text(c["last_scan"]).c_str(),
                json_text(c["scans"]).c_str());
    std::printf("result     %s\n", json_text(c["result"]).c_str());
    std::printf("CDS        %s\nCSYNC      %s\n", json_text(c["cds"]).c_str(),
                json_text(c["csync"]).c_str());
    std::printf("servers    %s\n", records_text(c["servers"]).c_str());
    for (const char* k : {"ds", "ns", "glue"}) {
        std::printf("%-10s", k);
        if (!c[k].is_array() || c[k].empty()) std::printf(" -\n");
        for (size_t i = 0; c[k].is_array() && i < c[k].size(); ++i)
            std::printf("%s%s\n", i ? "           " : " ", json_text(c[k][i]).c_str());
    }
}

}  // namespace

void add_parent_commands(CLI::App& app) {
    auto a = std::make_shared<parent_args>();
    if (const char* env = std::getenv("HSYNC_SERVER"); env && *env) a->server = env;
    auto* parent = app.add_subcommand("parent", "Talk to a running hsyncd parent role");
    parent->require_subcommand(1);
    CLI::App* root = &app;

    auto* children = parent->add_subcommand("children", "Every child: last scan, result, DS, NS");
    children->add_option("--server", a->server, "hsyncd management address ADDR:PORT")
        ->envname("HSYNC_SERVER");
    add_key_option(children);
    children->add_flag("--json", a->json_out, "Print the API's JSON");
    children->callback([a, root, children] {
        inherit_server(*root, *children, a->server);
        json j = api_call(a->server, "GET", "/parent/children");
        if (a->json_out) {
            std::printf("%s\n",
                        j["children"].dump(2, ' ', false, json::error_handler_t::replace).c_str());
            return;
        }
        std::vector<std::vector<std::string>> rows{{"CHILD", "LAST SCAN", "RESULT", "DS", "NS"}};
        for (const auto& c : j["children"])
            rows.push_back({json_text(c["child"]), json_text(c["last_scan"]),
                            json_text(c["result"]), records_text(c["ds"]), records_text(c["ns"])});
        if (rows.size() == 1) {
            std::printf("no children\n");
            return;
        }
        print_table(rows);
    });

    auto* scan = parent->add_subcommand("scan", "Scan one child now and print the result");
    scan->add_option("child", a->child, "The delegation to scan")->required();
    scan->add_option("--server", a->server, "hsyncd management address ADDR:PORT")
        ->envname("HSYNC_SERVER");
    add_key_option(scan);
    scan->add_flag("--json", a->json_out, "Print the child's JSON after the scan");
    scan->add_flag("--no-wait", a->no_wait, "Start the scan and return");
    scan->add_option("--wait", a->wait_seconds, "Seconds to wait for the result (default 60)");
    scan->callback([a, root, scan] {
        inherit_server(*root, *scan, a->server);
        std::string path = "/parent/children/" + path_segment(a->child);
        json before = api_call(a->server, "GET", path);
        uint64_t scans = before["scans"].is_number() ? before["scans"].get<uint64_t>() : 0;
        // A scan running now may have read the old data: the result is the one after it.
        if (before["scanning"] == true) ++scans;
        api_call(a->server, "POST", path + "/scan");
        if (a->no_wait) {
            std::printf("scan of %s started\n", a->child.c_str());
            return;
        }
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(a->wait_seconds);
        while (true) {
            json now = api_call(a->server, "GET", path);
            if (now["scans"].is_number() && now["scans"].get<uint64_t>() > scans) {
                if (a->json_out)
                    std::printf("%s\n",
                                now.dump(2, ' ', false, json::error_handler_t::replace).c_str());
                else
                    print_child(now);
                // A refused signal is a result, not a failure of the command: exit 0.
                return;
            }
            if (std::chrono::steady_clock::now() > deadline)
                fail("no scan result for " + a->child + " within " +
                     std::to_string(a->wait_seconds) + " s");
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
}

}  // namespace hsync::cmd
