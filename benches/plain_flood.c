/* The plain C baseline of scripts/bench-sim.sh (issue 11): the cheapest correct Gnutella
 * flood, a breadth-first wave over CSR arrays, on the very graph the simulator runs.
 *
 * Input: the binary edge list `cargo bench --bench plain_flood -- SPEC SEED --edges-out F`
 * writes from the simulator's own generator (magic "GNE1", u32 nodes, u64 links, then the
 * links as u32 pairs, little-endian). This program reads it, builds the CSR arrays
 * (counting sort, both directions) and floods from each origin given, with Gnutella's
 * forwarding rule: a peer passes the first copy of a query to every neighbour but the one
 * it came from, while TTL remains; later copies are duplicates. Message and reach counts
 * therefore equal the simulator's for a constant-latency flood.
 *
 *   plain_flood EDGES TTL ORIGIN...     (ORIGIN: a peer index; several: one flood each)
 *   plain_flood EDGES TTL @FILE         (origins one per line in FILE)
 *
 * Prints nodes, links, messages, duplicates and peers reached (summed over the floods) and
 * the seconds spent loading and flooding. Built by the script with `cc -O2`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "plain_flood: %s\n", what);
    exit(1);
}

static void *alloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size);
    if (!p) die("out of memory");
    return p;
}

int main(int argc, char **argv) {
    if (argc < 4) die("usage: plain_flood EDGES TTL ORIGIN... | @FILE");
    double t0 = seconds();
    FILE *f = fopen(argv[1], "rb");
    if (!f) die("cannot open the edge file");
    char magic[4];
    uint32_t n;
    uint64_t m;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "GNE1", 4) != 0) die("not a GNE1 edge file");
    if (fread(&n, 4, 1, f) != 1 || fread(&m, 8, 1, f) != 1) die("truncated header");
    uint32_t *edges = alloc(2 * m, sizeof(uint32_t));
    if (fread(edges, sizeof(uint32_t), 2 * m, f) != 2 * m) die("truncated edge list");
    fclose(f);

    /* CSR: degrees, prefix sums, then every link at both ends. */
    uint64_t *offsets = alloc((size_t)n + 1, sizeof(uint64_t));
    for (uint64_t i = 0; i < 2 * m; i++) {
        if (edges[i] >= n) die("link names a node beyond the node count");
        offsets[edges[i] + 1]++;
    }
    for (uint32_t u = 0; u < n; u++) offsets[u + 1] += offsets[u];
    uint64_t *fill = alloc((size_t)n, sizeof(uint64_t));
    memcpy(fill, offsets, (size_t)n * sizeof(uint64_t));
    uint32_t *neighbours = alloc(2 * m, sizeof(uint32_t));
    for (uint64_t i = 0; i < m; i++) {
        uint32_t a = edges[2 * i], b = edges[2 * i + 1];
        neighbours[fill[a]++] = b;
        neighbours[fill[b]++] = a;
    }
    free(fill);
    free(edges);
    double t1 = seconds();

    int ttl = atoi(argv[2]);
    /* Origins: the arguments, or the lines of @FILE. */
    uint32_t *origins = NULL;
    size_t count = 0, cap = 0;
    FILE *list = argv[3][0] == '@' ? fopen(argv[3] + 1, "r") : NULL;
    if (argv[3][0] == '@' && !list) die("cannot open the origins file");
    for (int i = 3;; i++) {
        unsigned long v;
        if (list) {
            if (fscanf(list, "%lu", &v) != 1) break;
        } else {
            if (i >= argc) break;
            v = strtoul(argv[i], NULL, 10);
        }
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            origins = realloc(origins, cap * sizeof(uint32_t));
            if (!origins) die("out of memory");
        }
        origins[count++] = (uint32_t)v;
    }
    if (list) fclose(list);

    /* `seen[v] == stamp`: v has had this flood (one stamp per flood, no clearing). */
    uint32_t *seen = alloc((size_t)n, sizeof(uint32_t));
    uint32_t *frontier = alloc((size_t)n, 2 * sizeof(uint32_t));
    uint32_t *next = alloc((size_t)n, 2 * sizeof(uint32_t));
    uint64_t messages = 0, duplicates = 0, reached = 0;
    for (size_t q = 0; q < count; q++) {
        uint32_t stamp = (uint32_t)q + 1, origin = origins[q];
        if (origin >= n) die("origin beyond the node count");
        seen[origin] = stamp;
        size_t width = 1, grown;
        frontier[0] = origin;
        frontier[1] = UINT32_MAX;
        for (int level = 0; level < ttl && width > 0; level++) {
            grown = 0;
            for (size_t k = 0; k < width; k++) {
                uint32_t u = frontier[2 * k], sender = frontier[2 * k + 1];
                for (uint64_t j = offsets[u]; j < offsets[u + 1]; j++) {
                    uint32_t v = neighbours[j];
                    if (v == sender) continue;
                    messages++;
                    if (seen[v] == stamp) {
                        duplicates++;
                    } else {
                        seen[v] = stamp;
                        reached++;
                        next[2 * grown] = v;
                        next[2 * grown + 1] = u;
                        grown++;
                    }
                }
            }
            uint32_t *swap = frontier;
            frontier = next;
            next = swap;
            width = grown;
        }
    }
    double t2 = seconds();
    printf("plain_flood_c nodes=%u links=%llu floods=%zu ttl=%d\n", n, (unsigned long long)m, count,
           ttl);
    printf("messages=%llu duplicates=%llu peers_reached=%llu\n", (unsigned long long)messages,
           (unsigned long long)duplicates, (unsigned long long)reached);
    printf("load_s=%.3f flood_s=%.4f\n", t1 - t0, t2 - t1);
    return 0;
}
