/* delayproxy (bench only, issue 5): a userspace stand-in for `tc netem delay`,
 * whose kernel module is missing here. Listens on 127.0.0.1:PORT, forwards
 * each accepted TCP connection to UPSTREAM, and delays every chunk of bytes
 * in each direction by DELAY ms (RTT = 2 x DELAY), preserving order.
 *
 *   delayproxy --listen PORT --upstream HOST:PORT --delay-ms 0.5 [--chunk BYTES]
 *              [--corrupt-after BYTES]
 *
 * --chunk reads (and so forwards) at most BYTES at a time: --delay-ms 0
 * --chunk 1 splits a stream at every byte (the TLS integration spec uses it
 * to cut TLS records into pieces).
 * --corrupt-after flips, once per connection, the last byte of the chunk
 * from upstream that takes its stream past BYTES: inside a TLS record's
 * body or tag, a record that fails its integrity check (the TLS spec's
 * failed-connection case).
 *
 * Per direction: chunks are queued with their due time (read time + delay);
 * one ev_timer wakes the writer when the head is due; an ev_io waits for
 * writability after a partial write. A FIFO with a fixed delay keeps the
 * order. EOF is forwarded (shutdown SHUT_WR) after the queued bytes; the
 * connection closes when both directions are done, or at once on an error.
 * Reading stops while a direction holds more than QUEUE_CAP bytes. The loop
 * uses libev's select backend for its microsecond timeouts.
 * Built by tests/bench/run: cc -O2 -o build/bench/delayproxy delayproxy.c -lev */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#define CHUNK_MAX 65536
#define QUEUE_CAP (8u << 20)

struct chunk {
	struct chunk *next;
	double due;
	size_t len, off;
	char data[];
};

struct conn;

struct dir {
	struct conn *conn;
	int src, dst;
	ev_io rd, wr;
	ev_timer timer;
	struct chunk *head, *tail;
	size_t queued;
	int eof;     /* src sent FIN */
	int shut;    /* FIN forwarded to dst */
	size_t seen; /* bytes read from src */
};

struct conn {
	struct dir up, down; /* up: client -> upstream; down: upstream -> client */
	int connecting;      /* upstream connect() still in progress */
};

static struct ev_loop *loop;
static double delay;
static size_t chunk_max = CHUNK_MAX;
static size_t corrupt_after; /* 0: never */
static struct sockaddr_in upstream;

static void conn_close(struct conn *c)
{
	struct dir *ds[2] = { &c->up, &c->down };
	for (int i = 0; i < 2; i++) {
		struct dir *d = ds[i];
		ev_io_stop(loop, &d->rd);
		ev_io_stop(loop, &d->wr);
		ev_timer_stop(loop, &d->timer);
		while (d->head) {
			struct chunk *n = d->head->next;
			free(d->head);
			d->head = n;
		}
	}
	close(c->up.src);
	close(c->up.dst);
	free(c);
}

static void maybe_read(struct dir *d)
{
	if (!d->eof && d->queued < QUEUE_CAP && !(d == &d->conn->down && d->conn->connecting))
		ev_io_start(loop, &d->rd);
}

/* flush: write every due chunk; then wait for writability, for the next due
 * time, or forward EOF. Returns 0 when the connection was closed. */
static int flush(struct dir *d)
{
	struct conn *c = d->conn;
	if (d == &c->up && c->connecting) {
		ev_io_start(loop, &d->wr); /* writable = connected (or failed) */
		return 1;
	}
	double now = ev_now(loop);
	while (d->head && d->head->due <= now) {
		struct chunk *k = d->head;
		ssize_t n = send(d->dst, k->data + k->off, k->len - k->off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			ev_io_start(loop, &d->wr);
			return 1;
		}
		if (n < 0) {
			conn_close(c);
			return 0;
		}
		k->off += (size_t)n;
		d->queued -= (size_t)n;
		if (k->off < k->len) {
			ev_io_start(loop, &d->wr);
			return 1;
		}
		d->head = k->next;
		if (!d->head)
			d->tail = NULL;
		free(k);
	}
	ev_io_stop(loop, &d->wr);
	maybe_read(d);
	if (d->head) {
		ev_timer_stop(loop, &d->timer);
		ev_timer_set(&d->timer, d->head->due - now, 0.);
		ev_timer_start(loop, &d->timer);
	} else if (d->eof && !d->shut) {
		shutdown(d->dst, SHUT_WR);
		d->shut = 1;
		struct dir *o = d == &c->up ? &c->down : &c->up;
		if (o->shut) {
			conn_close(c);
			return 0;
		}
	}
	return 1;
}

static void on_timer(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)revents;
	flush(w->data);
}

static void on_writable(struct ev_loop *l, ev_io *w, int revents)
{
	(void)l;
	(void)revents;
	struct dir *d = w->data;
	struct conn *c = d->conn;
	if (d == &c->up && c->connecting) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(d->dst, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
			fprintf(stderr, "delayproxy: upstream connect: %s\n",
			        strerror(err ? err : errno));
			conn_close(c);
			return;
		}
		c->connecting = 0;
		maybe_read(&c->down);
	}
	flush(d);
}

