/*
 * ctl_util: the helpers every vineyardctl subcommand uses: exit codes from
 * library errors, connecting, resolving ids and names, sizes for people,
 * JSON strings and the progress bar.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "banned.h"

int
exit_code(int rc)
{
	switch (rc) {
	case 0: return EX_OK;
	case -ENOENT: return EX_NOTFOUND;
	case -ENOSPC: case -EDQUOT: return EX_NOSPACE;
	case -ETIMEDOUT: return EX_TIMEOUT;
	case -EBUSY: return EX_INUSE;
	case -ENOTCONN: return EX_CLUSTER;
	case -EACCES: return EX_DENIED;
	case -EINVAL: return EX_USAGE;
	case -ECONNREFUSED: case -ECONNRESET: case -EPIPE: return EX_NODAEMON;
	}
	return EX_FAIL;
}

int
fail(struct vy_client *c, int rc, const char *what)
{
	const char *msg = c ? vy_errmsg(c) : "";

	fprintf(stderr, "%s: %s%s%s\n", prog, what, *what ? ": " : "",
		*msg ? msg : strerror(-rc));
	return exit_code(rc);
}

int
finish(struct vy_client *c, int rc, const char *what)
{
	if (rc)
		rc = fail(c, rc, what);
	vy_close(c);
	return rc;
}

/* --host HOST:PORT, with the token from --token-file or the environment. */
static int
connect_host(struct vy_client **c, char *err, size_t len)
{
	char host[256], tok[512] = "";
	const char *colon = strrchr(opt_host, ':'), *env;
	unsigned long port;
	char *end;
	size_t hl;

	if (!colon || colon == opt_host ||
	    (hl = (size_t)(colon - opt_host)) >= sizeof(host) ||
	    (port = strtoul(colon + 1, &end, 10)) == 0 || *end ||
	    port > 65535) {
		fprintf(stderr, "%s: --host %s: expected HOST:PORT\n", prog,
			opt_host);
		exit(EX_USAGE);
	}
	memcpy(host, opt_host, hl);
	host[hl] = '\0';
	if (opt_token_file) {
		FILE *f = fopen(opt_token_file, "re");

		if (!f || !fgets(tok, sizeof(tok), f)) {
			fprintf(stderr, "%s: --token-file %s: %s\n", prog,
				opt_token_file, f ? "empty" : strerror(errno));
			exit(EX_USAGE);
		}
		fclose(f);
		tok[strcspn(tok, "\r\n")] = '\0';
	} else if ((env = getenv("VINEYARD_RPC_TOKEN"))) {
		snprintf(tok, sizeof(tok), "%s", env);
	}
	return vy_connect_tcp(host, (unsigned)port, *tok ? tok : NULL, c, err,
			      len);
}

struct vy_client *
connect_or_die(void)
{
	struct vy_client *c;
	char err[600];
	int rc = opt_host ? connect_host(&c, err, sizeof(err)) :
		vy_connect_err(opt_socket, &c, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "%s: %s\n", prog, err);
		exit(rc == -ENOENT || rc == -ECONNREFUSED || rc == -EACCES ?
		     EX_NODAEMON : exit_code(rc));
	}
	return c;
}

/* Seconds from the command line as the library's int milliseconds:
 * clamped, because converting a double beyond INT_MAX is undefined (and
 * came out negative, i.e. no wait at all, for --timeout 1e7). */
int
seconds_to_ms(double s)
{
	if (!(s > 0))
		return 0;
	if (s >= INT_MAX / 1000.0)
		return INT_MAX;
	return (int)(s * 1000);
}

/* An id, or a name resolved now (waiting up to wait_ms). */
int
resolve(struct vy_client *c, const char *arg, int wait_ms, vy_id *id)
{
	if (vy_id_parse(arg, id) == 0)
		return 0;
	return vy_name_get(c, arg, wait_ms, id);
}

void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* ---- progress ---- */

static double
since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

void
progress_init(struct progress *p, const char *what, uint64_t total)
{
	p->on = !opt_quiet && isatty(2) && total >= (64u << 20);
	p->what = what;
	p->total = total;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
}

