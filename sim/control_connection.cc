#include "sim/control_connection.h"

#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <utility>
#include <fmt/format.h>

#include "base/fd_io.h"
#include "sim/json_diagnostics.h"
#include "sim/protocol/control_protocol.h"

namespace faultline {

namespace proto = protocol;
using nlohmann::json;

namespace {

// How long AwaitPark polls before it looks at the interrupt flag again.
constexpr int64_t kInterruptPollMs = 100;

// Any string (key or value) in `j` holding a NUL: it would cut ids in C
// programs that read the trace, and two different ids would compare equal.
bool HasNul(const json& j) {
  if (j.is_string()) return j.get_ref<const std::string&>().find('\0') != std::string::npos;
  if (j.is_array()) return std::any_of(j.begin(), j.end(), HasNul);
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key.find('\0') != std::string::npos || HasNul(value)) return true;
    }
  }
  return false;
}

bool IsAgentEventType(const std::string& type) {
  return std::any_of(std::begin(proto::kAgentEventTypes), std::end(proto::kAgentEventTypes),
                     [&](const char* t) { return type == t; });
}

// The fields the checkers read from agent events, by type: an event may
// leave any out, but one it sends must have this type.
enum class FieldType { kString, kInteger, kBoolean, kStrings };
constexpr std::pair<const char*, FieldType> kTypedFields[] = {
    {"item", FieldType::kString},         {"agent", FieldType::kString},
    {"owner", FieldType::kString},        {"by", FieldType::kString},
    {"reason", FieldType::kString},       {"status", FieldType::kString},
    {"fingerprint", FieldType::kString},  {"token", FieldType::kInteger},
    {"lease_until_us", FieldType::kInteger}, {"now_us", FieldType::kInteger},
    {"at_us", FieldType::kInteger},       {"current_token", FieldType::kInteger},
    {"effect_token", FieldType::kInteger}, {"count", FieldType::kInteger},
    {"attempt", FieldType::kInteger},     {"ok", FieldType::kBoolean},
    {"spans", FieldType::kStrings},
};

bool HasType(const json& value, FieldType type) {
  switch (type) {
    case FieldType::kString: return value.is_string();
    case FieldType::kInteger: return value.is_number_integer();
    case FieldType::kBoolean: return value.is_boolean();
    case FieldType::kStrings:
      return value.is_array() &&
             std::all_of(value.begin(), value.end(), [](const json& v) { return v.is_string(); });
  }
  return false;
}

const char* TypeName(FieldType type) {
  switch (type) {
    case FieldType::kString: return "a string";
    case FieldType::kInteger: return "an integer";
    case FieldType::kBoolean: return "a boolean";
    case FieldType::kStrings: return "an array of strings";
  }
  return "?";
}

bool Refuse(std::string_view line, const std::string& what, std::string* error) {
  *error = fmt::format("{}: {}", what, Excerpt(line));
  return false;
}

bool ParseEvent(std::string_view line, json& m, ControlMessage* out, std::string* error) {
  json& event = m[proto::kEvent];
  if (!event.is_object()) return Refuse(line, "an event that is not a JSON object", error);
  auto type = event.find("type");
  if (type == event.end() || !type->is_string()) {
    return Refuse(line, "an event without a string \"type\"", error);
  }
  if (!IsAgentEventType(type->get<std::string>())) {
    return Refuse(line,
                  fmt::format("an event of type {}, which a process may not send (harness "
                              "events come from the harness; docs/protocol.md lists the others)",
                              diag::Quote(type->get<std::string>())),
                  error);
  }
  for (const auto& [field, want] : kTypedFields) {
    auto it = event.find(field);
    if (it != event.end() && !HasType(*it, want)) {
      return Refuse(line, fmt::format("an event whose \"{}\" is not {}", field, TypeName(want)),
                    error);
    }
  }
  for (const char* field : proto::kHarnessFields) {
    if (event.contains(field)) {
      return Refuse(line, fmt::format("an event that sets \"{}\", which the harness writes", field),
                    error);
    }
  }
  out->kind = ControlMessage::Kind::kEvent;
  out->mono_us = 0;
  if (auto mono = m.find(proto::kMonoUs); mono != m.end()) {
    if (!mono->is_number_integer()) return Refuse(line, "a \"mono_us\" that is not an integer", error);
    out->mono_us = diag::Saturated(*mono);
  }
  out->event = std::move(event);
  return true;
}

