#include <stdio.h>
/* Linked into the sched_ext selftest runner: line-buffered stdout, so that the children
 * its tests fork and that exit() do not flush a copy of the runner's pending output. */
__attribute__((constructor)) static void line_buffered(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
