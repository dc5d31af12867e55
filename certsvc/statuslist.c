/* statuslist.c: STUB, replaced by the issue #5 work (see statuslist.h). */
#include "certsvc/statuslist.h"

enum cs_rc
statuslist_init(struct svc *svc, struct cs_err *err)
{
	(void)svc;
	(void)err;
	return CS_OK;
}

void
statuslist_free(struct svc *svc)
{
	(void)svc;
}

enum cs_rc
statuslist_refresh(struct svc *svc, struct cs_err *err)
{
	(void)svc;
	(void)err;
	return CS_OK;
}
