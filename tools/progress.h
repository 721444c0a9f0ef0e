/*
 * progress.h — a one-line progress bar for long CLI commands.
 *
 * It plugs into the library's dann_progress_fn hook. It draws only when
 * stderr is a terminal (so logs and pipes stay clean), redraws at most
 * every PROGRESS_MIN_REDRAW_MS or when the phase changes, and shows the
 * phase, a bar, the percentage, elapsed time and an estimate of the rest.
 */
#ifndef DANN_PROGRESS_H
#define DANN_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct progress {
	const char *label;   /* command name, e.g. "gt" */
	FILE *out;           /* NULL when disabled */
	char phase[32];      /* the phase being drawn */
	double phase_start;  /* seconds, monotonic */
	double last_draw;
	int drawn;           /* a line is on screen, not yet ended */
};

/* Enabled when stderr is a terminal; label prefixes the line. */
void progress_init(struct progress *pb, const char *label);
/* The dann_progress_fn: arg is a struct progress *. */
void progress_update(void *arg, const char *phase, uint64_t done, uint64_t total);
/* Ends the line if one was drawn. */
void progress_finish(struct progress *pb);

#endif
