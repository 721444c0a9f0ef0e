/*
 * rss.h — this test process's resident memory, for tests that hold a build
 * to a RAM budget (Criterion runs each test in its own process).
 */
#ifndef DANN_TEST_RSS_H
#define DANN_TEST_RSS_H

/* 1 under AddressSanitizer, whose quarantine and shadow memory make RSS
 * say nothing about the code under test. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_UNDER_ASAN 1
#endif
#endif
#ifndef RSS_UNDER_ASAN
#define RSS_UNDER_ASAN 0
#endif

/* VmRSS or VmHWM (key) of this process from /proc/self/status, in MiB. */
double rss_status_mib(const char *key);
/* Starts the high-water mark (VmHWM) afresh at the current RSS, so a peak
 * read afterwards belongs to what ran since. */
void rss_reset_peak(void);

#endif
