// The forwarding definitions of the libpq functions the PostgreSQL backend
// uses (pq_lazy.h). Each resolves to libpq.so.5's own, found in that library
// by dlsym on its handle, never in this program (whose definitions these are).
#include "coordinator/pq_lazy.h"

#include <dlfcn.h>
#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

// Every libpq function the backend calls: name, return type, parameters,
// arguments. A function missing here is an undefined symbol at link time.
#define SWARM_PQ_FUNCTIONS(X)                                                                      \
  X(PQbackendPID, int, (const PGconn* c), (c))                                                     \
  X(PQclear, void, (PGresult * r), (r))                                                            \
  X(PQcmdTuples, char*, (PGresult * r), (r))                                                       \
  X(PQconnectPoll, PostgresPollingStatusType, (PGconn * c), (c))                                   \
  X(PQconnectStartParams, PGconn*, (const char* const* k, const char* const* v, int e), (k, v, e)) \
  X(PQconsumeInput, int, (PGconn * c), (c))                                                        \
  X(PQenterPipelineMode, int, (PGconn * c), (c))                                                   \
  X(PQerrorMessage, char*, (const PGconn* c), (c))                                                 \
  X(PQexitPipelineMode, int, (PGconn * c), (c))                                                    \
  X(PQfinish, void, (PGconn * c), (c))                                                             \
  X(PQflush, int, (PGconn * c), (c))                                                               \
  X(PQgetResult, PGresult*, (PGconn * c), (c))                                                     \
  X(PQgetisnull, int, (const PGresult* r, int t, int f), (r, t, f))                                \
  X(PQgetvalue, char*, (const PGresult* r, int t, int f), (r, t, f))                               \
  X(PQhost, char*, (const PGconn* c), (c))                                                         \
  X(PQisBusy, int, (PGconn * c), (c))                                                              \
  X(PQntuples, int, (const PGresult* r), (r))                                                      \
  X(PQpipelineSync, int, (PGconn * c), (c))                                                        \
  X(PQport, char*, (const PGconn* c), (c))                                                         \
  X(PQresultErrorField, char*, (const PGresult* r, int f), (r, f))                                 \
  X(PQresultErrorMessage, char*, (const PGresult* r), (r))                                         \
  X(PQresultStatus, ExecStatusType, (const PGresult* r), (r))                                      \
  X(PQsendQuery, int, (PGconn * c, const char* q), (c, q))                                         \
  X(PQsendQueryParams, int,                                                                        \
    (PGconn * c, const char* q, int n, const Oid* t, const char* const* v, const int* l,           \
     const int* f, int rf),                                                                        \
    (c, q, n, t, v, l, f, rf))                                                                     \
  X(PQsetNoticeProcessor, PQnoticeProcessor, (PGconn * c, PQnoticeProcessor p, void* a),           \
    (c, p, a))                                                                                     \
  X(PQsocket, int, (const PGconn* c), (c))                                                         \
  X(PQstatus, ConnStatusType, (const PGconn* c), (c))

namespace swarm::pq {
namespace {

constexpr const char* kLibrary = "libpq.so.5";

struct Api {
#define SWARM_PQ_POINTER(name, ret, params, args) ret(*name) params = nullptr;
  SWARM_PQ_FUNCTIONS(SWARM_PQ_POINTER)
#undef SWARM_PQ_POINTER
};

Api api;
Status loaded = Status::Ok();
std::once_flag once;

void Open() {
  void* handle = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    loaded = Status::InvalidArgument(std::string("the PostgreSQL backend needs ") + kLibrary +
                                     ", which cannot be loaded (" +
                                     (why != nullptr ? why : "unknown error") +
                                     "); install libpq5 (Debian: apt-get install "
                                     "libpq5)");
    return;
  }
#define SWARM_PQ_RESOLVE(name, ret, params, args)                                                 \
  api.name = reinterpret_cast<ret(*) params>(dlsym(handle, #name));                               \
  if (api.name == nullptr) {                                                                      \
    loaded = Status::InvalidArgument(                                                             \
        std::string(kLibrary) + " has no " #name "; install a libpq5 of PostgreSQL 14 or later"); \
    return;                                                                                       \
  }
  SWARM_PQ_FUNCTIONS(SWARM_PQ_RESOLVE)
#undef SWARM_PQ_RESOLVE
}

// The table, once Load succeeded. A call before that is a bug in the
// backend, not a condition to handle: it stops the process with the reason.
const Api& Loaded(const char* name) {
  if (Status s = Load(); !s.ok()) {
    std::fprintf(stderr, "swarm: %s called without libpq: %s\n", name, s.ToString().c_str());
    std::abort();
  }
  return api;
}

}  // namespace

Status Load() {
  std::call_once(once, Open);
  return loaded;
}

}  // namespace swarm::pq

extern "C" {
#define SWARM_PQ_FORWARD(name, ret, params, args) \
  ret name params { return swarm::pq::Loaded(#name).name args; }
SWARM_PQ_FUNCTIONS(SWARM_PQ_FORWARD)
#undef SWARM_PQ_FORWARD
}
