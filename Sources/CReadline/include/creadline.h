#ifndef CREADLINE_H
#define CREADLINE_H

#include <stdint.h>

/// Completion callback: given the whole line and the [start, end) of the word being completed,
/// returns a malloc'd string of candidates separated by '\n' (or NULL for none). Readline frees it.
typedef char *(*crl_complete_fn)(const char *line, int start, int end);

/// Sets up readline: history file (read now, written by crl_save_history), completion callback.
void crl_init(const char *history_path, crl_complete_fn complete);

/// Reads one line with the prompt. Returns a malloc'd line (caller frees with crl_free) or NULL on EOF.
/// If Ctrl-C is pressed while editing, the line is discarded and *cancelled is set to 1 (returns "").
char *crl_readline(const char *prompt, int *cancelled);

void crl_free(char *p);
void crl_add_history(const char *line);
/// Appends the entries typed since the REPL started to the history file (keeps the last 2000 lines).
void crl_save_history(void);

/// Installs a SIGINT handler that sets *flag = 1 instead of killing the process.
void crl_install_sigint(int32_t *flag);

/// Blocks (1) or unblocks (0) SIGINT on the calling thread; threads it starts afterwards inherit that.
void crl_block_sigint(int blocked);

/// 1 if the file descriptor is a terminal.
int crl_isatty(int fd);

/// Asks the terminal for its primary device attributes (DA1, `ESC [ c`) and copies the answer
/// (`ESC [ ? 62 ; 4 ; 22 c`: 4 = sixel graphics) into buf. Needs stdin and stdout to be the
/// terminal; waits at most timeout_ms. Returns the answer's length, 0 when none came.
int crl_query_device_attributes(char *buf, int size, int timeout_ms);

#endif
