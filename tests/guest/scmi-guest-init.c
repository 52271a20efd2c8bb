/*
 * /init of the arm64 guest that checks drivervm's SCMI platform through the Linux kernel's
 * own SCMI stack. It mounts the pseudo filesystems, prints what the kernel's drivers made
 * of the platform (clk_summary, genpd summary, hwmon readings), then sends the raw SCMI
 * messages listed in /checks.txt through /sys/kernel/debug/scmi/0/raw and prints every
 * reply as hex words, one line each, for the host-side test to judge. Then it powers off.
 *
 * /checks.txt lines:
 *   sync  NAME PROTO MSG TOKEN [PARAM...]   one command, one reply        -> RAW NAME w0 w1 ...
 *   async NAME PROTO MSG TOKEN [PARAM...]   reply and delayed response    -> RAW NAME ... and
 *                                                                            RAW NAME.delayed ...
 *   notif NAME                              next notification (5 s max)   -> RAW NAME ...
 *   cat   PATH                              a file, between BEGIN/END markers
 * Numbers are C literals (0x.. allowed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

#define RAW "/sys/kernel/debug/scmi/0/raw"

static void cat(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	printf("BEGIN %s\n", path);
	if (fd < 0) {
		printf("MISSING %s: %s\n", path, strerror(errno));
	} else {
		fflush(stdout);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			fwrite(buf, 1, n, stdout);
		close(fd);
	}
	printf("END %s\n", path);
	fflush(stdout);
}

/* Reads one message (the file gives EOF at each message boundary) and prints it. */
static void print_reply(const char *name, int fd, int timeout_ms)
{
	uint8_t buf[256];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n, i;

	if (poll(&p, 1, timeout_ms) <= 0) {
		printf("RAW %s TIMEOUT\n", name);
		fflush(stdout);
		return;
	}
	/* One message, then the EOF that marks its end. */
	n = 0;
	for (;;) {
		ssize_t got = read(fd, buf + n, sizeof(buf) - n);

		if (got < 0) {
			printf("RAW %s ERROR %s\n", name, strerror(errno));
			fflush(stdout);
			return;
		}
		if (got == 0 || n + got >= (ssize_t)sizeof(buf)) {
			n += got;
			break;
		}
		n += got;
	}
	printf("RAW %s", name);
	for (i = 0; i + 3 < n; i += 4)
		printf(" %08x", buf[i] | buf[i + 1] << 8 | buf[i + 2] << 16 |
		       (uint32_t)buf[i + 3] << 24);
	printf("\n");
	fflush(stdout);
}

static void command(const char *file, const char *name, char *args, int replies)
{
	uint8_t msg[128];
	size_t len = 4;
	uint32_t words[4], w;
	char *tok;
	int i, fd;

	for (i = 0; i < 3; i++) {
		tok = strtok(i ? NULL : args, " \t\n");
		words[i] = tok ? strtoul(tok, NULL, 0) : 0;
	}
	w = (words[1] & 0xff) | (words[0] & 0xff) << 10 | (words[2] & 0x3ff) << 18;
	memcpy(msg, &w, 4);
	while ((tok = strtok(NULL, " \t\n")) && len + 4 <= sizeof(msg)) {
		w = strtoul(tok, NULL, 0);
		memcpy(msg + len, &w, 4);
		len += 4;
	}
	fd = open(file, O_RDWR);
	if (fd < 0) {
		printf("RAW %s OPEN %s\n", name, strerror(errno));
		return;
	}
	if (write(fd, msg, len) != (ssize_t)len) {
		printf("RAW %s WRITE %s\n", name, strerror(errno));
		close(fd);
		return;
	}
	print_reply(name, fd, 5000);
	if (replies > 1) {
		char delayed[96];

		snprintf(delayed, sizeof(delayed), "%s.delayed", name);
		print_reply(delayed, fd, 5000);
	}
	close(fd);
}

static void hwmon(void)
{
	DIR *d = opendir("/sys/class/hwmon");
	struct dirent *e;
	char path[512];

	if (!d) {
		printf("MISSING /sys/class/hwmon\n");
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/hwmon/%s/name", e->d_name);
		cat(path);
		snprintf(path, sizeof(path), "/sys/class/hwmon/%s/temp1_input", e->d_name);
		cat(path);
		snprintf(path, sizeof(path), "/sys/class/hwmon/%s/temp1_label", e->d_name);
		cat(path);
	}
	closedir(d);
}

int main(void)
{
	char line[512];
	FILE *checks;

	int console;

	/* The initramfs carries no device nodes (building it needs no privilege): take the
	 * console from devtmpfs. */
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	console = open("/dev/console", O_RDWR);
	if (console >= 0) {
		dup2(console, 0);
		dup2(console, 1);
		dup2(console, 2);
	}
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("GUEST-INIT-START\n");
	cat("/sys/kernel/debug/clk/clk_summary");
	cat("/sys/kernel/debug/pm_genpd/pm_genpd_summary");
	hwmon();
	checks = fopen("/checks.txt", "r");
	if (!checks)
		printf("MISSING /checks.txt\n");
	while (checks && fgets(line, sizeof(line), checks)) {
		char kind[16], name[64];
		int off = 0;

		if (sscanf(line, "%15s %63s %n", kind, name, &off) < 2)
			continue;
		if (!strcmp(kind, "sync"))
			command(RAW "/message", name, line + off, 1);
		else if (!strcmp(kind, "async"))
			command(RAW "/message_async", name, line + off, 2);
		else if (!strcmp(kind, "notif")) {
			int fd = open(RAW "/notification", O_RDONLY);

			if (fd < 0)
				printf("RAW %s OPEN %s\n", name, strerror(errno));
			else {
				print_reply(name, fd, 5000);
				close(fd);
			}
		} else if (!strcmp(kind, "cat"))
			cat(name);
	}
	printf("GUEST-INIT-DONE\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