const char* MessageName(ControlMessage::Kind kind) {
  switch (kind) {
    case ControlMessage::Kind::kHello:
      return "hello";
    case ControlMessage::Kind::kYield:
      return "yield";
    case ControlMessage::Kind::kSleep:
      return "sleep_us";
    case ControlMessage::Kind::kCommand:
      return "spawned";
    case ControlMessage::Kind::kEvent:
      break;
  }
  return "event";
}

// The two lines that end almost every lockstep step, byte for byte as the
// reference coordinator writes them (nlohmann's dump: no spaces, keys in
// order): {"sleep_us":N} and {"item":"ITEM","yield":"POINT"} with plain
// printable ASCII strings. Read without building a JSON value; anything else
// (other spellings, escapes, non-ASCII) returns false and takes the full
// parse, which gives the same result for these lines.
bool ParseCommonLine(std::string_view line, ControlMessage* out) {
  constexpr std::string_view kSleepHead = R"({"sleep_us":)";
  constexpr std::string_view kItemHead = R"({"item":")";
  constexpr std::string_view kYieldMid = R"(","yield":")";
  constexpr std::string_view kYieldTail = R"("})";
  if (line.starts_with(kSleepHead) && line.ends_with('}')) {
    const std::string_view digits =
        line.substr(kSleepHead.size(), line.size() - kSleepHead.size() - 1);
    if (digits.empty() || digits.size() > 18 || (digits[0] == '0' && digits.size() > 1)) {
      return false;
    }
    int64_t us = 0;
    for (const char c : digits) {
      if (c < '0' || c > '9') return false;
      us = us * 10 + (c - '0');
    }
    if (us > kMaxSleepUs) return false;
    out->kind = ControlMessage::Kind::kSleep;
    out->parked = Parked{};
    out->parked.kind = Parked::Kind::kSleep;
    out->parked.sleep_us = us;
    return true;
  }
  if (!line.starts_with(kItemHead) || !line.ends_with(kYieldTail)) return false;
  const std::string_view body =
      line.substr(kItemHead.size(), line.size() - kItemHead.size() - kYieldTail.size());
  const size_t mid = body.find(kYieldMid);
  if (mid == std::string_view::npos) return false;
  const std::string_view item = body.substr(0, mid);
  const std::string_view point = body.substr(mid + kYieldMid.size());
  auto plain = [](std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
  };
  if (point.empty() || !plain(item) || !plain(point)) return false;
  out->kind = ControlMessage::Kind::kYield;
  out->parked = Parked{};
  out->parked.kind = Parked::Kind::kYield;
  out->parked.point = std::string(point);
  out->parked.item = std::string(item);
  return true;
}

}  // namespace

std::string Excerpt(std::string_view text, size_t max) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > max) out += fmt::format("... ({} bytes)", text.size());
  return out;
}

