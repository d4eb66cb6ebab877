/*
 * progress: how far long work has got, told to whoever listens, without
 * the work ever waiting for the listener.
 *
 * The work (a load, a snapshot's checkpoints, hashing a backup tree, a
 * restore's filter) counts into a struct progress: progress_phase() says
 * what it does now, in what unit, out of how many; progress_add() counts
 * what is done, from any thread; progress_phase_end() closes the phase.
 * Those only take p->lock, held for a few stores, never across I/O nor a
 * call out.
 *
 * The listener runs on a thread of its own, the watcher (progress_start):
 * it copies the state under the lock, releases it, and only then hands the
 * copy to its callback (send a frame to a client, print a line) — the
 * store's rule, copy, release, send. A listener that blocks (a client that
 * stopped reading its socket) blocks only the watcher: the work goes on
 * and lets go of its locks. The watcher reports at most once an interval,
 * but the start and the end of every phase always, in order (a short
 * queue), so a listener sees each phase reach its end.
 *
 * Which progress the work counts into is its thread's current one:
 * progress_start() makes the new progress current on the calling thread
 * until progress_stop(). So a verb's handler starts a watcher and calls
 * into the store or the snapshot module, and the loops deep inside report
 * through progress_current() without every function on the way passing it
 * down. Work spread over threads of its own reads progress_current() once
 * and hands the pointer to them. With no watcher, progress_current() is
 * NULL and every function here is a no-op on NULL: a schedule's snapshots
 * and the unit tests report to nobody, at no cost.
 */
#ifndef SNAPFS_PROGRESS_H
#define SNAPFS_PROGRESS_H

#include <stdint.h>

/* One report: phase and unit are static strings ("checkpoint", "tablets"). */
struct progress_report {
	const char *phase;
	const char *unit;
	uint64_t done, total;
	int end; /* the phase's last report: done is final */
};

/* The listener, called on the watcher thread with no lock held. */
typedef void (*progress_fn)(void *arg, const struct progress_report *r);

struct progress;

/* Starts a watcher calling fn(arg, report) at most every interval_us (and
 * at each phase start and end), and makes the new progress the calling
 * thread's current one. 0, or -errno when the thread cannot start (then
 * nothing is reported and *out is NULL). */
int progress_start(struct progress **out, int64_t interval_us, progress_fn fn, void *arg);

/* Reports what is left to report, stops the watcher (waiting for a call
 * of fn under way: hold no lock when calling this), restores the thread's
 * previous current progress, and frees p. NULL is a no-op. */
void progress_stop(struct progress *p);

/* The calling thread's current progress, or NULL. */
struct progress *progress_current(void);

/* A new phase: done goes back to 0 (a phase still open is ended first). */
void progress_phase(struct progress *p, const char *phase, const char *unit, uint64_t total);
/* n more done (thread-safe). */
void progress_add(struct progress *p, uint64_t n);
/* The phase is over, at whatever count it reached. */
void progress_phase_end(struct progress *p);

/* The text of a report for people: "checkpoint 3/8 tablets (37%),
 * 1.5 tablets/s, ETA 4s", with the rate (units a second; none when <= 0)
 * and the ETA it gives; counts of bytes as KiB, MiB, ... when human is 1,
 * else exact (a rate of bytes always in KiB/s, MiB/s...). Returns buf. */
char *progress_format(const struct progress_report *r, double per_s, int human, char *buf,
		      unsigned len);

#endif
