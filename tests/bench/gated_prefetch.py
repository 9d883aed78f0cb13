#!/usr/bin/python3
# Benchmark (not a test; make check never runs it): does a cross-layer prefetch
# win time without moving bytes (issue 12)? While layer l runs, the pairs of
# layer l+1 whose estimated chance of use is at least a gate P are read in
# ahead; a prefetched pair that layer l+1 then uses is a read moved off the
# critical path, one it does not use is a read added.
# The same cache as tests/bench/online_policies.py (one global cache of
# C = FRAC x pairs, tokens and layers in order, the running layer pinned,
# every miss a read, cold ones counted) under LRU, whose reads are within 2%
# of moetier's adapt at 10% and within 10% at 25-50% (docs/policies.md).
# The estimate, learned online from the trace's own past (nothing ahead):
#   p(b at l+1) = max( mean over this token's experts a at l of
#                      #(a at l, b at l+1) / #(a at l),      [co-occurrence]
#                      #(b at l+1 in two tokens running) / #(b at l+1) if the
#                      previous token used b at l+1 )         [repeat]
# trusted once #(a at l) >= 4. A prefetch evicts the LRU unpinned pair (the
# running layer and the step's other prefetches pinned); none when every
# resident pair is pinned.
#   /usr/bin/python3 tests/bench/gated_prefetch.py TOKENS FRAC[,FRAC...] GATE[,GATE...] TRACE...
# Prints per trace, size and gate: reads / reads without prefetch, the share
# of those reads that a used prefetch moved ahead of its layer, and the share
# of prefetches used.
import sys, numpy as np
from online_policies import load

MIN_SEEN = 4


def run(rows, L, E, C, gate):
    P = L * E
    res = np.zeros(P, bool)
    last = np.full(P, -1.0)   # LRU clock per pair
    pf = np.zeros(P, bool)    # prefetched for the coming layer, not used yet
    cooc = np.zeros((L, E, E))
    seen = np.zeros((L, E))
    rep = np.zeros((L, E))    # uses at l by two tokens running
    prev = None
    n = demand = prefetched = early = 0
    clock = 0

    def insert(s, pin):
        nonlocal n
        if n < C:
            res[s] = True
            n += 1
            return True
        sc = np.where(res, last, np.inf)
        sc[list(pin)] = np.inf
        v = int(np.argmin(sc))
        if not np.isfinite(sc[v]):
            return False
        res[v] = False
        pf[v] = False
        res[s] = True
        return True

    for t, row in enumerate(rows):
        for l, g in enumerate(row):
            base = l * E
            pin = set(base + e for e in g)
            for e in g:
                s = base + e
                clock += 1
                if res[s]:
                    early += pf[s]
                    pf[s] = False
                else:
                    demand += 1
                    insert(s, pin)
                last[s] = clock
            # layer l's prefetches have had their chance
            pf[base:base + E] = False
            if gate is None or l + 1 >= L:
                continue
            nx = l + 1
            trusted = [a for a in g if seen[l, a] >= MIN_SEEN]
            p = np.zeros(E)
            if trusted:
                p = np.mean([cooc[l, a] / seen[l, a] for a in trusted], axis=0)
            if prev is not None:
                for b in prev[nx]:
                    if seen[nx, b] >= MIN_SEEN:
                        p[b] = max(p[b], rep[nx, b] / seen[nx, b])
            for b in np.nonzero(p >= gate)[0]:
                s = nx * E + int(b)
                if res[s]:
                    continue
                if insert(s, pin):
                    prefetched += 1
                    pf[s] = True
                    pin.add(s)
                    clock += 1
                    last[s] = clock
        # learn from this token only after it has run (the estimate never sees ahead)
        for l in range(L - 1):
            for a in row[l]:
                for b in row[l + 1]:
                    cooc[l, a, b] += 1
        for l in range(L):
            for a in row[l]:
                seen[l, a] += 1
                if prev is not None and a in prev[l]:
                    rep[l, a] += 1
        prev = [set(g) for g in row]
    return demand + prefetched, early, prefetched


if __name__ == '__main__':
    ntok = int(sys.argv[1])
    fracs = [float(x) for x in sys.argv[2].split(',')]
    gates = [float(x) for x in sys.argv[3].split(',')]
    for tr in sys.argv[4:]:
        rows, L, E = load(tr, ntok)
        for fr in fracs:
            C = int(fr * L * E)
            base, _, _ = run(rows, L, E, C, None)
            out = [f"{tr.split('/')[-1][:-6]} C={fr:g} reads_without={base / len(rows):.1f}/token"]
            for g in gates:
                reads, early, pre = run(rows, L, E, C, g)
                used = early / pre if pre else 0
                out.append(f"P>={g:g}: reads x{reads / base:.3f} ahead {early / base:.3f} used {used:.2f}")
            print('  '.join(out), flush=True)
