/* A minimal agent of this project: one yield point and one event, so that
 * faultline could drive it in lockstep (docs/protocol.md). */
#include <faultline/faultline_agent.h>

int main(void) {
  fl_start("agent", "a1");
  fl_yield("claim.locked", "item-1");
  fl_sleep_us(1000);
  return 0;
}
