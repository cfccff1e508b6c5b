// Prometheus text exposition format 0.0.4 for /metrics, and the process metrics every
// exporter offers (process_cpu_seconds_total, ...), read from /proc.
#pragma once

#include <string>
#include <vector>

#include "roles/role.h"

namespace hsync::api {

inline constexpr const char* prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

// Formats metrics: samples of one name are grouped under one "# HELP" and "# TYPE" line
// (in order of first appearance; the first help/type given wins), label values escaped
// (\\, \", \n), invalid characters in metric and label names replaced by '_'.
std::string format_prometheus(const std::vector<roles::metric>& metrics);

// Prometheus sample value: integers without exponent, NaN, +Inf, -Inf.
std::string format_sample_value(double v);

// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds (`start_time` in seconds
// since the epoch). Values that cannot be read are left out.
std::vector<roles::metric> process_metrics(double start_time);

}  // namespace hsync::api
