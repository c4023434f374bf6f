// The systems under test faultline can run (sim/sut.h): the reference
// coordinator (a scenario without "sut") and external systems (a "sut" block:
// the command adapter or the control protocol). cli/ puts Systems() into the
// Catalog it hands the core.
#pragma once

#include "sim/sut.h"

namespace faultline::sut {

// The process-wide factory: stateless, thread-safe.
const SutFactory& Systems();

}  // namespace faultline::sut
