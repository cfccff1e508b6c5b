// `hsyncd -c FILE --check` (and `hsyncctl config check FILE`, which runs it): reads the
// configuration and every file it names as a start would, and reports every problem with
// its file and line. It binds no socket and opens no database, so it can run beside the
// daemon it checks (systemd's ExecStartPre, before a restart).
#pragma once

#include <string>
#include <vector>

#include "cmd/hsyncd/config.h"

namespace hsync::hsyncd {

struct check_result {
    config cfg;                         // what parsed (complete only without problems)
    std::vector<std::string> problems;  // "FILE:LINE: ..." each, in the order found
    size_t files_read = 0;              // zone, key and anchor files read, for the summary
};

check_result check_config(const std::string& file);

}  // namespace hsync::hsyncd
