// The `auth` role: an authoritative server for zones loaded from files (primary) or
// transferred from primaries (secondary), served as they are, with NOTIFY, AXFR/IXFR out,
// UPDATE and persistence in SQLite. All of that is the zone engine's (zone/engine.h): the
// auth role is the engine with no stage of its own.
#pragma once

#include "roles/engine_role.h"

namespace hsync::auth {

class auth_role final : public roles::engine_role {
  public:
    using engine_role::engine_role;
    std::string name() const override { return "auth"; }
};

}  // namespace hsync::auth
