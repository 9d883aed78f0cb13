#!/usr/bin/env python3
# mkseeds.py: writes the seed corpora of the configuration, routing, profile
# and stage fuzz targets (tests/fuzz/corpus-<name>/; the GGUF seeds come from
# tests/bin/gguf_mkseeds). Run from the top of the tree after changing a format:
#   python3 tests/fuzz/mkseeds.py
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(name, seed, data):
    d = os.path.join(HERE, "corpus-" + name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, seed), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- configuration: line i is the value of variable i ("-" = unset), in the
# order of enum moetier_config_var
VARS = ["DISABLE", "MATCH", "ONLY_COMM", "DRAM", "SLOW", "POLICY", "PROFILE", "SAMPLER",
        "SAMPLE_MS", "SAMPLE_BUDGET", "MIGRATE_MBPS", "ALLOC_MIN", "HUGEPAGES", "CUDA_PIN",
        "PROMOTE", "STATS_DIR", "LOG", "LOG_FILE", "STRICT"]
put("config", "seed-defaults", "\n".join(["off", "*.gguf", "", "50%", "auto", "auto", "", "auto", "20",
                                          "1%", "0", "4M", "auto", "auto", "auto", "", "warn", "", "off"]))
put("config", "seed-tuned", "\n".join(["0", "Qwen*-000??-of-*.gguf", "llama-*", "64G", "numa:1", "predict",
                                       "/home/u/.cache/moetier/x.prof", "pagemap", "5ms", "0.5%", "800",
                                       "2MiB", "on", "off", "copy", "/run/user/1000/moetier", "debug",
                                       "/tmp/moetier.log", "1"]))
put("config", "seed-slow", "\n".join(["-", "-", "-", "12.5%", "pmem:/mnt/pmem0", "-", "off", "-", "-", "-",
                                      "-", "-", "-", "-", "lock"]))
put("config", "seed-devdax", "\n".join(["-", "-", "-", "1.5T", "devdax:/dev/dax0.0", "hot", "-", "fault",
                                        "60000", "100%"]))
put("config", "seed-bad", "\n".join(["maybe", "", "x", "0%", "numa:", "fifo", "-", "routing", "0", "0.01%",
                                     "-1", "1K", "2", "", "move", "rel/dir", "trace", "log", "yes"]))

# ---- routing: .trace and .counts
put("routing", "seed-trace", "# model=tiny layers=3 experts=8 topk=2 seed=7\n"
    "0,1 2,3 4,5\n7,6 5,4 3,2\n# a comment\n\n1,0 0,1 6,7\n")
put("routing", "seed-trace-topk1", "# model=x layers=2 experts=4 topk=1\n0 3\n1 2\r\n")
put("routing", "seed-counts", "# model=tiny layers=2 experts=4 topk=2 tokens=5 counts\n"
    "3 2 4 1\n0 0 5 5\n")
put("routing", "seed-bad", "# model=tiny layers=2 experts=4 topk=2\n0,1 2,9\n")


# ---- profile: see profiler/profile.c for the layout
def fnv1a(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return h


def profile(nl, nx, blocks, model_id, path, tokens=1000):
    size = 1128 + 4 * nl + 12 * nl * nx
    b = b"MOETPROF" + struct.pack("<IIQIIQQ", 1, 1120, size, nl, nx, tokens, 1700000000 * 10**9)
    b += model_id.encode().ljust(48, b"\0") + path.encode().ljust(1024, b"\0")
    b += b"".join(struct.pack("<i", x) for x in blocks)
    for i in range(nl * nx):
        b += struct.pack("<Qf", (i * 37) % 101, ((i * 7) % 11) / 10.0)
    return b + struct.pack("<Q", fnv1a(b))


put("profile", "seed-2x4", profile(2, 4, [0, 1], "0123456789abcdef-00001000", "/models/tiny.gguf"))
put("profile", "seed-3x2", profile(3, 2, [1, 5, 9], "id", "/m.gguf", tokens=0))


# ---- stage record: see tiering/stage.h (header 64 bytes, entries 4480)
def xxh64(data, seed=0):
    P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                          0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)
    M = (1 << 64) - 1
    rotl = lambda x, r: ((x << r) | (x >> (64 - r))) & M
    rnd = lambda acc, v: (rotl((acc + v * P2) & M, 31) * P1) & M
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + P1 + P2) & M, (seed + P2) & M, seed, (seed - P1) & M]
        while i + 32 <= n:
            for j in range(4):
                v[j] = rnd(v[j], struct.unpack_from("<Q", data, i + 8 * j)[0])
            i += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M
        for j in range(4):
            h = ((h ^ rnd(0, v[j])) * P1 + P4) & M
    else:
        h = (seed + P5) & M
    h = (h + n) & M
    while i + 8 <= n:
        h = (rotl(h ^ rnd(0, struct.unpack_from("<Q", data, i)[0]), 27) * P1 + P4) & M
        i += 8
    if i + 4 <= n:
        h = (rotl(h ^ (struct.unpack_from("<I", data, i)[0] * P1) & M, 23) * P2 + P3) & M
        i += 4
    while i < n:
        h = (rotl(h ^ (data[i] * P5) & M, 11) * P1) & M
        i += 1
    h ^= h >> 33
    h = (h * P2) & M
    h ^= h >> 29
    h = (h * P3) & M
    return h ^ (h >> 32)


def entry(path, copy, size, offset=0, align=0, index=0, files=1):
    e = path.encode().ljust(4096, b"\0") + copy.encode().ljust(256, b"\0")
    e += struct.pack("<QqQQQQQQII", size, 1700000000 * 10**9, 1234, 0x803, 0x1111, 0x2222, offset, align,
                     index, files)
    return e + b"\0" * 56


def record(entries, flags=0, area=0, device=0):
    h = b"MOESTAGE" + struct.pack("<IIIIII", 1, 64, 4480, len(entries), flags, 0)
    h += struct.pack("<QQQ", area, device, 1700000000 * 10**9)
    body = b"".join(entries)
    return h + struct.pack("<Q", xxh64(h + b"\0" * 8 + body)) + body


assert xxh64(b"") == 0xEF46DB3751D8E999  # the published reference value
put("stage", "seed-pmem", record([entry("/models/tiny.gguf", "tiny.gguf", 8192)]))
# byte 28 (reserved0) steers fuzz_stage: bit 0 devdax, 1 names its model, 2 places the copy
pm = bytearray(record([entry("/models/tiny.gguf", "copy.gguf", 8192)]))
pm[28] = 2 | 4
put("stage", "seed-pmem-found", bytes(pm))
dd = bytearray(record([entry("/models/a-00001-of-00002.gguf", "", 8192, 12288, 4096, 0, 2),
                       entry("/models/a-00002-of-00002.gguf", "", 8192, 20480, 4096, 1, 2)],
                      flags=1, area=12288, device=1 << 20))
put("stage", "seed-devdax", bytes(dd))
dd[28], dd[29] = 1 | 2 | 4, 1
put("stage", "seed-devdax-found", bytes(dd))
