// Logging for every hsync daemon part: one line per event, logfmt style, so that a line
// is both readable and parseable by machines:
//
//   2026-11-28T10:00:00.123Z level=info role=auth event=zone_loaded zone=example. serial=5
//
// Usage: log::info("zone_loaded", {{"zone", z}, {"serial", s}});
// Values are quoted when they contain spaces, quotes, '=' or control characters; control
// characters are escaped, so text from the network can never split or forge a line.
// Header-only so any layer from zone/ upwards uses it without another library.
#pragma once

#include <concepts>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace hsync::log {

enum class level { error = 0, warn = 1, info = 2, debug = 3 };

inline std::string_view to_string(level l) {
    switch (l) {
        case level::error:
            return "error";
        case level::warn:
            return "warn";
        case level::info:
            return "info";
        case level::debug:
            return "debug";
    }
    return "info";
}

// "error" | "warn" | "info" | "debug"; false for anything else.
inline bool parse_level(std::string_view text, level& out) {
    for (level l : {level::error, level::warn, level::info, level::debug})
        if (text == to_string(l)) {
            out = l;
            return true;
        }
    return false;
}

// One field value, converted to text at the call site.
struct value {
    std::string text;
    value(std::string_view s) : text(s) {}
    value(const char* s) : text(s ? s : "") {}
    value(const std::string& s) : text(s) {}
    value(bool b) : text(b ? "true" : "false") {}
    template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>) value(T n)
        : text(std::to_string(n)) {}
    value(double d) : text(fmt_double(d)) {}

  private:
    static std::string fmt_double(double d) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", d);
        return buf;
    }
};

using field = std::pair<std::string_view, value>;
using fields = std::initializer_list<field>;

// Appends `v` as a logfmt value: bare when it is a plain token, else double-quoted with
// \" \\ \n \r \t and \xHH escapes.
inline void append_value(std::string& out, std::string_view v) {
    bool plain = !v.empty();
    for (unsigned char c : v)
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) {
            plain = false;
            break;
        }
    if (plain) {
        out += v;
        return;
    }
    out += '"';
    for (unsigned char c : v) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    static const char hex[] = "0123456789abcdef";
                    out += "\\x";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += static_cast<char>(c);  // UTF-8 passes through unchanged
                }
        }
    }
    out += '"';
}

// The part of a line after the timestamp (pure, so tests can check it).
inline std::string format_event(level l, std::string_view role, std::string_view event, fields fs) {
    std::string out = "level=";
    out += to_string(l);
    if (!role.empty()) {
        out += " role=";
        append_value(out, role);
    }
    out += " event=";
    append_value(out, event);
    for (const auto& [k, v] : fs) {
        out += ' ';
        out += k;
        out += '=';
        append_value(out, v.text);
    }
    return out;
}

namespace detail {
struct state {
    std::shared_ptr<spdlog::logger> logger;
    std::string role;
    level min = level::info;
};
inline state& global() {
    static state s;
    return s;
}
inline spdlog::level::level_enum to_spd(level l) {
    switch (l) {
        case level::error:
            return spdlog::level::err;
        case level::warn:
            return spdlog::level::warn;
        case level::info:
            return spdlog::level::info;
        case level::debug:
            return spdlog::level::debug;
    }
    return spdlog::level::info;
}
}  // namespace detail

// Sets where lines go: stderr always, `file` too when not empty (appended). Throws
// spdlog::spdlog_ex when the file cannot be opened. Call again to change the role, level
// or file (e.g. after a configuration reload).
inline void setup(std::string_view role, level min, const std::string& file = {}) {
    std::vector<spdlog::sink_ptr> sinks;
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
    if (!file.empty())
        sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(file, false));
    auto logger = std::make_shared<spdlog::logger>("hsync", sinks.begin(), sinks.end());
    // RFC 3339 timestamps in UTC with milliseconds; the rest of the line is ours.
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %v", spdlog::pattern_time_type::utc));
    logger->set_level(detail::to_spd(min));
    logger->flush_on(spdlog::level::debug);  // one event, one line, visible at once
    auto& g = detail::global();
    g.logger = std::move(logger);
    g.role = std::string(role);
    g.min = min;
}

inline void set_level(level min) {
    auto& g = detail::global();
    g.min = min;
    if (g.logger) g.logger->set_level(detail::to_spd(min));
}

inline bool enabled(level l) {
    return static_cast<int>(l) <= static_cast<int>(detail::global().min);
}

inline void write(level l, std::string_view event, fields fs) {
    auto& g = detail::global();
    if (!enabled(l)) return;
    std::string line = format_event(l, g.role, event, fs);
    if (g.logger)
        g.logger->log(detail::to_spd(l), "{}", line);
    else
        std::fprintf(stderr, "%s\n", line.c_str());  // before setup(): still visible
}

inline void error(std::string_view event, fields fs = {}) {
    write(level::error, event, fs);
}
inline void warn(std::string_view event, fields fs = {}) {
    write(level::warn, event, fs);
}
inline void info(std::string_view event, fields fs = {}) {
    write(level::info, event, fs);
}
inline void debug(std::string_view event, fields fs = {}) {
    write(level::debug, event, fs);
}

}  // namespace hsync::log
