#include "sim/sink.h"

#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "base/fd_io.h"
#include "sim/protocol/control_protocol.h"

namespace faultline {
namespace {

using nlohmann::json;

constexpr size_t kServerThreads = 8;

// Whether the connection a worker thread serves was accepted in blackhole
// mode: set by StampingQueue before the worker runs it.
thread_local bool t_accepted_blackholed = false;

bool IsHex(const std::string& s, size_t len) {
  return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

struct ReceivedSpan {
  std::string span_id, trace_id, name, instance;
};

// The spans of an OTLP/HTTP JSON ExportTraceServiceRequest; *rejected counts
// spans without valid ids. False when the body is not such a request.
bool ParseExport(const std::string& body, std::vector<ReceivedSpan>* out, size_t* rejected) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  auto rs = j.find("resourceSpans");
  if (rs == j.end() || !rs->is_array()) return false;
  for (const json& resource : *rs) {
    std::string instance;
    if (resource.contains("resource") && resource["resource"].contains("attributes")) {
      for (const json& kv : resource["resource"]["attributes"]) {
        if (kv.value("key", "") == "service.instance.id" && kv.contains("value")) {
          instance = kv["value"].value("stringValue", "");
        }
      }
    }
    for (const char* scopes_key : {"scopeSpans", "instrumentationLibrarySpans"}) {
      auto scopes = resource.find(scopes_key);
      if (scopes == resource.end() || !scopes->is_array()) continue;
      for (const json& scope : *scopes) {
        auto spans = scope.find("spans");
        if (spans == scope.end() || !spans->is_array()) continue;
        for (const json& s : *spans) {
          ReceivedSpan r{s.value("spanId", ""), s.value("traceId", ""), s.value("name", ""),
                         instance};
          if (!IsHex(r.span_id, 16) || !IsHex(r.trace_id, 32)) {
            ++*rejected;
            continue;
          }
          std::transform(r.span_id.begin(), r.span_id.end(), r.span_id.begin(), ::tolower);
          out->push_back(std::move(r));
        }
      }
    }
  }
  return true;
}

}  // namespace

std::string_view Name(CollectorMode mode) {
  switch (mode) {
    case CollectorMode::kUp: return "up";
    case CollectorMode::kDown: return "down";
    case CollectorMode::kUnavailable: return "503";
    case CollectorMode::kBlackhole: return "blackhole";
  }
  return "?";
}

std::optional<CollectorMode> ParseCollectorMode(std::string_view name) {
  for (CollectorMode m : {CollectorMode::kUp, CollectorMode::kDown, CollectorMode::kUnavailable,
                          CollectorMode::kBlackhole}) {
    if (Name(m) == name) return m;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------

struct SinkServer::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  int record_fd = -1;
  mutable std::mutex mu;
  std::condition_variable changed;
  CollectorMode mode = CollectorMode::kUp;
  bool stopping = false;
  std::set<std::string> seen;  // span ids on record
  Counts counts;

  void Handle(const httplib::Request& req, httplib::Response& res);
  void HandleModel(const httplib::Request& req, httplib::Response& res);
  // Holds a request accepted in (or arriving during) a blackhole until the
  // mode changes; true if it was held. REQUIRES: `lock` holds mu.
  bool Blackholed(std::unique_lock<std::mutex>& lock, httplib::Response& res);
  bool Record(const std::vector<ReceivedSpan>& spans, std::string* error);
};

// Stamps each accepted connection with whether the sink was blackholed at
// accept time (the listening thread enqueues a connection right after
// accept), then runs it on a fixed pool.
class StampingQueue final : public httplib::TaskQueue {
 public:
  explicit StampingQueue(SinkServer::Impl* impl) : impl_(impl), pool_(kServerThreads) {}
  void enqueue(std::function<void()> fn) override {
    bool stamp;
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      stamp = impl_->mode == CollectorMode::kBlackhole;
    }
    pool_.enqueue([fn = std::move(fn), stamp] {
      t_accepted_blackholed = stamp;
      fn();
    });
  }
  void shutdown() override { pool_.shutdown(); }

 private:
  SinkServer::Impl* impl_;
  httplib::ThreadPool pool_;
};

void SinkServer::Impl::Handle(const httplib::Request& req, httplib::Response& res) {
  {
    std::unique_lock<std::mutex> lock(mu);
    ++counts.requests;
    if (Blackholed(lock, res)) return;
    if (mode == CollectorMode::kUnavailable) {
      ++counts.answered_503;
      res.status = 503;
      res.set_content(R"json({"code":14,"message":"collector unavailable (faultline sink in 503 mode)"})json",
                      "application/json");
      return;
    }
  }
  const std::string type = req.get_header_value("Content-Type");
  if (type.rfind("application/json", 0) != 0) {
    std::lock_guard<std::mutex> lock(mu);
    ++counts.bad_requests;
    res.status = 415;
    res.set_content("faultline sink speaks OTLP/HTTP JSON only (Content-Type: application/json)\n",
                    "text/plain");
    return;
  }
  std::vector<ReceivedSpan> spans;
  size_t rejected = 0;
  if (!ParseExport(req.body, &spans, &rejected)) {
    std::lock_guard<std::mutex> lock(mu);
    ++counts.bad_requests;
    res.status = 400;
    res.set_content("not an OTLP ExportTraceServiceRequest in JSON\n", "text/plain");
    return;
  }
  std::string error;
  if (!Record(spans, &error)) {
    res.status = 503;  // retryable: nothing acknowledged
    res.set_content(error, "text/plain");
    return;
  }
  json answer = json::object();
  if (rejected > 0) {
    answer["partialSuccess"] = {{"rejectedSpans", std::to_string(rejected)},
                                {"errorMessage", "spans without a valid traceId/spanId (hex)"}};
  }
  res.status = 200;
  res.set_content(answer.dump(), "application/json");
}

bool SinkServer::Impl::Blackholed(std::unique_lock<std::mutex>& lock, httplib::Response& res) {
  if (!t_accepted_blackholed && mode != CollectorMode::kBlackhole) return false;
  ++counts.blackholed;
  // Never answered while the blackhole lasts; afterwards the client is
  // long gone. Nothing is recorded either way.
  changed.wait(lock, [&] { return stopping || mode != CollectorMode::kBlackhole; });
  res.status = 503;
  return true;
}

// The stub model (coordinator/model_client.h): answers every request at
// once, or fails it as the mode says. What it was asked is not recorded.
void SinkServer::Impl::HandleModel(const httplib::Request& req, httplib::Response& res) {
  std::unique_lock<std::mutex> lock(mu);
  ++counts.requests;
  ++counts.model_requests;
  if (Blackholed(lock, res)) return;
  if (mode == CollectorMode::kUnavailable) {
    ++counts.answered_503;
    res.status = 503;
    res.set_content(R"json({"error":"model unavailable (faultline sink in 503 mode)"})json",
                    "application/json");
    return;
  }
  json asked = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  const std::string item = asked.is_object() ? asked.value("item", "") : "";
  res.status = 200;
  res.set_content(json{{"item", item}, {"output", "done: " + item}}.dump(), "application/json");
}

bool SinkServer::Impl::Record(const std::vector<ReceivedSpan>& spans, std::string* error) {
  std::lock_guard<std::mutex> lock(mu);
  std::string lines;
  std::set<std::string> batch;
  for (const ReceivedSpan& s : spans) {
    if (seen.count(s.span_id) || !batch.insert(s.span_id).second) {
      ++counts.spans_duplicate;
      continue;
    }
    lines += json{{"span_id", s.span_id}, {"trace_id", s.trace_id}, {"name", s.name},
                  {"instance", s.instance}}
                 .dump() +
             "\n";
  }
  if (!base::WriteAll(record_fd, lines)) {
    *error = fmt::format("faultline sink: cannot record spans: {}\n", std::strerror(errno));
    return false;
  }
  for (const std::string& id : batch) seen.insert(id);
  counts.spans_recorded += batch.size();
  return true;
}

SinkServer::SinkServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

base::Result<std::unique_ptr<SinkServer>> SinkServer::Start(const std::string& host, int port,
                                                            const std::string& record_path,
                                                            CollectorMode mode) {
  if (mode == CollectorMode::kDown) {
    return base::Status::InvalidArgument("a running sink cannot be \"down\"");
  }
  auto impl = std::make_unique<Impl>();
  impl->mode = mode;
  if (auto ids = ReadSinkRecord(record_path); ids.ok()) {
    impl->seen.insert(ids->begin(), ids->end());
  } else if (ids.status().code() != base::Status::Code::kNotFound) {
    return ids.status();
  }
  impl->record_fd = open(record_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (impl->record_fd < 0) {
    return base::Status::FromErrno(errno, "open the sink's record " + record_path);
  }
  Impl* raw = impl.get();
  impl->server.new_task_queue = [raw] { return new StampingQueue(raw); };
  // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, which would
  // let another process share the port a restarted sink binds again.
  impl->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  impl->server.Post("/v1/traces", [raw](const httplib::Request& req, httplib::Response& res) {
    raw->Handle(req, res);
  });
  impl->server.Post(kModelApiPath, [raw](const httplib::Request& req, httplib::Response& res) {
    raw->HandleModel(req, res);
  });
  if (port == 0) {
    impl->port = impl->server.bind_to_any_port(host);
  } else if (impl->server.bind_to_port(host, port)) {
    impl->port = port;
  } else {
    impl->port = -1;
  }
  if (impl->port <= 0) {
    close(impl->record_fd);
    return base::Status::IOError(fmt::format(
        "cannot listen on {}:{} (in use? pick another --port, or 0 for any free one)", host, port));
  }
  impl->thread = std::thread([raw] { raw->server.listen_after_bind(); });
  // The port listens already (connections wait in its backlog); wait for the
  // accept loop too, so that a stop right away cannot miss it.
  for (int i = 0; i < 5000 && !impl->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return std::unique_ptr<SinkServer>(new SinkServer(std::move(impl)));
}

SinkServer::~SinkServer() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->changed.notify_all();
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  close(impl_->record_fd);
}

int SinkServer::port() const { return impl_->port; }

void SinkServer::SetMode(CollectorMode mode) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->mode = mode;
  }
  impl_->changed.notify_all();
}

