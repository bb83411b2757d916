/* The Gnutella floor of scripts/bench-sim.sh (issue 11): the least work Gnutella's routing
 * rules require of a simulated flood, written as plainly and fast as C allows.
 *
 * benches/plain_flood.c keeps one "seen" stamp per peer and a breadth-first frontier: it
 * is the cheapest correct flood, but no servent can route that way. A servent must keep,
 * per descriptor GUID, a route entry (was it seen, which link it came on so hits can go
 * back, the TTL it had, when it was stored, so that old entries expire), and a simulator
 * must carry each message as an event with what the descriptor has on the wire. This
 * program does that and nothing more, so that on one machine
 *   ours / floor      is the simulator's software overhead, and
 *   floor / plain C   is what the protocol's state costs (the routing table no longer fits
 *                     in cache: 32 bytes per peer instead of 4).
 * It is NOT the baseline of issue 11's goals; those stay against plain C.
 *
 * What it keeps and does:
 * - per peer 40 bytes (calloc: zero pages mapped on first touch): the newest route entry
 *   inline {GUID 16 B, stored-at time, link it came from, TTL left} = 32 B, plus a pointer
 *   to older entries, allocated on a peer's second GUID (malloc, grown 1 -> 3 -> 7 entries)
 *   and scanned linearly: up to 8 entries per peer, as the simulator's `--seen-capacity 8`
 *   (the bench's part b). A full table overwrites its oldest entry; an entry older than
 *   the seen age (600 s, the simulator's default) is no longer a duplicate and is reused.
 *   The simulator keeps two generations of 4 to 8; the eviction order differs, which
 *   changes nothing as long as the searches in flight at once fit (they do in the bench:
 *   one at a time), and the message counts are checked against the simulator's.
 * - a FIFO event queue (a chain of 1024-event blocks, reused) of 40-byte entries: due
 *   time, destination peer, link it arrives on, GUID, TTL, hops, kind. The latency of a hop is constant, so FIFO
 *   order is time order (a query starting later is injected when the head reaches its
 *   start time, which keeps the order).
 * - delivery of a Query: look the GUID up in the peer's entries; a duplicate is counted
 *   and dropped (one with more TTL left than the stored copy is re-forwarded, Gnutella's
 *   rule; with constant latency this never happens, `reforwards` says so); a first copy is
 *   stored and forwarded to every other neighbour with TTL-1, hops+1 while TTL remains.
 *   Message, duplicate and reach counts equal plain_flood's and the simulator's.
 * - QueryHits, when the query file names the peers holding the queried file: a holder
 *   reached by the query answers with one QueryHit of TTL = the query's hops, sent back on
 *   the link the query came from; each peer on the way looks the GUID up in its own entries
 *   and passes the hit to the link stored there, down to the origin. So the floor pays
 *   for hit routing as the simulator does, and `hit_messages` must equal its count. The
 *   library search is modelled by a flag per peer (it shares files) and, at such peers
 *   only, a scan of the query's holders (the GUID's second half names the query, standing
 *   for the keywords a servent matches). Push routes (by servent ID of a hit) are not kept.
 *
 * A link is named by the peer at its other end: the generated graphs have no parallel
 * links, so the neighbour's index identifies the connection and no link-twin table is needed.
 *
 * Input: the GNE1 edge file (benches/gne.h, the same loader as plain_flood.c), a TTL, and
 * the queries, one flood each, in start order, one virtual second apart (as bench-sim.sh b
 * runs them with --every-ms 1000):
 *
 *   gnutella_floor EDGES TTL ORIGIN...   (no hits: nobody shares the files)
 *   gnutella_floor EDGES TTL @FILE       (one query a line: ORIGIN [HOLDER...], the
 *                                         holders of the file it asks for; a file of bare
 *                                         origins, as plain_flood reads, works too)
 *
 * `cargo bench --bench plain_flood -- SPEC SEED --queries-out FILE ...` writes that file
 * from the simulator's own workload generator. Prints plain_flood's three lines (nodes,
 * counts, wall seconds loading and flooding), the CPU seconds of both (as plain_flood does),
 * then the hit counts, the queue's peak and how many peers needed older entries.
 * Built by scripts/bench-sim.sh with `cc -O2`. `cc -O2 -DPREFETCH` builds a variant that
 * prefetches the peers the queue holds next (GCC/Clang builtin): the time it saves is the
 * floor's wait for memory; plain_flood does not prefetch, so the script does not use it.
 */
