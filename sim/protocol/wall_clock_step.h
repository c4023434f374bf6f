/* The step page of a stepped wall clock, shared by the simulator (which
 * writes it) and libfaultline_wallclock.so (which reads it inside a process):
 * a file of exactly one int64_t, the microseconds the process's wall clock
 * reads ahead of its boot clock (the sum of the clock_step fault's steps),
 * accessed with the GCC __atomic builtins on both sides. The process finds
 * the file through the environment variable below. Plain C. */
#ifndef FAULTLINE_SIM_PROTOCOL_WALL_CLOCK_STEP_H_
#define FAULTLINE_SIM_PROTOCOL_WALL_CLOCK_STEP_H_

#define FAULTLINE_WALL_STEP_ENV "FAULTLINE_WALL_STEP"
/* The library's file name, as built into build-X/lib. */
#define FAULTLINE_WALL_CLOCK_LIBRARY "libfaultline_wallclock.so"

#endif /* FAULTLINE_SIM_PROTOCOL_WALL_CLOCK_STEP_H_ */
