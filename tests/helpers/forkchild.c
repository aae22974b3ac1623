/*
 * forkchild: a connection used in a fork child must fail cleanly with
 * -ECHILD (and say so), never share the parent's stream; a new connection
 * in the child works, and the parent's connection is unharmed, including
 * the blob it has mapped.
 *
 *   forkchild
 *
 * Prints child_rc=, child_msg=, child_new=ok, parent=ok. Exits 0 when all
 * held.
 */
#include <sys/wait.h>

#include "helpers.h"

int
main(void)
{
	struct vy_client *c = must_connect();
	struct vy_object *o;
	const char *data;
	char *json;
	vy_id id;
	pid_t pid;
	int st, rc;

	if (vy_put_blob(c, "parent's bytes", 14, &id) || vy_get(c, id, &o))
		die("put/get: %s", vy_errmsg(c));
	data = vy_object_data(o);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct vy_client *c2;

		rc = vy_status_json(c, &json);
		printf("child_rc=%d\nchild_msg=%s\n", rc, vy_errmsg(c));
		if (rc != -ECHILD || !strstr(vy_errmsg(c), "fork"))
			_exit(2);
		/* every entry point refuses, none touches the stream */
		if (vy_put_blob(c, "x", 1, &id) != -ECHILD ||
		    vy_name_put(c, "x", id) != -ECHILD)
			_exit(3);
		/* the mapping inherited from the parent is still readable */
		if (memcmp(data, "parent's bytes", 14))
			_exit(4);
		vy_object_release(c, o); /* no-op in the child */
		vy_close(c);
		c2 = must_connect();
		if (vy_status_json(c2, &json))
			_exit(5);
		free(json);
		printf("child_new=ok\n");
		fflush(stdout);
		vy_close(c2);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		die("child died");
	printf("child_exit=%d\n", WEXITSTATUS(st));
	rc = vy_status_json(c, &json);
	if (rc)
		die("parent after fork: %s", vy_errmsg(c));
	free(json);
	if (memcmp(data, "parent's bytes", 14))
		die("parent's mapping changed");
	vy_object_release(c, o);
	printf("parent=ok\n");
	vy_close(c);
	return WEXITSTATUS(st);
}
