// `hsyncctl rr RECORD`: converts one record between its type's own presentation and the
// RFC 3597 generic form, for zone owners whose primary (BIND, Knot, NSD) does not know
// HSYNC yet. Given a record in its own form it prints the generic form; given the generic
// form of a type hsync knows, it prints the type's own form.
#include <cstdio>
#include <string>

#include "cmd/hsyncctl/commands.h"
#include "dns/rr.h"

namespace hsync::cmd {

void add_rr_command(CLI::App& app) {
    auto* sub =
        app.add_subcommand("rr", "Convert one RR between its presentation and RFC 3597 form");
    auto record = std::make_shared<std::string>();
    auto origin = std::make_shared<std::string>(".");
    sub->add_option("record", *record,
                    "The record, e.g. 'example. 3600 IN HSYNC ON AGENT YES agent.p1.example.'")
        ->required();
    sub->add_option("--origin", *origin, "Origin for relative names");
    sub->callback([record, origin] {
        dns::name o = dns::name::from_text(*origin);
        dns::rr r = dns::rr::from_text(*record, o);
        bool generic_in = record->find("\\#") != std::string::npos;
        std::string out = generic_in ? r.to_text() : r.to_generic_text();
        std::printf("%s\n", out.c_str());
    });
}

}  // namespace hsync::cmd
