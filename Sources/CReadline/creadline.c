// Thin wrapper over GNU readline for the REPL: history, tab completion through a Swift callback,
// and Ctrl-C that cancels the line being edited (or the running command) instead of the process.
#include "creadline.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <readline/history.h>
#include <readline/readline.h>

static char *history_path = NULL;
static int history_new_entries = 0;
static crl_complete_fn swift_complete = NULL;
static volatile int32_t *interrupt_flag = NULL;
static volatile int line_cancelled = 0;

static char **candidates = NULL;
static int candidate_count = 0;

static void free_candidates(void) {
    for (int i = 0; i < candidate_count; i++) free(candidates[i]);
    free(candidates);
    candidates = NULL;
    candidate_count = 0;
}

static char *generator(const char *text, int state) {
    static int index;
    (void)text;
    if (state == 0) index = 0;
    if (index < candidate_count) return strdup(candidates[index++]);
    return NULL;
}

static char **attempted_completion(const char *text, int start, int end) {
    // `:load` completes file names (readline's default); everything else only from our list.
    if (strncmp(rl_line_buffer, ":load ", 6) == 0) return NULL;
    rl_attempted_completion_over = 1;
    if (!swift_complete) return NULL;
    free_candidates();
    char *list = swift_complete(rl_line_buffer, start, end);
    if (!list) return NULL;
    for (char *p = list; *p; p++) if (*p == '\n') candidate_count++;
    if (list[0] && list[strlen(list) - 1] != '\n') candidate_count++;
    candidates = calloc((size_t)candidate_count + 1, sizeof(char *));
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(list, "\n", &save); tok && n < candidate_count; tok = strtok_r(NULL, "\n", &save)) {
        candidates[n++] = strdup(tok);
    }
    candidate_count = n;
    free(list);
    if (candidate_count == 0) return NULL;
    return rl_completion_matches(text, generator);
}

// The terminal's interrupt, suspend and quit keys while readline edits (see prep_terminal).
static cc_t key_intr = 3, key_susp = 26, key_quit = 28;
static int keys_in_band = 0;

// Readline's terminal setup, then the signal keys turned into plain bytes: a SIGINT raced the keys
// typed right after Ctrl-C (one arriving first was taken into the line the interrupt then dropped);
// in band, Ctrl-C is ordered with them. While a command runs (readline's deprep restores the
// terminal), Ctrl-C is a signal again.
static void prep_terminal(int meta) {
    rl_prep_terminal(meta);
    int fd = fileno(rl_instream ? rl_instream : stdin);
    struct termios t;
    keys_in_band = 0;
    if (isatty(fd) && tcgetattr(fd, &t) == 0 && (t.c_lflag & ISIG)) {
        key_intr = t.c_cc[VINTR]; key_susp = t.c_cc[VSUSP]; key_quit = t.c_cc[VQUIT];
        t.c_lflag &= ~(tcflag_t)ISIG;
        if (tcsetattr(fd, TCSANOW, &t) == 0) keys_in_band = 1;
    }
}

static int cancel_line(void) {
    line_cancelled = 1;
    rl_replace_line("", 0);
    rl_point = rl_end = 0;
    return '\n';
}

// Reads one byte; on Ctrl-C empties the line and ends it. Polls with a timeout instead of relying
// on EINTR, because SIGINT is taken by the main thread, not this one (crl_block_sigint).
static int getc_interruptible(FILE *stream) {
    int fd = fileno(stream);
    for (;;) {
        if (interrupt_flag && *interrupt_flag) {  // a SIGINT from elsewhere (kill -INT)
            *interrupt_flag = 0;
            return cancel_line();
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, 100);
        if (r < 0 && errno != EINTR) return EOF;
        if (r <= 0) continue;
        unsigned char c;
        ssize_t n = read(fd, &c, 1);
        if (n == 1 && keys_in_band && c == key_intr && key_intr != _POSIX_VDISABLE) return cancel_line();
        if (n == 1 && keys_in_band && (c == key_susp || c == key_quit) && c != _POSIX_VDISABLE) {
            // Suspend or quit as the terminal would have: restore it, raise the signal, and on
            // resuming (SIGCONT) take the terminal back and redraw the line.
            rl_deprep_terminal();
            kill(getpid(), c == key_susp ? SIGTSTP : SIGQUIT);
            prep_terminal(1);
            rl_forced_update_display();
            continue;
        }
        if (n == 1) return c;
        if (n == 0) return EOF;
        if (errno != EINTR && errno != EAGAIN) return EOF;
    }
}

void crl_init(const char *path, crl_complete_fn complete) {
    swift_complete = complete;
    rl_readline_name = "sardfq";
    rl_attempted_completion_function = attempted_completion;
    // '.' is not a word break so "x.sh" completes as a whole to "x.shape".
    rl_completer_word_break_characters = " \t\n\"'`@$><=;|&{(,[+-*/%:)]}!";
    rl_catch_signals = 0;  // our SIGINT handler + getc decide what Ctrl-C does
    rl_getc_function = getc_interruptible;
    rl_prep_term_function = prep_terminal;
    using_history();
    stifle_history(2000);
    if (path) {
        history_path = strdup(path);
        read_history(history_path);
    }
}

char *crl_readline(const char *prompt, int *cancelled) {
    line_cancelled = 0;
    char *line = readline(prompt);
    if (cancelled) *cancelled = line_cancelled;
    return line;
}

void crl_free(char *p) { free(p); }

void crl_add_history(const char *line) {
    if (!line || !*line) return;
    HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
    if (last && strcmp(last->line, line) == 0) return;
    add_history(line);
    history_new_entries++;
}

void crl_save_history(void) {
    if (!history_path || history_new_entries == 0) return;
    FILE *f = fopen(history_path, "a");
    if (f) fclose(f);  // make sure it exists: append_history needs the file
    append_history(history_new_entries, history_path);
    history_truncate_file(history_path, 2000);
    history_new_entries = 0;
}

static void on_sigint(int sig) {
    (void)sig;
    if (interrupt_flag) *interrupt_flag = 1;
}

void crl_install_sigint(int32_t *flag) {
    interrupt_flag = flag;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // nothing waits for EINTR: readers poll the flag (getc_interruptible)
    sigaction(SIGINT, &sa, NULL);
}

void crl_block_sigint(int blocked) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

int crl_isatty(int fd) { return isatty(fd); }

int crl_query_device_attributes(char *buf, int size, int timeout_ms) {
    if (size < 2 || !isatty(0) || !isatty(1)) return 0;
    struct termios saved, raw;
    if (tcgetattr(0, &saved) != 0) return 0;
    raw = saved;
    raw.c_lflag &= ~(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(0, TCSANOW, &raw) != 0) return 0;
    int n = 0;
    if (write(1, "\033[c", 3) == 3) {
        // Read until the final 'c' of the answer, or the time runs out.
        while (n < size - 1) {
            struct pollfd p = { 0, POLLIN, 0 };
            if (poll(&p, 1, timeout_ms) <= 0) break;
            ssize_t got = read(0, buf + n, 1);
            if (got <= 0) break;
            n += 1;
            if (buf[n - 1] == 'c' && n > 2) break;
        }
    }
    tcsetattr(0, TCSANOW, &saved);
    buf[n] = 0;
    return n;
}
