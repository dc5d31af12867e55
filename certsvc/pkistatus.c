/* pkistatus.c: STUB, replaced by the issue #5 work (see pkistatus.h). */
#include "certsvc/pkistatus.h"

enum cs_rc
pkistatus_init(struct svc *svc, struct cs_err *err)
{
	(void)svc;
	(void)err;
	return CS_OK;
}

void
pkistatus_free(struct svc *svc)
{
	(void)svc;
}

enum cs_rc
pkistatus_refresh(struct svc *svc, struct cs_err *err)
{
	(void)svc;
	(void)err;
	return CS_OK;
}
