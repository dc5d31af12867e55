/* report.c: STUB, replaced by the issue #5 work (see report.h). */
#include "certsvc/report.h"

enum cs_rc
report_init(struct svc *svc, struct cs_err *err)
{
	(void)svc;
	(void)err;
	return CS_OK;
}

void
report_free(struct svc *svc)
{
	(void)svc;
}

enum cs_rc
report_refresh(struct svc *svc, struct cs_err *err)
{
	(void)svc;
	(void)err;
	return CS_OK;
}
