// Errors of the DNS core. Parsers throw; callers at the edge (a server answering a
// packet, the zone-file reader reporting FILE:LINE) catch and turn them into an rcode or
// a message. The text says what was wrong in words an operator understands.
#pragma once

#include <stdexcept>
#include <string>

namespace hsync::dns {

class dns_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Malformed wire data (a message, rdata, a name): the peer sent something we refuse.
class wire_error : public dns_error {
public:
    using dns_error::dns_error;
};

// Malformed presentation (zone file, command line) data.
class text_error : public dns_error {
public:
    using dns_error::dns_error;
};

}  // namespace hsync::dns
