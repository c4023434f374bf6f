#include "sim/sink.h"

#include <fcntl.h>
#include <httplib.h>
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
#include "sim/json_diagnostics.h"
#include "sim/otlp_export.h"

namespace faultline {
namespace {

using nlohmann::json;

constexpr size_t kServerThreads = 8;

// Whether the connection a worker thread serves was accepted in blackhole
// mode: set by StampingQueue before the worker runs it.
thread_local bool t_accepted_blackholed = false;

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
  if (!ParseOtlpExport(req.body, &spans, &rejected)) {
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
  res.status = 200;
  res.set_content(StubModelAnswer(req.body), "application/json");
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
        "cannot listen on {}:{} (in use? pick another --port, or 0 for any free one)", host,
        port));
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

std::string StubModelAnswer(const std::string& request_body) {
  std::string item;
  if (diag::NestingDepth(request_body) <= diag::kMaxDocumentDepth) {
    json asked = json::parse(request_body, nullptr, /*allow_exceptions=*/false);
    auto it = asked.is_object() ? asked.find("item") : asked.end();
    if (it != asked.end() && it->is_string()) item = it->get<std::string>();
  }
  return json{{"item", item}, {"output", "done: " + item}}.dump();
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

}  // namespace faultline
