/* test_util.c - the fork generation and the per-process page (util.c): a child, and a
 * child of that child, each get a generation of their own, stable within the process; the
 * per-process memory reads as zeros in a child and the parent keeps its own. Each check
 * runs in a forked child that reports by its exit status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "rg.h"

/* Run fn in a child; its exit status. */
static int in_child(int (*fn)(uint64_t parent_gen), uint64_t parent_gen)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(parent_gen));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* In a grandchild: its generation differs from its parent's (and the first process's). */
static uint64_t first_gen;

static int grandchild(uint64_t parent_gen)
{
	uint64_t g = util_fork_generation();

	return g == parent_gen ? 3 : g == first_gen ? 4 : g != util_fork_generation() ? 5 : 0;
}

/* In a child: a generation of its own, stable; and so for its own child. */
static int child(uint64_t parent_gen)
{
	uint64_t g = util_fork_generation();

	if (g == parent_gen)
		return 1;
	if (g != util_fork_generation())
		return 2;
	return in_child(grandchild, g);
}

static void test_generation(void **state)
{
	(void)state;
	first_gen = util_fork_generation();
	assert_true(first_gen != 0);
	assert_true(first_gen == util_fork_generation());
	assert_int_equal(in_child(child, first_gen), 0);
	/* The parent's own is unchanged by its children. */
	assert_true(first_gen == util_fork_generation());
}

static unsigned char *area;

/* In a child: the per-process memory reads as zeros; what it writes stays its own. */
static int child_area(uint64_t unused)
{
	size_t i;

	(void)unused;
	for (i = 0; i < 64; i++)
		if (area[i] != 0)
			return 1;
	memset(area, 0x5a, 64);
	return 0;
}

static void test_proc_area(void **state)
{
	size_t i;

	(void)state;
	area = util_proc_alloc(64);
	assert_non_null(area);
	memset(area, 0xa5, 64);
	assert_int_equal(in_child(child_area, 0), 0);
	for (i = 0; i < 64; i++)
		assert_int_equal(area[i], 0xa5);
	/* More than the page holds: NULL, not memory of someone else's. */
	assert_null(util_proc_alloc(8192));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generation),
		cmocka_unit_test(test_proc_area),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
