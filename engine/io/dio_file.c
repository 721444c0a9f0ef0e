/*
 * dio_file.c — opening files for direct reads (see dio.h).
 *
 * O_DIRECT bypasses the page cache, so the engine's own caches decide what
 * stays in RAM and a 4 KiB read costs one device read. Some filesystems
 * refuse it at open (ramfs, procfs; tmpfs before Linux 6.6): the file is then
 * read through the page cache, which is correct but changes what a
 * benchmark measures, so the first such file is a warning and later ones a
 * debug note.
 */
#include "dio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../error.h"
#include "../log.h"

static atomic_int warned_buffered;

int dio_file_open(const char *path, struct dio_file *out)
{
	struct stat st;
	int fd, direct = 1;

	out->fd = -1;
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0 && errno == EINVAL) {
		direct = 0;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno, "opening %s for reading",
				       path);
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return dann_fail_errno(DANN_EIO, e, "stat %s", path);
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		close(fd);
		return dann_fail(DANN_EINVAL, "%s: not a regular file or block device", path);
	}
	out->bytes = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &out->bytes) < 0) {
		int e = errno;

		close(fd);
		return dann_fail_errno(DANN_EIO, e, "%s: reading the block device's size", path);
	}
	if (!direct)
		dann_log_once(&warned_buffered, DANN_LOG_WARN, "io",
			      "%s: the filesystem refuses O_DIRECT; reading it through the page cache "
			      "(later files like it are logged at debug level)",
			      path);
	out->fd = fd;
	out->direct = direct;
	return 0;
}

void dio_file_close(struct dio_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}
