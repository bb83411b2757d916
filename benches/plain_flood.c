/* The plain C baseline of scripts/bench-sim.sh (issue 11): the cheapest correct Gnutella
 * flood, a breadth-first wave over CSR arrays, on the very graph the simulator runs.
 *
 * Input: the binary edge list `cargo bench --bench plain_flood -- SPEC SEED --edges-out F`
 * writes from the simulator's own generator, read into CSR arrays by benches/gne.h (shared
 * with benches/gnutella_floor.c). This program floods from each origin given, with Gnutella's
 * forwarding rule: a peer passes the first copy of a query to every neighbour but the one
 * it came from, while TTL remains; later copies are duplicates. Message and reach counts
 * therefore equal the simulator's for a constant-latency flood.
 *
 *   plain_flood EDGES TTL ORIGIN...     (ORIGIN: a peer index; several: one flood each)
 *   plain_flood EDGES TTL @FILE         (origins one per line in FILE)
 *
 * Prints nodes, links, messages, duplicates and peers reached (summed over the floods), the
 * wall seconds spent loading and flooding, and the CPU seconds of both. Built by the script
 * with `cc -O2`.
 */
#include "gne.h"

int main(int argc, char **argv) {
    gne_program = "plain_flood";
    if (argc < 4) die("usage: plain_flood EDGES TTL ORIGIN... | @FILE");
    double t0 = seconds(), c0 = cpu_seconds();
    struct csr g = load_csr(argv[1]);
    uint32_t n = g.n;
    uint64_t m = g.m;
    const uint64_t *offsets = g.offsets;
    const uint32_t *neighbours = g.neighbours;
    double t1 = seconds(), c1 = cpu_seconds();

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
    double t2 = seconds(), c2 = cpu_seconds();
    printf("plain_flood_c nodes=%u links=%llu floods=%zu ttl=%d\n", n, (unsigned long long)m, count,
           ttl);
    printf("messages=%llu duplicates=%llu peers_reached=%llu\n", (unsigned long long)messages,
           (unsigned long long)duplicates, (unsigned long long)reached);
    printf("load_s=%.3f flood_s=%.4f\n", t1 - t0, t2 - t1);
    printf("load_cpu_s=%.3f flood_cpu_s=%.4f\n", c1 - c0, c2 - c1);
    return 0;
}
