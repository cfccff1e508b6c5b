// hsyncctl commands that talk to a running hsyncd through its management API, every
// request signed with its key (--key FILE or -c CONFIG, cli_output.h):
//   hsyncctl [--server ADDR:PORT] status [--json] | metrics
//   hsyncctl zone list|show NAME|reload NAME|notify NAME [--json]
// Human output is aligned columns; --json prints the API's JSON unchanged.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "api/management.h"
#include "cmd/hsyncctl/cli_output.h"

namespace hsync::cmd {

void add_daemon_commands(CLI::App& app);
void add_zone_daemon_commands(CLI::App& zone);

namespace {

using json = nlohmann::json;

struct daemon_args {
    std::string server;  // empty: from -c CONFIG, else 127.0.0.1:8053
    bool json_out = false;
    std::string zone;
    double timeout = 10;
};

std::shared_ptr<daemon_args> shared_args() {
    static auto args = [] {
        auto a = std::make_shared<daemon_args>();
        if (const char* env = std::getenv("HSYNC_SERVER"); env && *env) a->server = env;
        return a;
    }();
    return args;
}

// Performs the request; returns the parsed JSON of a 2xx reply, prints the raw body for
// --json; fails with the server's {"error"} otherwise.
json call(const daemon_args& a, const char* method, const std::string& target) {
    api::client_reply r = management_request(
        a.server, method, target, std::chrono::milliseconds(static_cast<long>(a.timeout * 1000)));
    json j = json::parse(r.body, nullptr, false);
    if (r.status < 200 || r.status > 299) {
        std::string msg = j.is_object() && j.contains("error") && j["error"].is_string()
                              ? j["error"].get<std::string>()
                              : "HTTP " + std::to_string(r.status);
        fail(msg);
    }
    if (j.is_discarded()) fail("the server's reply is not JSON");
    return j;
}

void print_json(const json& j) {
    std::printf("%s\n", j.dump(2, ' ', false, json::error_handler_t::replace).c_str());
}

std::string timestamp(const json& j) {
    if (!j.is_number()) return "-";
    std::time_t t = j.get<std::time_t>();
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string human_duration(long long s) {
    long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    std::string out;
    if (d) out += std::to_string(d) + "d ";
    if (d || h) out += std::to_string(h) + "h ";
    if (d || h || m) out += std::to_string(m) + "m ";
    return out + std::to_string(sec) + "s";
}

void add_common(CLI::App* cmd, const std::shared_ptr<daemon_args>& a) {
    cmd->add_option("--server", a->server, "hsyncd management address ADDR:PORT")
        ->envname("HSYNC_SERVER");
    add_key_option(cmd);
    cmd->add_flag("--json", a->json_out, "Print the API's JSON");
}

}  // namespace

void add_daemon_commands(CLI::App& app) {
    auto a = shared_args();
    app.add_option("--server", a->server,
                   "hsyncd management address ADDR:PORT (default 127.0.0.1:8053)")
        ->envname("HSYNC_SERVER");
    add_management_options(app);
    app.add_option("--timeout", a->timeout, "Seconds to wait for hsyncd (default 10)")
        ->check(CLI::Range(0.1, 3600.0));
    auto* status = app.add_subcommand("status", "Status of a running hsyncd");
    add_common(status, a);
    status->callback([a] {
        json j = call(*a, "GET", "/status");
        if (a->json_out) return print_json(j);
        print_table({{"role", json_text(j["role"])},
                     {"version", json_text(j["version"])},
                     {"pid", json_text(j["pid"])},
                     {"started", timestamp(j["started_at"])},
                     {"uptime",
                      j["uptime"].is_number() ? human_duration(j["uptime"].get<long long>()) : "-"},
                     {"zones", json_text(j["zones"])}});
    });
    // The Prometheus text as the daemon serves it, for scrapers that cannot sign requests
    // (node_exporter's textfile collector, a cron job).
    auto* metrics = app.add_subcommand("metrics", "Prometheus metrics of a running hsyncd");
    add_common(metrics, a);
    metrics->callback([a] {
        auto r =
            management_request(a->server, "GET", "/metrics",
                               std::chrono::milliseconds(static_cast<long>(a->timeout * 1000)));
        if (r.status != 200) fail("GET /metrics: HTTP " + std::to_string(r.status));
        std::fwrite(r.body.data(), 1, r.body.size(), stdout);
    });
}

void add_zone_daemon_commands(CLI::App& zone) {
    auto a = shared_args();
    auto* list = zone.add_subcommand("list", "Zones of a running hsyncd");
    add_common(list, a);
    list->callback([a] {
        json j = call(*a, "GET", "/zones");
        if (a->json_out) return print_json(j);
        std::vector<std::vector<std::string>> rows{
            {"ZONE", "TYPE", "SERIAL", "RECORDS", "LOADED", "REFRESHED", "ERROR"}};
        if (j["zones"].is_array())
            for (const auto& z : j["zones"])
                rows.push_back({json_text(z["name"]), json_text(z["kind"]), json_text(z["serial"]),
                                json_text(z["records"]), timestamp(z["loaded_at"]),
                                timestamp(z["last_refresh"]), json_text(z["last_error"])});
        print_table(rows);
    });

    auto* show = zone.add_subcommand("show", "One zone of a running hsyncd");
    show->add_option("name", a->zone, "Zone name")->required();
    add_common(show, a);
    show->callback([a] {
        json z = call(*a, "GET", zone_api_path(a->zone));
        if (a->json_out) return print_json(z);
        std::vector<std::vector<std::string>> rows{{"zone", json_text(z["name"])},
                                                   {"type", json_text(z["kind"])},
                                                   {"serial", json_text(z["serial"])},
                                                   {"source", json_text(z["source"])},
                                                   {"records", json_text(z["records"])},
                                                   {"loaded", timestamp(z["loaded_at"])},
                                                   {"refreshed", timestamp(z["last_refresh"])},
                                                   {"error", json_text(z["last_error"])}};
        if (z["details"].is_object())
            for (const auto& [k, v] : z["details"].items())
                rows.push_back({k, json_text(v)});
        print_table(rows);
    });

    // Signer: the key list and the key steps (docs/signer.md).
    auto* keys = zone.add_subcommand("keys", "DNSSEC keys of a zone on a running hsyncd signer");
    keys->add_option("name", a->zone, "Zone name")->required();
    add_common(keys, a);
    keys->callback([a] {
        json j = call(*a, "GET", zone_api_path(a->zone) + "/keys");
        if (a->json_out) return print_json(j);
        std::printf("zone %s  unsigned serial %s  signed serial %s  policy %s\n",
                    json_text(j["zone"]).c_str(), json_text(j["unsigned_serial"]).c_str(),
                    json_text(j["signed_serial"]).c_str(), json_text(j["policy"]).c_str());
        std::vector<std::vector<std::string>> rows{
            {"tag", "role", "algorithm", "state", "published", "activated", "retired"}};
        for (const auto& k : j["keys"])
            rows.push_back({json_text(k["tag"]), json_text(k["role"]), json_text(k["algorithm"]),
                            json_text(k["state"]), timestamp(k["published"]),
                            k["activated"] == 0 ? "-" : timestamp(k["activated"]),
                            k["retired"] == 0 ? "-" : timestamp(k["retired"])});
        print_table(rows);
    });
    static std::string key_step, key_argument;
    auto* key = zone.add_subcommand(
        "key",
        "A key step on a running hsyncd signer: publish zsk|ksk|csk, activate|retire|remove TAG");
    key->add_option("name", a->zone, "Zone name")->required();
    key->add_option("step", key_step, "publish, activate, retire or remove")
        ->required()
        ->check(CLI::IsMember({"publish", "activate", "retire", "remove"}));
    key->add_option("argument", key_argument, "zsk|ksk|csk for publish, else a key tag")
        ->required();
    add_common(key, a);
    key->callback([a] {
        json r =
            call(*a, "POST", zone_api_path(a->zone) + "/keys/" + key_step + "/" + key_argument);
        if (a->json_out) return print_json(r);
        std::printf("%s: %s: %s\n", json_text(r["zone"]).c_str(), json_text(r["action"]).c_str(),
                    json_text(r["result"]).c_str());
    });

    for (const char* action : {"reload", "notify"}) {
        auto* cmd =
            zone.add_subcommand(action, std::string(action) == "reload"
                                            ? "Reload a zone of a running hsyncd (file or transfer)"
                                            : "Send NOTIFY for a zone of a running hsyncd");
        cmd->add_option("name", a->zone, "Zone name")->required();
        add_common(cmd, a);
        cmd->callback([a, action] {
            json r = call(*a, "POST", zone_api_path(a->zone) + "/" + action);
            if (a->json_out) return print_json(r);
            std::printf("%s: %s\n", json_text(r["zone"]).c_str(), json_text(r["result"]).c_str());
        });
    }
}

}  // namespace hsync::cmd