#include "gne.h"

/* Constant latency of a hop (any constant gives the same order and counts). */
#define HOP_US 50000ull
/* Queries start one virtual second apart. */
#define EVERY_US 1000000ull
/* How long an entry counts as seen / routes replies (RoutingConfig's defaults). */
#define SEEN_AGE_US 600000000ull
/* Older entries a peer keeps besides the inline one: 8 in all, `--seen-capacity 8`. */
#define OLDER_MAX 7
/* `from` of a query the peer started itself. */
#define LOCAL UINT32_MAX

enum kind { QUERY, HIT };

/* One route entry: 32 bytes. `at` is the time stored plus one, so zero means empty. */
struct route {
    uint64_t guid[2];
    uint64_t at;
    uint32_t from;
    uint8_t ttl;
    /* In a peer's inline entry only: the peer shares files (has a library to search). */
    uint8_t shares;
};

struct older {
    uint8_t len, cap, next;
    struct route e[];
};

/* A peer: its newest entry inline, older ones behind a pointer. 40 bytes. */
struct peer {
    struct route newest;
    struct older *older;
};

/* One message in flight: 40 bytes. */
struct event {
    uint64_t due;
    uint64_t guid[2];
    uint32_t to, from;
    uint8_t ttl, hops, kind;
};

/* The FIFO: a chain of blocks, events pushed at the tail block, popped at the head block;
 * a block emptied goes to a spare list for reuse, so the queue holds the events in flight
 * plus at most one block (a doubling ring would hold up to twice its widest wave). */
#define BLOCK 1024
struct block {
    struct block *next;
    struct event e[BLOCK];
};
static struct block *head_block, *tail_block, *spare;
static uint32_t head, tail; /* index of the next event to pop in head_block, to push in tail_block */
static uint64_t in_flight, peak;

static struct block *new_block(void) {
    struct block *b = spare;
    if (b) {
        spare = b->next;
    } else {
        b = malloc(sizeof *b);
        if (!b) die("out of memory");
    }
    b->next = NULL;
    return b;
}

static void push(struct event e) {
    if (tail == BLOCK) {
        tail_block = tail_block->next = new_block();
        tail = 0;
    }
    tail_block->e[tail++] = e;
    if (++in_flight > peak) peak = in_flight;
}

/* The head event (the queue is not empty). */
static struct event *front(void) {
    if (head == BLOCK) {
        struct block *done = head_block;
        head_block = done->next;
        done->next = spare;
        spare = done;
        head = 0;
    }
    return &head_block->e[head];
}

static int same(const uint64_t a[2], const uint64_t b[2]) {
    return a[0] == b[0] && a[1] == b[1];
}

static int live(const struct route *r, uint64_t now) {
    return r->at != 0 && now - (r->at - 1) <= SEEN_AGE_US;
}

/* The peer's live entry for `guid`, or NULL. */
static struct route *find(struct peer *p, const uint64_t guid[2], uint64_t now) {
    if (same(p->newest.guid, guid)) return live(&p->newest, now) ? &p->newest : NULL;
    struct older *o = p->older;
    if (o) {
        for (uint8_t i = 0; i < o->len; i++) {
            if (same(o->e[i].guid, guid)) return live(&o->e[i], now) ? &o->e[i] : NULL;
        }
    }
    return NULL;
}

static uint64_t older_tables;

/* Stores a new entry as the peer's newest; the previous newest moves to the older ones
 * (unless it has expired), over the oldest of them when they are full. */
