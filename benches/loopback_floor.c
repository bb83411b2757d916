/* The kernel's floor under scripts/bench-live.sh (issue 11): what one small message costs on
 * loopback TCP before any servent code runs.
 *
 * A flood sends about one descriptor per link, so every live message is one write(), one
 * segment with its ACK through the loopback device, one readiness event and one read().
 * This program does exactly that and nothing else: LINKS TCP connections over 127.0.0.1
 * (TCP_NODELAY, as our links set it), and ROUNDS rounds in which every link carries one
 * FRAME-byte message, written with one write() and read with one read() after epoll says
 * the socket is readable. Both ends live in this one process, as all peers of a one-process
 * `gnutella launch` do, so the CPU of sending and of receiving is counted here, like the
 * bench's live figure.
 *
 *   loopback_floor LINKS ROUNDS FRAME
 *
 * Prints the process CPU (user + sys, getrusage) of the rounds, excluding set-up, per
 * message counted as bench-live.sh counts live ones (each copy once sent, once received).
 * Built by bench-live.sh with `cc -O2`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "loopback_floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double cpu_seconds(void) {
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0) die("getrusage");
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec +
           u.ru_stime.tv_usec * 1e-6;
}

static long arg(const char *text, long lo, long hi, const char *name) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "loopback_floor: %s must be a number in %ld..%ld, not '%s'\n", name, lo,
                hi, text);
        exit(2);
    }
    return v;
}

static void nodelay(int fd) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) die("TCP_NODELAY");
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: loopback_floor LINKS ROUNDS FRAME\n");
        return 2;
    }
    int links = (int)arg(argv[1], 1, 8000, "LINKS");
    long rounds = arg(argv[2], 1, 1000000, "ROUNDS");
    int frame = (int)arg(argv[3], 1, 4096, "FRAME");

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0) die("socket");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0) die("bind 127.0.0.1:0");
    socklen_t len = sizeof addr;
    if (getsockname(listener, (struct sockaddr *)&addr, &len) != 0) die("getsockname");
    if (listen(listener, 1024) != 0) die("listen");

    int *writer = calloc(links, sizeof *writer), *reader = calloc(links, sizeof *reader);
    if (!writer || !reader) die("calloc");
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    for (int i = 0; i < links; i++) {
        writer[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (writer[i] < 0) die("socket");
        if (connect(writer[i], (struct sockaddr *)&addr, sizeof addr) != 0) die("connect");
        reader[i] = accept(listener, NULL, NULL);
        if (reader[i] < 0) die("accept");
        nodelay(writer[i]);
        nodelay(reader[i]);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, reader[i], &ev) != 0) die("epoll_ctl");
    }

    char *out = malloc(frame), *in = malloc(65536);
    struct epoll_event *ready = calloc(links, sizeof *ready);
    if (!out || !in || !ready) die("malloc");
    memset(out, 'q', frame);
    long long received_bytes = 0, expected = (long long)links * rounds * frame;

    double start = cpu_seconds();
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < links; i++)
            if (write(writer[i], out, frame) != frame) die("write");
        long long want = (long long)(r + 1) * links * frame;
        while (received_bytes < want) {
            int n = epoll_wait(ep, ready, links, 1000);
            if (n < 0) die("epoll_wait");
            if (n == 0) {
                errno = ETIMEDOUT;
                die("no data within 1 s");
            }
            for (int k = 0; k < n; k++) {
                ssize_t got = read(reader[ready[k].data.u32], in, 65536);
                if (got <= 0) die("read");
                received_bytes += got;
            }
        }
    }
    double cpu = cpu_seconds() - start;
    if (received_bytes != expected) die("byte count");

    long long messages = 2LL * links * rounds; /* each copy once sent and once received */
    printf("links %d  rounds %ld  frame %d B  cpu %.3f s  %.3f us/message\n", links, rounds,
           frame, cpu, cpu * 1e6 / (double)messages);
    return 0;
}
