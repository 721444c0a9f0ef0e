/*
 * blas_scope.c — reference-counted OpenBLAS thread count (see blas_scope.h).
 *
 * The counter is global because what it guards is: OpenBLAS keeps one
 * thread count per process.
 */
#include "blas_scope.h"

#include <cblas.h>
#include <pthread.h>

static pthread_mutex_t scope_lock = PTHREAD_MUTEX_INITIALIZER;
static int scope_users, scope_saved;

void blas_scope_enter(int n)
{
	pthread_mutex_lock(&scope_lock);
	if (scope_users++ == 0) {
		scope_saved = openblas_get_num_threads();
		openblas_set_num_threads(n > 0 ? n : 1);
	}
	pthread_mutex_unlock(&scope_lock);
}

void blas_scope_leave(void)
{
	pthread_mutex_lock(&scope_lock);
	if (scope_users > 0 && --scope_users == 0)
		openblas_set_num_threads(scope_saved);
	pthread_mutex_unlock(&scope_lock);
}
