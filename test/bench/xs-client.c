/* xs-client.c: times N writes, N reads and N transactions (start + write + commit) on one libxenstore connection.
 * Build: gcc -O2 xs-client.c -lxenstore. Run: XENSTORED_PATH=<socket> ./xs-client [N]
 * Prints one line, each figure as soon as it is known: "writes <per s> reads <per s> transactions <per s>".
 * Exit 1 on any failure (after the figures so far). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int i)
{
    fprintf(stderr, "xs-client: %s failed at %d: %s\n", what, i, strerror(errno));
    exit(1);
}

int main(int argc, char *argv[])
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    struct xs_handle *xsh = xs_open(0);
    char path[64], value[32];
    double t0, tw, tr, tt;
    unsigned int len;
    int i;

    if (!xsh) {
        fprintf(stderr, "xs-client: cannot connect (XENSTORED_PATH=%s): %s\n", getenv("XENSTORED_PATH") ?: "", strerror(errno));
        return 1;
    }
    t0 = now_s();
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/bench/k%d", i % 100);
        snprintf(value, sizeof(value), "%d", i);
        if (!xs_write(xsh, XBT_NULL, path, value, strlen(value)))
            die("write", i);
    }
    tw = now_s() - t0;
    printf("writes %.0f", n / tw);
    fflush(stdout);
    t0 = now_s();
    for (i = 0; i < n; i++) {
        char *v;
        snprintf(path, sizeof(path), "/bench/k%d", i % 100);
        v = xs_read(xsh, XBT_NULL, path, &len);
        if (!v)
            die("read", i);
        free(v);
    }
    tr = now_s() - t0;
    printf(" reads %.0f", n / tr);
    fflush(stdout);
    t0 = now_s();
    for (i = 0; i < n; i++) {
        xs_transaction_t t = xs_transaction_start(xsh);
        if (t == XBT_NULL)
            die("transaction_start", i);
        snprintf(path, sizeof(path), "/bench/t%d", i % 100);
        if (!xs_write(xsh, t, path, "x", 1))
            die("transaction write", i);
        if (!xs_transaction_end(xsh, t, false))
            die("transaction_end", i);
    }
    tt = now_s() - t0;
    xs_rm(xsh, XBT_NULL, "/bench");
    xs_close(xsh);
    printf(" transactions %.0f\n", n / tt);
    return 0;
}
