#ifndef CSPAWN_H
#define CSPAWN_H
#include <spawn.h>

/// pipe2(fds, O_CLOEXEC): both ends close on exec, atomically (no other thread's child can
/// inherit them between pipe() and fcntl()). 0 on success, -1 with errno set.
int cspawn_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addchdir_np (glibc ≥ 2.29; a GNU extension Swift does not import).
int cspawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

#endif
