/*
 * lmdb_pin.c - test helper: hold an LMDB file open, as a process that dies in the middle of
 * a read would leave it (t_sigkill.sh).
 *
 *   lmdb_pin FILE pin    open FILE (MDB_NOSUBDIR), begin a read transaction, print
 *                        "pinned PID TXNID", then wait (to be killed with SIGKILL: its reader
 *                        slot then pins that snapshot until someone runs mdb_reader_check)
 *   lmdb_pin FILE hold   open FILE, print "holding PID", then wait (keeps the lock file in
 *                        use, so that the next opener cannot reset the reader table)
 *
 * Exit status: 64 usage, 1 LMDB error (message on stderr).
 */
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	MDB_env *env;
	MDB_txn *txn;
	int rc, pin;

	if (argc != 3 || (strcmp(argv[2], "pin") != 0 && strcmp(argv[2], "hold") != 0)) {
		fprintf(stderr, "usage: lmdb_pin FILE pin|hold\n");
		return 64;
	}
	pin = strcmp(argv[2], "pin") == 0;
	if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxreaders(env, 1024)) != 0 ||
	    (rc = mdb_env_open(env, argv[1], MDB_NOSUBDIR | MDB_RDONLY | MDB_NOTLS, 0660)) != 0) {
		fprintf(stderr, "lmdb_pin: %s: %s\n", argv[1], mdb_strerror(rc));
		return 1;
	}
	if (pin) {
		if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
			fprintf(stderr, "lmdb_pin: begin: %s\n", mdb_strerror(rc));
			return 1;
		}
		printf("pinned %ld %zu\n", (long)getpid(), (size_t)mdb_txn_id(txn));
	} else {
		printf("holding %ld\n", (long)getpid());
	}
	fflush(stdout);
	for (;;)
		pause();
}
