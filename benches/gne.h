/* The GNE1 edge-file loader shared by the C programs of scripts/bench-sim.sh
 * (benches/plain_flood.c, benches/gnutella_floor.c), so both build the very same CSR arrays.
 *
 * GNE1 is what `cargo bench --bench plain_flood -- SPEC SEED --edges-out F` writes from the
 * simulator's own generator: magic "GNE1", u32 nodes, u64 links, then the links as u32
 * pairs, little-endian. The loader turns it into CSR arrays (counting sort, both
 * directions): peer u's neighbours are neighbours[offsets[u] .. offsets[u + 1]].
 *
 * A header of static functions (each program is one translation unit): no library to build.
 */
#ifndef GNE_H
#define GNE_H

/* clock_gettime under -std=c99 too. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The program's name in error messages; each program sets it first thing. */
static const char *gne_program = "gne";

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* CPU seconds (user + sys) of the process so far. */
static double cpu_seconds(void) {
    return (double)clock() / CLOCKS_PER_SEC;
}

static void die(const char *what) {
    fprintf(stderr, "%s: %s\n", gne_program, what);
    exit(1);
}

/* Zeroed memory (calloc: pages are mapped on first touch). */
static void *alloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size);
    if (!p) die("out of memory");
    return p;
}

struct csr {
    uint32_t n;
    uint64_t m;
    uint64_t *offsets;    /* n + 1 */
    uint32_t *neighbours; /* 2 m */
};

/* Reads a GNE1 file into CSR arrays; any bad input ends the program with a message. */
static struct csr load_csr(const char *path) {
    struct csr g;
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open the edge file");
    char magic[4];
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "GNE1", 4) != 0) die("not a GNE1 edge file");
    if (fread(&g.n, 4, 1, f) != 1 || fread(&g.m, 8, 1, f) != 1) die("truncated header");
    uint32_t *edges = alloc(2 * g.m, sizeof(uint32_t));
    if (fread(edges, sizeof(uint32_t), 2 * g.m, f) != 2 * g.m) die("truncated edge list");
    fclose(f);

    /* CSR: degrees, prefix sums, then every link at both ends. */
    g.offsets = alloc((size_t)g.n + 1, sizeof(uint64_t));
    for (uint64_t i = 0; i < 2 * g.m; i++) {
        if (edges[i] >= g.n) die("link names a node beyond the node count");
        g.offsets[edges[i] + 1]++;
    }
    for (uint32_t u = 0; u < g.n; u++) g.offsets[u + 1] += g.offsets[u];
    uint64_t *fill = alloc((size_t)g.n, sizeof(uint64_t));
    memcpy(fill, g.offsets, (size_t)g.n * sizeof(uint64_t));
    g.neighbours = alloc(2 * g.m, sizeof(uint32_t));
    for (uint64_t i = 0; i < g.m; i++) {
        uint32_t a = edges[2 * i], b = edges[2 * i + 1];
        g.neighbours[fill[a]++] = b;
        g.neighbours[fill[b]++] = a;
    }
    free(fill);
    free(edges);
    return g;
}

#endif
