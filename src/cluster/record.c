/*
 * record: writing and reading the owner keys of a published object's
 * record ("uid", "gid", "mode"; see record.h). Reading is strict: a value
 * that is not exactly what a daemon writes counts as no owner at all, so
 * a damaged record never grants more than an old one would.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cluster/record.h"
#include "store.h"
#include "banned.h"

void
record_set_owner(json_t *rec, const struct store_perm *p)
{
	char mode[8];

	snprintf(mode, sizeof(mode), "%04o", (unsigned)p->mode);
	json_object_set_new(rec, "uid", json_integer(p->uid));
	json_object_set_new(rec, "gid", json_integer(p->gid));
	json_object_set_new(rec, "mode", json_string(mode));
}

/* A uid or gid: an integer from 0 to 2^32-2 ((uid_t)-1 means none). */
static int
id_value(json_t *v, uint32_t *out)
{
	json_int_t i;

	if (!json_is_integer(v))
		return -1;
	i = json_integer_value(v);
	if (i < 0 || i >= (json_int_t)UINT32_MAX)
		return -1;
	*out = (uint32_t)i;
	return 0;
}

/* "0640", "640", "0": 1 to 4 octal digits, only read and write bits. */
static int
mode_value(json_t *v, uint16_t *out)
{
	const char *s = json_string_value(v);
	size_t n, i;
	unsigned m = 0;

	if (!s || (n = strlen(s)) == 0 || n > 4)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		m = m * 8 + (unsigned)(s[i] - '0');
	}
	if (m & ~STORE_MODE_BITS)
		return -1;
	*out = (uint16_t)m;
	return 0;
}

int
record_owner(json_t *rec, struct store_perm *p, const char **why)
{
	json_t *u = json_object_get(rec, "uid"), *g = json_object_get(rec, "gid"),
	       *m = json_object_get(rec, "mode");
	struct store_perm q;

	if (!u && !g && !m)
		return 0;
	if (!u || !g || !m) {
		*why = "it has only some of \"uid\", \"gid\" and \"mode\"";
		return -EINVAL;
	}
	if (id_value(u, &q.uid) || id_value(g, &q.gid)) {
		*why = "its \"uid\" or \"gid\" is not an integer from 0 to "
		       "4294967294";
		return -EINVAL;
	}
	if (mode_value(m, &q.mode)) {
		*why = "its \"mode\" is not a string of octal digits with "
		       "only read and write bits (at most \"0666\")";
		return -EINVAL;
	}
	*p = q;
	return 1;
}
