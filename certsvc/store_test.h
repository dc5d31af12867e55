/*
 * store_test.h: fault injection into the store, for tests only (STYLE.md
 * section 7: "a store double failing its Nth call").  No production code
 * includes this header.
 */
#ifndef CERTSVC_STORE_TEST_H
#define CERTSVC_STORE_TEST_H

#include "certsvc/store.h"

/*
 * Make the nth statement step from now on (n >= 1) fail as a disk I/O
 * error would: the statement is not run and the call returns CS_ERR_STORE.
 * Every step counts (BEGIN, SAVEPOINT, RELEASE, each row of a read,
 * COMMIT) except ROLLBACK and ROLLBACK TO a savepoint (with the RELEASE
 * that closes it), which never fail here.  The failure fires once; n <= 0
 * disarms it.
 */
void store_test_fail_after(struct store *st, int n);

#endif
