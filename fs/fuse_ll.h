/*
 * fuse_ll: the one place fs/ picks its libfuse API level. 3.14 is what
 * Debian 12 ships and what the code is written against; later releases
 * keep that API (the 3-argument fuse_session_custom_io included) when
 * asked for it. FUSE passthrough comes from the official API from 3.17 on
 * (PT_OFFICIAL) and from the shim in passthrough.c before.
 */
#ifndef VY_FS_FUSE_LL_H
#define VY_FS_FUSE_LL_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#endif
#include <fuse_lowlevel.h>

#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 17)
#define PT_OFFICIAL 1
#else
#define PT_OFFICIAL 0
#endif

#endif