CollectorMode SinkServer::mode() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->mode;
}

SinkServer::Counts SinkServer::counts() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->counts;
}

base::Result<std::vector<std::string>> ReadSinkRecord(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (access(path.c_str(), F_OK) != 0) return base::Status::NotFound(path + " does not exist");
    return base::Status::IOError("cannot read the sink's record " + path);
  }
  std::set<std::string> ids;
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("span_id") && j["span_id"].is_string()) {
      ids.insert(j["span_id"].get<std::string>());
    }
  }
  return std::vector<std::string>(ids.begin(), ids.end());
}

// ---------------------------------------------------------------------------
// faultline sink

namespace {

bool SendLine(int fd, const json& message) { return base::SendAll(fd, message.dump() + "\n"); }

// The simulator's control socket, or -1 when run by hand.
int ControlFd() {
  const char* env = std::getenv(protocol::kCtlFdEnv);
  if (env == nullptr || *env == '\0') return -1;
  char* end = nullptr;
  long fd = std::strtol(env, &end, 10);
  if (*end != '\0' || fd < 0 || fcntl(static_cast<int>(fd), F_GETFD) == -1) return -1;
  fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
  return static_cast<int>(fd);
}

// Serves control messages until the socket closes or `interrupted` is set.
int ServeControl(int fd, SinkServer& server, const std::atomic<bool>* interrupted) {
  std::string buffer;
  for (;;) {
    if (interrupted && interrupted->load()) return 0;
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, 200);
    if (rc < 0 && errno != EINTR) return 3;
    if (rc <= 0) continue;
    char chunk[512];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;  // the simulator is gone
    buffer.append(chunk, static_cast<size_t>(n));
    for (size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
      json msg = json::parse(buffer.substr(0, nl), nullptr, /*allow_exceptions=*/false);
      buffer.erase(0, nl + 1);
      std::optional<CollectorMode> mode;
      if (msg.is_object() && msg.contains(sink_protocol::kMode) &&
          msg[sink_protocol::kMode].is_string()) {
        mode = ParseCollectorMode(msg[sink_protocol::kMode].get<std::string>());
      }
      if (!mode || *mode == CollectorMode::kDown) {
        SendLine(fd, {{sink_protocol::kOk, false}, {"error", "expected {\"mode\": up|503|blackhole}"}});
        continue;
      }
      server.SetMode(*mode);
      SendLine(fd, {{sink_protocol::kOk, true}, {sink_protocol::kMode, Name(*mode)}});
    }
  }
}

}  // namespace

int RunSink(const SinkOptions& o) {
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the sink
  auto server = SinkServer::Start(o.host, o.port, o.record, o.mode);
  if (!server.ok()) {
    std::fprintf(stderr, "faultline sink: %s\n", server.status().message().c_str());
    return 3;
  }
  const int ctl = ControlFd();
  if (ctl >= 0) {
    if (!SendLine(ctl, {{sink_protocol::kReady, {{sink_protocol::kPort, (*server)->port()}}}})) {
      return 3;
    }
    return ServeControl(ctl, **server, o.interrupted);
  }
  std::printf("faultline sink: listening on http://%s:%d/v1/traces (mode %s), recording to %s; "
              "Ctrl-C stops\n",
              o.host.c_str(), (*server)->port(), std::string(Name(o.mode)).c_str(),
              o.record.c_str());
  std::fflush(stdout);
  while (!(o.interrupted && o.interrupted->load())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const SinkServer::Counts c = (*server)->counts();
  std::printf("faultline sink: %llu requests, %llu spans recorded (%llu duplicates)\n",
              static_cast<unsigned long long>(c.requests),
              static_cast<unsigned long long>(c.spans_recorded),
              static_cast<unsigned long long>(c.spans_duplicate));
  return 0;
}

}  // namespace faultline
