// The few pieces of PostgreSQL's wire protocol (version 3) the network relay
// speaks itself (sim/net_relay.h): reading the first message a client sends
// on a new connection, and answering it as a server that is full does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace faultline::pg_wire {

// The request codes of the untyped first messages a client may send in
// place of a start-up packet (protocol.html, "Message Formats").
inline constexpr uint32_t kCancelRequest = 80877102;
inline constexpr uint32_t kSslRequest = 80877103;
inline constexpr uint32_t kGssEncRequest = 80877104;
// A start-up packet longer than this is not one (the server's own bound).
inline constexpr uint32_t kMaxStartupPacket = 10'000;

inline uint32_t ReadBe32(std::string_view b) {
  return (uint32_t{static_cast<uint8_t>(b[0])} << 24) |
         (uint32_t{static_cast<uint8_t>(b[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(b[2])} << 8) | uint32_t{static_cast<uint8_t>(b[3])};
}

inline void AppendBe32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

// What a client's first bytes are so far.
struct FirstMessage {
  enum class Kind {
    kIncomplete,  // not all of it yet
    kStartup,     // a start-up packet: a session
    kEncryption,  // an SSLRequest or GSSENCRequest (8 bytes): answer 'N', a start-up follows
    kCancel,      // a CancelRequest: no session
    kMalformed,   // not a message a server accepts first
  };
  Kind kind = Kind::kIncomplete;
  size_t length = 0;  // bytes of the message when complete
};

inline FirstMessage ParseFirst(std::string_view b) {
  if (b.size() < 8) return {};
  const uint32_t length = ReadBe32(b);
  const uint32_t code = ReadBe32(b.substr(4));
  if (length < 8 || length > kMaxStartupPacket) return {FirstMessage::Kind::kMalformed, 0};
  if (b.size() < length) return {};
  if (length == 8 && (code == kSslRequest || code == kGssEncRequest)) {
    return {FirstMessage::Kind::kEncryption, length};
  }
  if (code == kCancelRequest) return {FirstMessage::Kind::kCancel, length};
  return {FirstMessage::Kind::kStartup, length};
}

// The ErrorResponse a server at max_connections sends in place of the
// authentication request, before it closes the connection: severity FATAL,
// SQLSTATE 53300 (too_many_connections).
inline std::string TooManyClients() {
  std::string fields;
  for (const auto& [code, value] : {std::pair<char, std::string_view>{'S', "FATAL"},
                                    {'V', "FATAL"},
                                    {'C', "53300"},
                                    {'M', "sorry, too many clients already"}}) {
    fields.push_back(code);
    fields.append(value);
    fields.push_back('\0');
  }
  fields.push_back('\0');
  std::string msg(1, 'E');
  AppendBe32(&msg, static_cast<uint32_t>(fields.size() + 4));
  return msg + fields;
}

}  // namespace faultline::pg_wire
