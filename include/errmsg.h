/*
 * errmsg.h - the `char **errmsg` convention of the modules' C interfaces:
 * a failure may leave a malloc'd, lower-case message for the caller, who
 * frees it (leveldb's errptr).  One helper sets it, for the C modules and
 * for the DCMTK shim alike.
 */
#ifndef HRAUDIT_ERRMSG_H
#define HRAUDIT_ERRMSG_H

#ifdef __cplusplus
extern "C" {
#endif

/* Replaces *errmsg (freeing the old one) with the formatted message; does
 * nothing when errmsg is NULL.  Out of memory leaves *errmsg NULL. */
void errmsg_set(char **errmsg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif
