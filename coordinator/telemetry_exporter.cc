#include "coordinator/telemetry_exporter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

namespace swarm::telemetry {
namespace {

// Segments sent per Tick while the collector answers, so that a long backlog
// drains over several steps instead of one long one.
constexpr size_t kSegmentsPerTick = 16;

uint64_t NextRandom(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::vector<std::string> Ids(const std::vector<Span>& spans) {
  std::vector<std::string> ids;
  ids.reserve(spans.size());
  for (const Span& s : spans) ids.push_back(s.span_id);
  return ids;
}

}  // namespace

void Backoff::Failed(int64_t now_us) {
  ++failures_;
  int64_t d = initial_us_;
  for (int i = 1; i < failures_ && d < max_us_; ++i) d = std::min(d * 2, max_us_);
  const int64_t half = d / 2;
  d = half + static_cast<int64_t>(NextRandom(rng_) % static_cast<uint64_t>(d - half + 1));
  next_us_ = now_us + d;
}

// ---------------------------------------------------------------------------
// Exporter

Exporter::Exporter(const Config& config, Transport* transport, OwnedSpool* spool, Clock* clock,
                   Probe* probe, std::string agent, uint64_t seed)
    : config_(config),
      transport_(transport),
      spool_(spool),
      clock_(clock),
      probe_(probe),
      agent_(std::move(agent)),
      resource_{config.service_name, agent_},
      backoff_(config.retry_initial_ms * 1000, config.retry_max_ms * 1000, seed) {
  // Spans a killed predecessor left in live.jsonl are still there: they form
  // the first batch.
  batch_ = spool_->TakeLeftover();
  batch_started_us_ = clock_->NowMicros();
}

void Exporter::Emit(nlohmann::json event) {
  if (probe_->recording()) probe_->Emit(event);
}

void Exporter::Add(Span span) {
  if (Status s = spool_->AppendLive(span); !s.ok()) {
    // Not durable: it must leave memory soon, exported or dropped counted.
    must_flush_ = true;
    std::fprintf(stderr, "swarm %s: telemetry spool: %s\n", agent_.c_str(),
                 s.ToString().c_str());
  }
  if (batch_.empty()) batch_started_us_ = clock_->NowMicros();
  if (probe_->recording()) {
    nlohmann::json ev = {{"type", "span_created"}, {"agent", agent_}, {"span", span.span_id},
                         {"name", span.name}};
    if (auto it = span.attributes.find("swarm.item");
        it != span.attributes.end() && it->is_string()) {
      ev["item"] = *it;
    }
    probe_->Emit(ev);
  }
  batch_.push_back(std::move(span));
  if (batch_.size() >= config_.batch_spans || must_flush_) FlushBatch(/*last_chance=*/false);
}

void Exporter::Tick() {
  const int64_t now = clock_->NowMicros();
  if (!batch_.empty() && now - batch_started_us_ >= config_.schedule_delay_ms * 1000) {
    FlushBatch(/*last_chance=*/false);
  } else if (spool_->segments() > 0 && !backoff_.Waiting(now)) {
    DrainSpool();
  }
}

void Exporter::Shutdown() {
  FlushBatch(/*last_chance=*/true);
  while (spool_->segments() > 0 && !backoff_.Waiting(clock_->NowMicros())) {
    const size_t before = spool_->segments();
    DrainSpool();
    if (spool_->segments() >= before) break;
  }
}

void Exporter::FlushBatch(bool last_chance) {
  if (batch_.empty()) return;
  std::vector<Span> batch = std::move(batch_);
  batch_.clear();
  must_flush_ = false;
  std::string why;
  bool taken = false;
  if (backoff_.Waiting(clock_->NowMicros()) && !last_chance) {
    why = "backing off after a failed export";
  } else {
    taken = Send(batch, "batch", &why);
  }
  if (!taken && !why.empty()) Undeliverable(std::move(batch), why);
  if (Status s = spool_->ClearLive(); !s.ok()) {
    std::fprintf(stderr, "swarm %s: telemetry spool: %s\n", agent_.c_str(),
                 s.ToString().c_str());
  }
  if (taken) DrainSpool();
}

void Exporter::DrainSpool() {
  for (size_t i = 0; i < kSegmentsPerTick && spool_->segments() > 0; ++i) {
    if (backoff_.Waiting(clock_->NowMicros())) return;
    auto oldest = spool_->Oldest();
    if (!oldest.ok() || !oldest->has_value()) return;
    const Segment& seg = **oldest;
    std::string why;
    if (!seg.spans.empty() && !Send(seg.spans, "spool", &why) && !why.empty()) return;
    if (Status s = spool_->Remove(seg); !s.ok()) {
      std::fprintf(stderr, "swarm %s: telemetry spool: %s\n", agent_.c_str(),
                   s.ToString().c_str());
      return;
    }
    if (seg.unreadable > 0) {
      dropped_ += seg.unreadable;
      Emit({{"type", "span_dropped"}, {"agent", agent_}, {"by", agent_},
            {"count", seg.unreadable}, {"reason", "unreadable"},
            {"detail", "lines of a spool segment that are not spans"},
            {"spans", nlohmann::json::array()}});
    }
  }
}

bool Exporter::Send(const std::vector<Span>& spans, std::string_view from, std::string* why) {
  PostOutcome o = transport_->Post(EncodeOtlpJson(spans, resource_));
  switch (o.kind) {
    case PostOutcome::Kind::kAccepted:
      backoff_.Succeeded();
      Emit({{"type", "span_exported"}, {"agent", agent_}, {"by", agent_},
            {"count", spans.size()}, {"from", from}});
      return true;
    case PostOutcome::Kind::kRejected:
      // The collector answered and will never take these: retrying is
      // pointless, keeping them would block the spool.
      backoff_.Succeeded();
      DropCounted(spans, "rejected", o.detail);
      why->clear();
      return false;
    case PostOutcome::Kind::kRetryable:
      break;
  }
  backoff_.Failed(clock_->NowMicros());
  *why = o.detail;
  return false;
}

void Exporter::Undeliverable(std::vector<Span> batch, const std::string& why) {
  if (!spool_->Fits(batch.size(), OwnedSpool::SealedBytes(batch))) {
    DropCounted(batch, "spool_full",
                fmt::format("the spool holds {} spans in {} bytes; its bound is {} spans, {} bytes",
                            spool_->spans(), spool_->bytes(), config_.spool_max_spans,
                            config_.spool_max_bytes));
    return;
  }
  if (Status s = spool_->Seal(batch); !s.ok()) {
    DropCounted(batch, "spool_write_failed", std::string(s.CodeName()));
    return;
  }
  Emit({{"type", "span_spooled"}, {"agent", agent_}, {"count", batch.size()},
        {"backlog", spool_->spans()}, {"why", why}});
}

void Exporter::DropCounted(const std::vector<Span>& batch, std::string_view reason,
                           const std::string& detail) {
  dropped_ += batch.size();
  std::fprintf(stderr, "swarm %s: telemetry: dropped %zu spans (%.*s: %s)\n", agent_.c_str(),
               batch.size(), static_cast<int>(reason.size()), reason.data(), detail.c_str());
  Emit({{"type", "span_dropped"}, {"agent", agent_}, {"by", agent_}, {"count", batch.size()},
        {"reason", reason}, {"detail", detail}, {"spans", Ids(batch)}});
}

// ---------------------------------------------------------------------------
// OrphanExporter

OrphanExporter::OrphanExporter(const Config& config, Transport* transport, Clock* clock,
                               Probe* probe, std::string coord_dir, uint64_t seed)
    : config_(config),
      transport_(transport),
      clock_(clock),
      probe_(probe),
      coord_dir_(std::move(coord_dir)),
      backoff_(config.retry_initial_ms * 1000, config.retry_max_ms * 1000, seed) {}

void OrphanExporter::Pass() {
  if (backoff_.Waiting(clock_->NowMicros())) return;
  auto owners = SpoolOwners(coord_dir_);
  if (!owners.ok()) return;
  for (const std::string& agent : *owners) {
    if (!ExportOne(agent)) return;  // the collector failed: back off
  }
}

bool OrphanExporter::ExportOne(const std::string& agent) {
  auto orphan = OrphanSpool::Claim(coord_dir_, agent);
  if (!orphan.ok()) return true;  // its owner runs, or nothing is left
  auto segments = (*orphan)->Read();
  if (!segments.ok()) {
    std::fprintf(stderr, "swarm reaper: telemetry spool of %s: %s\n", agent.c_str(),
                 segments.status().ToString().c_str());
    return true;
  }
  const Resource resource{config_.service_name, agent};
  auto emit = [&](nlohmann::json ev) {
    if (probe_->recording()) probe_->Emit(ev);
  };
  for (const Segment& seg : *segments) {
    if (!seg.spans.empty()) {
      PostOutcome o = transport_->Post(EncodeOtlpJson(seg.spans, resource));
      if (o.kind == PostOutcome::Kind::kRetryable) {
        backoff_.Failed(clock_->NowMicros());
        return false;
      }
      backoff_.Succeeded();
      if (o.kind == PostOutcome::Kind::kAccepted) {
        emit({{"type", "span_exported"}, {"agent", agent}, {"by", "reaper"},
              {"count", seg.spans.size()}, {"from", "spool"}});
      } else {
        emit({{"type", "span_dropped"}, {"agent", agent}, {"by", "reaper"},
              {"count", seg.spans.size()}, {"reason", "rejected"}, {"detail", o.detail},
              {"spans", Ids(seg.spans)}});
      }
    }
    if (!(*orphan)->Remove(seg).ok()) return true;
    if (seg.unreadable > 0) {
      emit({{"type", "span_dropped"}, {"agent", agent}, {"by", "reaper"},
            {"count", seg.unreadable}, {"reason", "unreadable"},
            {"detail", "lines of a spool segment that are not spans"},
            {"spans", nlohmann::json::array()}});
    }
  }
  return true;
}

}  // namespace swarm::telemetry
