// The coordinator's names for the error types of base/status.h.
//
// Status and Result<T> live in base/ (the leaf library the harness shares);
// the coordinator spells them unqualified throughout namespace swarm, so this
// header brings them in once. It is the only place that does.
#pragma once

#include "base/status.h"

namespace swarm {

using base::Result;
using base::Status;

}  // namespace swarm

// The coordinator's spelling of BASE_RETURN_IF_ERROR.
#define SWARM_RETURN_IF_ERROR(expr) BASE_RETURN_IF_ERROR(expr)