static void store(struct peer *p, const uint64_t guid[2], uint32_t from, uint8_t ttl,
                  uint64_t now) {
    if (live(&p->newest, now)) {
        struct older *o = p->older;
        if (!o || (o->len == o->cap && o->cap < OLDER_MAX)) {
            uint8_t cap = o ? 2 * o->cap + 1 : 1;
            o = realloc(o, sizeof *o + cap * sizeof(struct route));
            if (!o) die("out of memory");
            if (!p->older) {
                o->len = o->next = 0;
                older_tables++;
            }
            o->cap = cap;
            p->older = o;
        }
        if (o->len < o->cap) {
            o->e[o->len++] = p->newest;
        } else {
            o->e[o->next] = p->newest;
            o->next = (uint8_t)((o->next + 1) % o->cap);
        }
    }
    p->newest.guid[0] = guid[0];
    p->newest.guid[1] = guid[1];
    p->newest.at = now + 1;
    p->newest.from = from;
    p->newest.ttl = ttl;
}

/* A query's GUID: 16 pseudo-random-looking bytes whose second half is the query's index. */
static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The queries: origins, and the holders of each one's file (holders[first[q]..first[q+1]]). */
static uint32_t *origins, *holders;
static size_t *first, count, held, origins_cap, holders_cap;

static void add_query(uint32_t origin) {
    if (count + 1 >= origins_cap) {
        origins_cap = origins_cap ? 2 * origins_cap : 64;
        origins = realloc(origins, origins_cap * sizeof *origins);
        first = realloc(first, (origins_cap + 1) * sizeof *first);
        if (!origins || !first) die("out of memory");
    }
    first[count] = held;
    origins[count++] = origin;
    first[count] = held;
}

static void add_holder(uint32_t peer) {
    if (held == holders_cap) {
        holders_cap = holders_cap ? 2 * holders_cap : 64;
        holders = realloc(holders, holders_cap * sizeof *holders);
        if (!holders) die("out of memory");
    }
    holders[held++] = peer;
    first[count] = held;
}

static uint32_t peer_number(const char *text, char **end, uint32_t n) {
    unsigned long long v = strtoull(text, end, 10);
    if (*end == text) die("the query file has something that is not a peer number");
    if (v >= n) die("a query names a peer beyond the node count");
    return (uint32_t)v;
}

static void read_queries(int argc, char **argv, uint32_t n) {
    if (argv[3][0] != '@') {
        for (int i = 3; i < argc; i++) {
            char *end;
            add_query(peer_number(argv[i], &end, n));
            if (*end) die("an origin is not a peer number");
        }
        return;
    }
    FILE *list = fopen(argv[3] + 1, "r");
    if (!list) die("cannot open the query file");
    char *line = NULL;
    size_t size = 0;
    while (getline(&line, &size, list) > 0) {
        char *at = line, *end;
        while (*at == ' ' || *at == '\t') at++;
        if (*at == '\n' || *at == '\0') continue;
        add_query(peer_number(at, &end, n));
        for (at = end; *at == ' ' || *at == '\t'; at++) {}
        while (*at && *at != '\n') {
            add_holder(peer_number(at, &end, n));
            for (at = end; *at == ' ' || *at == '\t'; at++) {}
        }
    }
    free(line);
    fclose(list);
}

