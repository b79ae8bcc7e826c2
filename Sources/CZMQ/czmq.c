#include "czmq.h"
#include <stdlib.h>
#include <string.h>
#include <errno.h>

int cz_recv_frame(void *socket, int flags, uint8_t **out, size_t *len, int *more) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket, flags) < 0) { int e = errno; zmq_msg_close(&msg); errno = e; return -1; }
    size_t n = zmq_msg_size(&msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) { zmq_msg_close(&msg); errno = ENOMEM; return -1; }
    memcpy(buf, zmq_msg_data(&msg), n);
    *out = buf;
    *len = n;
    *more = zmq_msg_more(&msg);
    zmq_msg_close(&msg);
    return 0;
}

int cz_send_frame(void *socket, const uint8_t *data, size_t len, int more) {
    return zmq_send(socket, len ? data : "", len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

int cz_poll_in(void *socket, long timeout_ms) {
    zmq_pollitem_t item = { socket, 0, ZMQ_POLLIN, 0 };
    int rc = zmq_poll(&item, 1, timeout_ms);
    if (rc < 0) return -1;
    return (item.revents & ZMQ_POLLIN) ? 1 : 0;
}
