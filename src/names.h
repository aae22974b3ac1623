/*
 * names: the name -> object bindings. A name is 1-255 bytes of printable
 * UTF-8 without '/', is not "." or "..", and does not look like an object id
 * (o + 16 hex digits), because names are file names in the mount and the CLI
 * takes either. Binding an existing name re-points it. Each object links the
 * names bound to it, so deleting it drops them. Caller holds the store lock.
 */
#ifndef VY_NAMES_H
#define VY_NAMES_H

#include <stddef.h>
#include <stdint.h>

struct object;

struct name {
	struct object *obj;
	struct name *next_of_obj; /* other names of obj */
	uint32_t uid, gid;        /* who bound it first (set by the store) */
	uint32_t hash;
	uint16_t len;
	char str[];               /* len bytes + NUL */
};

struct names {
	struct name **slots; /* cap entries, NULL = empty */
	size_t cap;
	size_t count;
};

#define NAMES_MAX_LEN 255

void names_init(struct names *t);
/* Frees every name; objects' name lists are left dangling. */
void names_release(struct names *t);
/* 0, or -EINVAL with a reason in why (a static string). */
int names_check(const char *s, size_t len, const char **why);
struct name *names_get(const struct names *t, const char *s, size_t len);
/* Binds s to o, moving it from any object it named before; *old gets that
 * object or NULL. The name must be valid. */
struct name *names_bind(struct names *t, const char *s, size_t len,
			struct object *o, struct object **old);
/* Unbinds and frees n. */
void names_drop(struct names *t, struct name *n);
/* Drops every name of o. */
void names_drop_object(struct names *t, struct object *o);
/* Iteration as in idtab_next. */
struct name *names_next(const struct names *t, size_t *pos);

#endif
