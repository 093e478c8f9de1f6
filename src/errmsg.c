/*
 * errmsg.c - setting a caller's error message (include/errmsg.h).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "errmsg.h"

void errmsg_set(char **errmsg, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (!errmsg)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(*errmsg);
	*errmsg = s;
}