void
progress_show(struct progress *p, uint64_t done)
{
	char a[32], b[32], r[32];
	double t;
	int pct, i;

	if (!p->on)
		return;
	t = since(&p->t0);
	human_bytes(done, a, sizeof(a));
	human_bytes(p->total, b, sizeof(b));
	human_bytes(t > 0 ? (uint64_t)((double)done / t) : 0, r, sizeof(r));
	pct = p->total ? (int)(done * 100 / p->total) : 100;
	fprintf(stderr, "\r%s [", p->what);
	for (i = 0; i < 30; i++)
		fputc(i < pct * 30 / 100 ? '#' : '.', stderr);
	fprintf(stderr, "] %3d%% %s/%s %s/s ", pct, a, b, r);
	if (done >= p->total)
		fputc('\n', stderr);
}

static int
mode_error(const char *s, const char *why)
{
	fprintf(stderr, "%s: mode %s: %s\n", prog, s, why);
	return -EINVAL;
}

int
parse_mode(const char *s, unsigned *clear, unsigned *set)
{
	const char *p = s;
	unsigned c = 0, t = 0;

	if (*s >= '0' && *s <= '7') {
		char *end;
		unsigned long v = strtoul(s, &end, 8);

		if (*end || v > 0777)
			return mode_error(s, "expected an octal mode such as "
					  "0644, or one such as go+r");
		if (v & 0111)
			return mode_error(s, "execute bits mean nothing for "
					  "objects; read is 4, write 2");
		*clear = 0666;
		*set = (unsigned)v;
		return 0;
	}
	/* Clauses [ugoa]*[+-=][rw]*..., comma-separated, applied in turn:
	 * each (clear, set) folds into the ones before it. */
	while (*p) {
		unsigned who = 0;

		for (; *p && strchr("ugoa", *p); p++)
			who |= *p == 'u' ? 0700 : *p == 'g' ? 0070 :
			       *p == 'o' ? 0007 : 0777;
		if (!who)
			who = 0777;
		if (!*p || !strchr("+-=", *p))
			return mode_error(s, "expected [ugoa]*[+-=][rw]*, "
					  "such as go+r or u=rw,o=");
		while (*p && strchr("+-=", *p)) {
			char op = *p++;
			unsigned bits = 0, cc, ss;

			for (; *p && *p != ',' && !strchr("+-=", *p); p++) {
				if (*p == 'r')
					bits |= 0444;
				else if (*p == 'w')
					bits |= 0222;
				else if (*p == 'x' || *p == 'X')
					return mode_error(s, "execute bits "
							  "mean nothing for "
							  "objects");
				else
					return mode_error(s, "only r and w "
							  "may follow + - "
							  "=");
			}
			bits &= who;
			cc = op == '+' ? 0 : op == '-' ? bits : who & 0666;
			ss = op == '-' ? 0 : bits;
			t = (t & ~cc) | ss;
			c |= cc;
		}
		if (*p == ',')
			p++;
	}
	*clear = c;
	*set = t;
	return 0;
}

void
mode_string(unsigned mode, char out[10])
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	for (i = 0; i < 9; i++)
		out[i] = (mode & (0400u >> i)) ? rwx[i] : '-';
	out[9] = 0;
}

/* A few entries: a listing has few distinct owners, and each lookup may
 * read /etc/passwd. */
struct idname {
	uint32_t id;
	int used;
	char name[32];
};

static const char *
id_name(struct idname *cache, size_t n, uint32_t id, int group)
{
	size_t i, slot = (size_t)id % n;

	for (i = 0; i < n; i++)
		if (cache[i].used && cache[i].id == id)
			return cache[i].name;
	cache[slot].used = 1;
	cache[slot].id = id;
	if (group) {
		struct group *g = getgrgid((gid_t)id);

		if (g && strlen(g->gr_name) < sizeof(cache[slot].name)) {
			snprintf(cache[slot].name, sizeof(cache[slot].name),
				 "%s", g->gr_name);
			return cache[slot].name;
		}
	} else {
		struct passwd *pw = getpwuid((uid_t)id);

		if (pw && strlen(pw->pw_name) < sizeof(cache[slot].name)) {
			snprintf(cache[slot].name, sizeof(cache[slot].name),
				 "%s", pw->pw_name);
			return cache[slot].name;
		}
	}
	snprintf(cache[slot].name, sizeof(cache[slot].name), "%" PRIu32, id);
	return cache[slot].name;
}

const char *
user_name(uint32_t uid)
{
	static struct idname cache[16];

	return id_name(cache, 16, uid, 0);
}

const char *
group_name(uint32_t gid)
{
	static struct idname cache[16];

	return id_name(cache, 16, gid, 1);
}
