#ifndef CZMQ_SHIM_H
#define CZMQ_SHIM_H
// Debian's libzmq, plus two helpers that keep zmq_msg_t (an opaque fixed-size struct) out of Swift.
#include <zmq.h>
#include <stddef.h>
#include <stdint.h>

/// Receives one frame into a malloc'd buffer (free it with free()). Returns 0, or -1 with errno
/// set (EAGAIN with ZMQ_DONTWAIT when nothing is there). *more is 1 when another frame follows.
int cz_recv_frame(void *socket, int flags, uint8_t **out, size_t *len, int *more);

/// Sends one frame; more != 0 marks that another frame of the same message follows.
int cz_send_frame(void *socket, const uint8_t *data, size_t len, int more);

/// Polls one socket for input for up to timeout_ms; 1 when a message is there, 0 on timeout, -1 on error.
int cz_poll_in(void *socket, long timeout_ms);

#endif
