/*
 * writefault: a blob got from the store is read-only for the process that
 * maps it: a store through the pointer faults (SIGSEGV), and asking the
 * kernel to make the mapping writable is refused (EACCES), so no client can
 * change bytes others read.
 *
 *   writefault ID|NAME
 *
 * Prints write=SIGSEGV, mprotect=EACCES, unchanged=yes. Exits 0 when all
 * held.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include "helpers.h"

static sigjmp_buf jb;

static void
on_segv(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

int
main(int argc, char **argv)
{
	struct vy_client *c = must_connect();
	struct vy_object *o;
	volatile unsigned char *p;
	unsigned char before;
	uintptr_t page;
	struct sigaction sa;
	int faulted = 0, fails = 0;

	if (argc != 2)
		die("usage: writefault ID|NAME");
	if (vy_get(c, must_resolve(c, argv[1]), &o))
		die("get: %s", vy_errmsg(c));
	if (vy_object_nbytes(o) == 0)
		die("an empty blob has no bytes to write");
	p = (volatile unsigned char *)(uintptr_t)vy_object_data(o);
	before = p[0];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_segv;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(jb, 1) == 0)
		p[0] = (unsigned char)(before + 1);
	else
		faulted = 1;
	printf("write=%s\n", faulted ? "SIGSEGV" : "ALLOWED");
	fails += !faulted;
	page = (uintptr_t)p & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
	if (mprotect((void *)page, (size_t)sysconf(_SC_PAGESIZE),
		     PROT_READ | PROT_WRITE) == 0) {
		printf("mprotect=ALLOWED\n");
		fails++;
	} else {
		printf("mprotect=%s\n", errno == EACCES ? "EACCES" :
		       strerror(errno));
		fails += errno != EACCES;
	}
	printf("unchanged=%s\n", p[0] == before ? "yes" : "no");
	fails += p[0] != before;
	vy_object_release(c, o);
	vy_close(c);
	return fails ? 1 : 0;
}
