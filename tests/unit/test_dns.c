/* test_dns.c - the resolver across fork(): a child abandons the context (and resolver
 * thread) it inherited and makes its own, and its dns_shutdown() leaves the parent's alone.
 * The DNS server is tests/tools/dnssim.py on loopback (every A name is 127.0.0.1). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "dns.h"

static pid_t sim = -1;
static struct settings s;

/* One A query for name within 2 s; its status. */
static int ask(const char *name)
{
	struct dns_query q;
	char err[RG_ERRLEN];

	memset(&q, 0, sizeof q);
	snprintf(q.name, sizeof q.name, "%s", name);
	q.type = DNS_T_A;
	if (dns_resolve(&s, &q, 1, util_monotonic_ms() + 2000, err, sizeof err) != RG_FOUND)
		return -1;
	if (q.status == RG_FOUND && (q.n != 1 || q.rr[0].addr[0] != 127))
		return -2;
	return q.status;
}

static int setup(void **state)
{
	char pf[64], buf[16] = "";
	FILE *f;

	(void)state;
	snprintf(pf, sizeof pf, "/tmp/test_dns.%d.port", (int)getpid());
	unlink(pf);
	sim = fork();
	if (sim == 0) {
		execlp("python3", "python3", "tests/tools/dnssim.py", "--port-file", pf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && buf[0] == '\0'; i++) {
		usleep(25000);
		if ((f = fopen(pf, "r")) != NULL) {
			if (fgets(buf, sizeof buf, f) == NULL)
				buf[0] = '\0';
			fclose(f);
		}
	}
	unlink(pf);
	config_defaults(&s);
	snprintf(s.dns.forward, sizeof s.dns.forward, "127.0.0.1@%d", atoi(buf));
	return atoi(buf) > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	dns_shutdown();
	if (sim > 0) {
		kill(sim, SIGTERM);
		waitpid(sim, NULL, 0);
	}
	return 0;
}

static void test_fork_live_context(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(ask("one.example"), RG_FOUND);      /* the parent's context is live */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The inherited context has no resolver thread here: using it would time out. */
		int ok = ask("two.example") == RG_FOUND;

		dns_shutdown();
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The child's shutdown did not touch the parent's context. */
	assert_int_equal(ask("three.example"), RG_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork_live_context),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
