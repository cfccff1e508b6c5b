// Internal: the table of built-in type definitions (rdata_types.cc), read by rdata.cc.
#pragma once

#include <cstddef>

#include "dns/rdata.h"

namespace hsync::dns {

extern const type_def builtin_types[];
extern const size_t builtin_type_count;

}  // namespace hsync::dns