int main(int argc, char **argv) {
    gne_program = "gnutella_floor";
    if (argc < 4) die("usage: gnutella_floor EDGES TTL ORIGIN... | @FILE");
    double t0 = seconds(), c0 = cpu_seconds();
    struct csr g = load_csr(argv[1]);
    const uint64_t *offsets = g.offsets;
    const uint32_t *neighbours = g.neighbours;
    double t1 = seconds(), c1 = cpu_seconds();

    char *end;
    long ttl = strtol(argv[2], &end, 10);
    if (*end || ttl < 1 || ttl > 255) die("TTL must be a number in 1..255");
    read_queries(argc, argv, g.n);

    struct peer *peers = alloc(g.n, sizeof *peers);
    for (size_t i = 0; i < held; i++) peers[holders[i]].newest.shares = 1;
    head_block = tail_block = new_block();

    uint64_t messages = 0, duplicates = 0, reached = 0, reforwards = 0;
    uint64_t hit_messages = 0, hits = 0, lost_hits = 0;
    size_t q = 0;
    for (;;) {
        struct event e;
        if (q < count && (in_flight == 0 || q * EVERY_US <= front()->due)) {
            /* The next query starts: stored as our own, sent to every neighbour. */
            uint64_t now = q * EVERY_US;
            uint32_t o = origins[q];
            uint64_t guid[2] = {mix(q), q};
            store(&peers[o], guid, LOCAL, (uint8_t)ttl, now);
            for (uint64_t j = offsets[o]; j < offsets[o + 1]; j++) {
                push((struct event){now + HOP_US, {guid[0], guid[1]}, neighbours[j], o,
                                    (uint8_t)ttl, 0, QUERY});
                messages++;
            }
            q++;
            continue;
        }
        if (in_flight == 0) break;
#ifdef PREFETCH
        /* An experiment, not what bench-sim.sh builds: how much of the floor is waiting
         * for memory. The queue says which peers come next; ask for their lines early. */
        if (in_flight > 16 && head + 16 < BLOCK) {
            uint32_t ahead = head_block->e[head + 16].to;
            __builtin_prefetch(&peers[ahead]);
            __builtin_prefetch(&offsets[ahead]);
            struct older *soon = peers[head_block->e[head + 8].to].older;
            if (soon) __builtin_prefetch(soon);
        }
#endif
        e = *front();
        head++;
        in_flight--;
        uint64_t now = e.due;
        struct peer *p = &peers[e.to];
        struct route *r = find(p, e.guid, now);
        uint8_t ttl_left = e.ttl - 1, hops = e.hops + 1;
        if (e.kind == HIT) {
            if (!r) {
                lost_hits++;
            } else if (r->from == LOCAL) {
                hits++;
            } else if (ttl_left > 0) {
                push((struct event){now + HOP_US, {e.guid[0], e.guid[1]}, r->from, e.to,
                                    ttl_left, hops, HIT});
                hit_messages++;
            }
            continue;
        }
        if (r) {
            if (ttl_left <= r->ttl) {
                duplicates++;
                continue;
            }
            /* More TTL left than any copy before: forward again without answering. */
            r->ttl = ttl_left;
            if (r->from != LOCAL) r->from = e.from;
            reforwards++;
        } else {
            reached++;
            store(p, e.guid, e.from, ttl_left, now);
            if (p->newest.shares) {
                uint64_t query = e.guid[1];
                for (size_t i = first[query]; i < first[query + 1]; i++) {
                    if (holders[i] == e.to) {
                        push((struct event){now + HOP_US, {e.guid[0], e.guid[1]}, e.from, e.to,
                                            hops, 0, HIT});
                        hit_messages++;
                        break;
                    }
                }
            }
        }
        if (ttl_left == 0) continue;
        for (uint64_t j = offsets[e.to]; j < offsets[e.to + 1]; j++) {
            uint32_t v = neighbours[j];
            if (v == e.from) continue;
            push((struct event){now + HOP_US, {e.guid[0], e.guid[1]}, v, e.to, ttl_left, hops,
                                QUERY});
            messages++;
        }
    }
    double t2 = seconds(), c2 = cpu_seconds();
    printf("gnutella_floor nodes=%u links=%llu floods=%zu ttl=%ld\n", g.n,
           (unsigned long long)g.m, count, ttl);
    printf("messages=%llu duplicates=%llu peers_reached=%llu\n", (unsigned long long)messages,
           (unsigned long long)duplicates, (unsigned long long)reached);
    printf("load_s=%.3f flood_s=%.4f\n", t1 - t0, t2 - t1);
    printf("load_cpu_s=%.3f flood_cpu_s=%.4f\n", c1 - c0, c2 - c1);
    printf("hit_messages=%llu hits=%llu lost_hits=%llu reforwards=%llu queue_peak=%llu "
           "older_tables=%llu\n",
           (unsigned long long)hit_messages, (unsigned long long)hits,
           (unsigned long long)lost_hits, (unsigned long long)reforwards,
           (unsigned long long)peak, (unsigned long long)older_tables);
    return 0;
}
