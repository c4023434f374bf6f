// The search space of explore (sim/explore.h) as RapidCheck sees it: one
// generator per knob, composed into one generator of every knob's value
// whose shrink tree proposes the smaller cases. Internal to the explore
// library: the search (explore.cc) draws cases and shrink trees here.
#pragma once

#include <rapidcheck.h>

#include <cstdint>
#include <vector>

#include "sim/explore.h"
#include "sim/rng.h"

namespace faultline::explore_space {

using Values = std::vector<int64_t>;

// The `index`-th draw of the search seeded by `master`: one value per knob,
// with their shrinks. Sizes ramp up with `index` and start again.
rc::Shrinkable<Values> DrawValues(const std::vector<ExploreKnob>& knobs, uint64_t master,
                                  int64_t index);

// The shrink tree of given values: a given case shrinks the way a drawn one does.
rc::Shrinkable<Values> TreeOf(const std::vector<ExploreKnob>& knobs, const Values& values);

// A run seed from `rng`, below 2^32 so that people can type it.
uint64_t SmallSeed(const Rng& rng);

// The run seed of the `index`-th draw of the search seeded by `master`.
uint64_t DrawSeed(uint64_t master, int64_t index);

}  // namespace faultline::explore_space
