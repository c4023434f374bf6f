// Which backend a coordination directory uses, and opening it.
//
// `swarm init DIR` makes an fs directory (fs_store.h): the state lives in
// DIR. `swarm init DIR --store postgres[://URL] [--schema NAME]` makes DIR a
// local directory (telemetry spools, logs) that records where the state
// lives: DIR/store.json {"backend": "postgres", "url", "schema"}. Every
// later command on DIR opens the same backend. A recorded URL is used as
// given; without one, every process takes its connection parameters from
// libpq's PG* environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE,
// ...) when it starts, so that agents on different hosts, or behind
// different relays, reach the server their own way.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "coordinator/clock.h"
#include "coordinator/config.h"
#include "coordinator/pg_store.h"
#include "coordinator/probe.h"
#include "coordinator/store.h"

namespace swarm {

struct Backend {
  enum class Kind { kFs, kPostgres };
  Kind kind = Kind::kFs;
  PgLocation postgres;  // kPostgres only
};

// Parses --store: "fs", "postgres" (PG* variables), or a postgres:// or
// postgresql:// URL. InvalidArgument for anything else.
Result<Backend> ParseBackend(const std::string& store, const std::string& schema);

// The backend DIR records (fs when DIR has no store.json). InvalidArgument
// when DIR's store.json does not parse.
Result<Backend> ReadBackend(const std::string& dir);

// Creates a coordination directory on `backend`: the fs layout, or DIR with
// store.json once the schema is ready (InvalidArgument if DIR is already a
// coordination directory or not empty).
Status InitStore(const std::string& dir, const Backend& backend, const ClusterConfig& config);

// Opens DIR's store with the process's clock and probe (borrowed; they
// outlive the store).
Result<std::unique_ptr<Store>> OpenStore(const std::string& dir, Clock* clock, Probe* probe);

}  // namespace swarm
