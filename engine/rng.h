/*
 * rng.h — splitmix64, the one small seedable generator of the library.
 *
 * k-means sampling and seeding, the graph build's insertion order and the
 * data generator all draw from it, so a seed means the same sequence
 * everywhere. The state is the caller's (no global state): any number of
 * threads may each draw from their own. Steele, Lea and Flood, "Fast
 * splittable pseudorandom number generators" (OOPSLA 2014).
 */
#ifndef DANN_RNG_H
#define DANN_RNG_H

#include <stdint.h>

/* Advances *state and returns the next 64 random bits. */
static inline uint64_t rng_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