static void on_readable(struct ev_loop *l, ev_io *w, int revents)
{
	(void)revents;
	struct dir *d = w->data;
	char buf[CHUNK_MAX];
	ssize_t n = recv(d->src, buf, chunk_max, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0) { /* reset: drop both directions */
		conn_close(d->conn);
		return;
	}
	if (n == 0) {
		d->eof = 1;
		ev_io_stop(l, &d->rd);
		if (!d->head) /* nothing queued: forward the FIN now */
			flush(d);
		return;
	}
	struct chunk *k = malloc(sizeof *k + (size_t)n);
	if (!k) {
		conn_close(d->conn);
		return;
	}
	ev_now_update(l); /* the delay counts from now, not the loop iteration start */
	k->next = NULL;
	k->due = ev_now(l) + delay;
	k->len = (size_t)n;
	k->off = 0;
	memcpy(k->data, buf, (size_t)n);
	if (corrupt_after && d == &d->conn->down && d->seen <= corrupt_after &&
	    d->seen + (size_t)n > corrupt_after)
		k->data[n - 1] ^= 0x5a;
	d->seen += (size_t)n;
	d->queued += (size_t)n;
	if (d->tail) {
		d->tail->next = k; /* the timer or the writer already waits for the head */
	} else {
		d->head = k;
		ev_timer_stop(l, &d->timer);
		ev_timer_set(&d->timer, delay, 0.);
		ev_timer_start(l, &d->timer);
	}
	d->tail = k;
	if (d->queued >= QUEUE_CAP)
		ev_io_stop(l, &d->rd);
}

static int nonblock_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void dir_init(struct dir *d, struct conn *c, int src, int dst)
{
	d->conn = c;
	d->src = src;
	d->dst = dst;
	ev_io_init(&d->rd, on_readable, src, EV_READ);
	ev_io_init(&d->wr, on_writable, dst, EV_WRITE);
	ev_timer_init(&d->timer, on_timer, 0., 0.);
	d->rd.data = d->wr.data = d->timer.data = d;
}

static void on_accept(struct ev_loop *l, ev_io *w, int revents)
{
	(void)revents;
	for (;;) {
		int cfd = accept(w->fd, NULL, NULL);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				perror("delayproxy: accept");
			return;
		}
		int ufd = socket(AF_INET, SOCK_STREAM, 0);
		struct conn *c = calloc(1, sizeof *c);
		if (ufd < 0 || !c || nonblock_nodelay(cfd) < 0 || nonblock_nodelay(ufd) < 0) {
			perror("delayproxy: new connection");
			free(c);
			close(cfd);
			if (ufd >= 0)
				close(ufd);
			continue;
		}
		dir_init(&c->up, c, cfd, ufd);
		dir_init(&c->down, c, ufd, cfd);
		if (connect(ufd, (struct sockaddr *)&upstream, sizeof upstream) < 0) {
			if (errno != EINPROGRESS) {
				perror("delayproxy: upstream connect");
				conn_close(c);
				continue;
			}
			c->connecting = 1;
			ev_io_start(l, &c->up.wr);
		} else {
			ev_io_start(l, &c->down.rd);
		}
		ev_io_start(l, &c->up.rd);
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: delayproxy --listen PORT --upstream HOST:PORT --delay-ms MS "
	                "[--chunk BYTES] [--corrupt-after BYTES]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int port = 0;
	const char *up = NULL;
	delay = -1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--listen"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--upstream"))
			up = argv[i + 1];
		else if (!strcmp(argv[i], "--delay-ms"))
			delay = atof(argv[i + 1]) / 1000.;
		else if (!strcmp(argv[i], "--chunk"))
			chunk_max = (size_t)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--corrupt-after"))
			corrupt_after = (size_t)atol(argv[i + 1]);
		else
			return usage();
	}
	if (argc % 2 == 0 || port <= 0 || port > 65535 || !up || delay < 0 || chunk_max < 1 ||
	    chunk_max > CHUNK_MAX)
		return usage();
	char host[64];
	const char *colon = strrchr(up, ':');
	if (!colon || (size_t)(colon - up) >= sizeof host)
		return usage();
	memcpy(host, up, (size_t)(colon - up));
	host[colon - up] = '\0';
	upstream.sin_family = AF_INET;
	upstream.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &upstream.sin_addr) != 1)
		return usage();

	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_TIMERSLACK, 1UL); /* default slack: +50 us per wake-up */
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
	    listen(lfd, 128) < 0 || fcntl(lfd, F_SETFL, O_NONBLOCK) < 0) {
		perror("delayproxy: listen");
		return 1;
	}
	/* select(): microsecond timeouts; epoll_wait() rounds them up to 1 ms */
	loop = ev_default_loop(EVBACKEND_SELECT);
	if (!loop)
		loop = EV_DEFAULT;
	ev_io lw;
	ev_io_init(&lw, on_accept, lfd, EV_READ);
	ev_io_start(loop, &lw);
	ev_run(loop, 0);
	return 0;
}