bool ParseControlLine(std::string_view line, ControlMessage* out, std::string* error) {
  if (ParseCommonLine(line, out)) return true;
  if (line.size() > kMaxLineBytes) {
    return Refuse(line, fmt::format("a line longer than {} bytes", kMaxLineBytes), error);
  }
  // The nesting is bounded before parsing: the parsed value is destroyed and
  // dumped recursively.
  if (diag::NestingDepth(line) > kMaxControlDepth) {
    return Refuse(line, fmt::format("JSON nested deeper than {} levels", kMaxControlDepth), error);
  }
  json m = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!m.is_object()) return Refuse(line, "not a JSON object (or not UTF-8)", error);
  if (HasNul(m)) return Refuse(line, "a string holding a NUL character", error);
  const size_t keys = m.size();
  if (m.contains(proto::kEvent)) {
    if (keys != (m.contains(proto::kMonoUs) ? 2u : 1u)) {
      return Refuse(line, "an event message with other keys than \"event\" and \"mono_us\"", error);
    }
    return ParseEvent(line, m, out, error);
  }
  if (keys != 1 && !(keys == 2 && m.contains(proto::kYield) && m.contains(proto::kItem)) &&
      !(keys == 2 && m.contains(proto::kSpawned) && m.contains(proto::kTimeoutMs))) {
    return Refuse(line,
                  "unknown message (expected one of hello, yield, sleep_us, spawned, event)",
                  error);
  }
  out->parked = Parked{};
  if (auto hello = m.find(proto::kHello); hello != m.end()) {
    if (!hello->is_object()) return Refuse(line, "a hello that is not an object", error);
    if ((hello->contains("pid") && !(*hello)["pid"].is_number_integer()) ||
        (hello->contains("role") && !(*hello)["role"].is_string()) ||
        (hello->contains("id") && !(*hello)["id"].is_string())) {
      return Refuse(line, "a hello whose pid is not an integer or role/id not strings", error);
    }
    out->kind = ControlMessage::Kind::kHello;
    out->parked.kind = Parked::Kind::kHello;
    return true;
  }
  if (auto yield = m.find(proto::kYield); yield != m.end()) {
    auto item = m.find(proto::kItem);
    if (!yield->is_string() || yield->get_ref<const std::string&>().empty() ||
        (item != m.end() && !item->is_string())) {
      return Refuse(line, "a yield whose point is not a non-empty string or item not a string",
                    error);
    }
    out->kind = ControlMessage::Kind::kYield;
    out->parked.kind = Parked::Kind::kYield;
    out->parked.point = yield->get<std::string>();
    if (item != m.end()) out->parked.item = item->get<std::string>();
    return true;
  }
  if (auto sleep = m.find(proto::kSleepUs); sleep != m.end()) {
    if (!sleep->is_number_integer() || diag::Saturated(*sleep) < 0 ||
        diag::Saturated(*sleep) > kMaxSleepUs) {
      return Refuse(line, fmt::format("a sleep_us that is not an integer in [0, {}]", kMaxSleepUs),
                    error);
    }
    out->kind = ControlMessage::Kind::kSleep;
    out->parked.kind = Parked::Kind::kSleep;
    out->parked.sleep_us = diag::Saturated(*sleep);
    return true;
  }
  if (auto spawned = m.find(proto::kSpawned); spawned != m.end()) {
    if (!spawned->is_number_integer() || diag::Saturated(*spawned) <= 0) {
      return Refuse(line, "a spawned whose pid is not a positive integer", error);
    }
    out->kind = ControlMessage::Kind::kCommand;
    out->parked.kind = Parked::Kind::kCommand;
    out->parked.pid = diag::Saturated(*spawned);
    if (auto timeout = m.find(proto::kTimeoutMs); timeout != m.end()) {
      if (!timeout->is_number_integer() || diag::Saturated(*timeout) < 0) {
        return Refuse(line, "a spawned whose timeout_ms is not a non-negative integer", error);
      }
      out->parked.timeout_ms = diag::Saturated(*timeout);
    }
    return true;
  }
  return Refuse(line, "unknown message (expected one of hello, yield, sleep_us, spawned, event)",
                error);
}

bool ControlConnection::SetReceiveTimeout(int64_t ms) {
  if (receive_timeout_ms_ == ms) return true;
  if (receive_timeout_ms_ == kNoReceiveTimeout) return false;
  const timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
    receive_timeout_ms_ = kNoReceiveTimeout;
    return false;
  }
  receive_timeout_ms_ = ms;
  return true;
}

bool ControlConnection::Append(const char* data, size_t n, std::string* error) {
  buffer_.append(data, n);
  const size_t nl = buffer_.find('\n', scanned_);
  scanned_ = nl == std::string::npos ? buffer_.size() : nl;
  if (nl == std::string::npos && buffer_.size() > kMaxLineBytes) {
    *error = fmt::format("a line longer than {} bytes (no newline): {}", kMaxLineBytes,
                         Excerpt(buffer_));
    buffer_.clear();
    scanned_ = 0;
    return false;
  }
  return true;
}

bool ControlConnection::NextMessage(const EventFn& on_event, ControlMessage* message,
                                    std::string* error) {
  for (;;) {
    const size_t nl = buffer_.find('\n');
    if (nl == std::string::npos) return false;
    const bool ok = ParseControlLine(std::string_view(buffer_).substr(0, nl), message, error);
    buffer_.erase(0, nl + 1);
    scanned_ = 0;
    if (!ok) return true;
    if (message->kind == ControlMessage::Kind::kHello) {
      if (hello_seen_) {
        *error = "a second hello";
        return true;
      }
      hello_seen_ = true;
    }
    if (message->kind != ControlMessage::Kind::kEvent) return true;
    on_event(std::move(message->event), message->mono_us);
  }
}

