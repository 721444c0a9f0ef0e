/*
 * runenv.c — one re-exec to fix load-time library settings (see runenv.h).
 */
#include "runenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "blascpu.h"

void runenv_ensure(char **argv)
{
	const char *core;
	int changed = 0;

	if (getenv("DANN_RUNENV_DONE"))
		return;
	if (!getenv("OMP_WAIT_POLICY")) {
		setenv("OMP_WAIT_POLICY", "passive", 1);
		changed = 1;
	}
	if ((core = blascpu_wanted_core()) != NULL) {
		fprintf(stderr, "dann: OpenBLAS chose a generic kernel for this CPU; "
				"using OPENBLAS_CORETYPE=%s\n", core);
		setenv("OPENBLAS_CORETYPE", core, 1);
		changed = 1;
	}
	if (!changed)
		return;
	setenv("DANN_RUNENV_DONE", "1", 1);
	execv("/proc/self/exe", argv);
	/* exec failed: run as we are, only slower. */
}
