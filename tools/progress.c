/*
 * progress.c — terminal progress bar (see progress.h).
 */
#include "progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_MIN_REDRAW_MS 100
#define PROGRESS_BAR_WIDTH 30

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void progress_init(struct progress *pb, const char *label)
{
	memset(pb, 0, sizeof *pb);
	pb->label = label;
	pb->out = isatty(STDERR_FILENO) ? stderr : NULL;
}

static void draw(struct progress *pb, uint64_t done, uint64_t total, double t)
{
	double frac = total ? (double)done / (double)total : 1.0;
	double elapsed = t - pb->phase_start;
	char bar[PROGRESS_BAR_WIDTH + 1];
	int fill = (int)(frac * PROGRESS_BAR_WIDTH + 0.5);

	for (int i = 0; i < PROGRESS_BAR_WIDTH; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[PROGRESS_BAR_WIDTH] = 0;
	fprintf(pb->out, "\r%s %s [%s] %5.1f%% %6.1fs", pb->label, pb->phase, bar, 100.0 * frac,
		elapsed);
	if (frac > 0 && frac < 1)
		fprintf(pb->out, ", ~%.0fs left ", elapsed * (1 - frac) / frac);
	else
		fprintf(pb->out, "%14s", "");
	fflush(pb->out);
	pb->drawn = 1;
	pb->last_draw = t;
}

void progress_update(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	struct progress *pb = arg;
	double t;

	if (!pb->out)
		return;
	t = now_s();
	if (strncmp(pb->phase, phase, sizeof pb->phase - 1)) {
		if (pb->drawn)
			fputc('\n', pb->out);
		snprintf(pb->phase, sizeof pb->phase, "%s", phase);
		pb->phase_start = t;
		pb->drawn = 0;
	} else if (done < total && (t - pb->last_draw) * 1000 < PROGRESS_MIN_REDRAW_MS) {
		return;
	}
	draw(pb, done, total, t);
}

void progress_finish(struct progress *pb)
{
	if (pb->out && pb->drawn)
		fputc('\n', pb->out);
	pb->drawn = 0;
}
