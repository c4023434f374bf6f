#include "coordinator/store_open.h"

#include <fmt/format.h>

#include "coordinator/fs_store.h"
#include "coordinator/fs_util.h"

namespace swarm {
namespace {

constexpr const char* kBackendFile = "store.json";

}  // namespace

Result<Backend> ParseBackend(const std::string& store, const std::string& schema) {
  Backend b;
  if (store.empty() || store == "fs") {
    if (!schema.empty()) {
      return Status::InvalidArgument("--schema applies to --store postgres only");
    }
    return b;
  }
  b.kind = Backend::Kind::kPostgres;
  if (!schema.empty()) b.postgres.schema = schema;
  if (!pg::IsValidSchema(b.postgres.schema)) {
    return Status::InvalidArgument(fmt::format(
        "--schema \"{}\" is not valid: use 1-63 of a-z 0-9 _, starting with a letter or _",
        b.postgres.schema));
  }
  if (store == "postgres") return b;
  if (store.rfind("postgres://", 0) == 0 || store.rfind("postgresql://", 0) == 0) {
    b.postgres.url = store;
    return b;
  }
  return Status::InvalidArgument(
      "--store \"" + store +
      "\": expected fs, postgres (connection from the PG* variables) or a postgres:// URL");
}

Result<Backend> ReadBackend(const std::string& dir) {
  const std::string path = dir + "/" + kBackendFile;
  if (!fs::Exists(path)) return Backend{};
  auto text = fs::ReadFile(path);
  if (!text.ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || j.value("backend", "") != "postgres" || !j.contains("url") ||
      !j["url"].is_string() || !j.contains("schema") || !j["schema"].is_string() ||
      !pg::IsValidSchema(j["schema"].get<std::string>())) {
    return Status::InvalidArgument(path + " is not a swarm store record; it was not made by "
                                          "`swarm init --store postgres` or was damaged");
  }
  Backend b;
  b.kind = Backend::Kind::kPostgres;
  b.postgres.url = j["url"].get<std::string>();
  b.postgres.schema = j["schema"].get<std::string>();
  return b;
}

Status InitStore(const std::string& dir, const Backend& backend, const ClusterConfig& config) {
  if (backend.kind == Backend::Kind::kFs) return FsStore::Init(dir, config);
  if (fs::Exists(dir + "/" + kBackendFile) || fs::Exists(dir + "/cluster.json")) {
    return Status::InvalidArgument(dir + " is already a swarm coordination directory");
  }
  SWARM_RETURN_IF_ERROR(fs::CheckEmptyOrNew(dir));
  SWARM_RETURN_IF_ERROR(PgStore::Init(backend.postgres, config));
  SWARM_RETURN_IF_ERROR(fs::MakeDir(dir));
  SWARM_RETURN_IF_ERROR(fs::MakeDir(dir + "/tmp"));
  // The record last: its presence is what makes the directory usable.
  const nlohmann::json record = {
      {"backend", "postgres"}, {"url", backend.postgres.url}, {"schema", backend.postgres.schema}};
  return fs::WriteAtomic(dir + "/tmp", dir + "/" + kBackendFile, record.dump(2) + "\n");
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& dir, Clock* clock, Probe* probe) {
  auto backend = ReadBackend(dir);
  if (!backend.ok()) return backend.status();
  if (backend->kind == Backend::Kind::kPostgres) {
    auto store = PgStore::Open(backend->postgres, clock, probe);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(*store));
  }
  auto store = FsStore::Open(dir, clock, probe);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace swarm
