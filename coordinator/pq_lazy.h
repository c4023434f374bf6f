// libpq, loaded when the PostgreSQL backend first needs it.
//
// swarm does not link libpq: pq_lazy.cc defines the libpq functions the
// backend calls and forwards each to libpq.so.5, opened with dlopen on the
// first Load. A process on the fs backend — every agent of a directory —
// then starts without mapping and relocating libpq and the two dozen
// libraries it pulls in (Kerberos, LDAP, TLS), which was most of the
// start-up time of a short-lived agent.
#pragma once

#include "coordinator/status.h"

namespace swarm::pq {

// Opens libpq.so.5 and resolves every function the backend uses, once per
// process; later calls return the first outcome. InvalidArgument naming the
// library and what to install when it cannot be loaded. No other libpq
// function may be called before a Load that succeeded.
Status Load();

}  // namespace swarm::pq