ControlConnection::Read ControlConnection::AwaitPark(int timeout_ms, const EventFn& on_event,
                                                     Parked* parked, std::string* error,
                                                     const std::atomic<bool>* interrupted,
                                                     const bool* abandon) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  ControlMessage m;
  for (;;) {
    if (NextMessage(on_event, &m, error)) {
      if (!error->empty()) return Read::kBadMessage;
      if (!buffer_.empty()) {
        // A process parks until it is answered: more after a parking
        // message is a flood, not a conversation.
        *error = "a message after its " + std::string(MessageName(m.kind)) +
                 " before faultline answered: " + Excerpt(buffer_);
        return Read::kBadMessage;
      }
      // The same flood, told apart from a conversation when its lines come
      // one read at a time: a process parks again without having read the
      // answer to its last park (still queued on the socket). Left alone,
      // every such park gets an answer it never reads, until the socket is
      // full and faultline's next answer blocks for good.
      if (int unread = 0; ioctl(fd_, SIOCOUTQ, &unread) == 0 && unread > 0) {
        *error = "its " + std::string(MessageName(m.kind)) + " came before it read faultline's " +
                 "answer to its last one (" + std::to_string(unread) +
                 " bytes unread): it parked again before faultline answered";
        return Read::kBadMessage;
      }
      *parked = std::move(m.parked);
      return Read::kParked;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return Read::kTimeout;
    if (interrupted != nullptr && interrupted->load()) return Read::kInterrupted;
    if (abandon != nullptr && *abandon) return Read::kAbandoned;
    // In slices: a signal that lands just before the wait would not end it,
    // and a process silent for the whole step timeout must not hold a
    // SIGINT/SIGTERM that long. The wait is the read itself, bounded by the
    // socket's receive timeout (one system call per wake-up, where poll()
    // and then read() were two); poll() where the fd takes no timeout.
    const int64_t slice_ms = std::min<int64_t>(left, kInterruptPollMs);
    char chunk[4096];
    ssize_t n = 0;
    if (SetReceiveTimeout(slice_ms)) {
      n = read(fd_, chunk, sizeof chunk);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    } else {
      pollfd pfd{fd_, POLLIN, 0};
      int rc = poll(&pfd, 1, static_cast<int>(slice_ms));
      if (rc < 0 && errno == EINTR) continue;
      if (rc == 0) continue;
      n = read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
    }
    if (n <= 0) return Read::kClosed;
    if (!Append(chunk, static_cast<size_t>(n), error)) return Read::kBadMessage;
  }
}

ControlConnection::Read ControlConnection::Drain(const EventFn& on_event, std::string* error) {
  ControlMessage m;
  size_t taken = 0;
  for (;;) {
    // Freerun processes send one hello and events only.
    while (NextMessage(on_event, &m, error)) {
      if (!error->empty()) return Read::kBadMessage;
      if (m.kind != ControlMessage::Kind::kHello) {
        *error = fmt::format("a {} in freerun (only hello and events are sent there)",
                             MessageName(m.kind));
        return Read::kBadMessage;
      }
    }
    if (taken >= kMaxLineBytes) return Read::kParked;
    char chunk[8192];
    ssize_t n = recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Read::kParked;
    if (n <= 0) return Read::kClosed;
    taken += static_cast<size_t>(n);
    if (!Append(chunk, static_cast<size_t>(n), error)) return Read::kBadMessage;
  }
}

bool ControlConnection::Go(int64_t now_us, int64_t boot_us, int64_t server_us, bool timed_out) {
  std::string reply = R"({"go":true,"now":)" + std::to_string(now_us);
  if (boot_us != now_us) reply += R"(,"boot":)" + std::to_string(boot_us);
  if (server_us != boot_us) reply += R"(,"server":)" + std::to_string(server_us);
  if (timed_out) reply += R"(,"timed_out":true)";
  reply += "}\n";
  return base::SendAll(fd_, reply);
}

}  // namespace faultline
