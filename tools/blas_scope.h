/*
 * blas_scope.h — OpenBLAS's thread count for the span of one computation.
 *
 * The count is process-wide, so a caller that changes it must put it back,
 * and callers that overlap in time (ground truth run from two threads of
 * one process) must not put back each other's setting: the first scope to
 * open saves the count and sets it, the last to close restores it. While
 * scopes overlap the count stays what the first set; a later scope asking
 * for another count runs with that one (only its speed changes).
 */
#ifndef DANN_BLAS_SCOPE_H
#define DANN_BLAS_SCOPE_H

/* Opens a scope in which OpenBLAS runs n threads (n >= 1). */
void blas_scope_enter(int n);
/* Closes the scope opened last by this caller. */
void blas_scope_leave(void);

#endif
