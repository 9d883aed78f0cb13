// independent_reader.mjs: node-llama-cpp's own GGUF reader and `moetier inspect
// --json` must agree byte for byte on every routed expert of a model.
//
//   node independent_reader.mjs NODE_MODULES MOETIER MODEL.gguf...
//
// For each model, node-llama-cpp's readGgufFileInfo (an independent parser,
// written in TypeScript; split models are read through their first part)
// gives the tensors (name, dimensions, ggml type, absolute file offset, file
// part) and the metadata; the expected expert list is built from them here:
// routed-expert tensors blk.N.ffn_{gate,up,down,gate_up}_exps.weight, one range
// per tensor in the order gate|gate_up, up, down, expert e's slice at
// offset + e*nb2 of length nb2 = (ne0/block)*type_size*ne1; shared experts
// blk.N.ffn_{gate,up,down}_shexp.weight; every other tensor's bytes.
// Block and type sizes come from the real ggml through node-llama-cpp's
// native bindings when they load, else from the table below (checked against
// the bindings whenever both are there). The listed fields are compared as
// canonical JSON. Exit 0 all agree, 1 a mismatch, 77 node-llama-cpp unusable.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [nodeModules, moetier, ...models] = process.argv.slice(2);
if (!nodeModules || !moetier || models.length === 0) {
    console.error("usage: node independent_reader.mjs NODE_MODULES MOETIER MODEL.gguf...");
    process.exit(2);
}

// ggml type id -> [block size, type size] (ggml.c type_traits of the pinned llama.cpp)
const TABLE = {
    0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34],
    9: [32, 36], 10: [256, 84], 11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210],
    15: [256, 292], 16: [256, 66], 17: [256, 74], 18: [256, 98], 19: [256, 50], 20: [32, 18],
    21: [256, 110], 22: [256, 82], 23: [256, 136], 24: [1, 1], 25: [1, 2], 26: [1, 4], 27: [1, 8],
    28: [1, 8], 29: [256, 56], 30: [1, 2], 34: [256, 54], 35: [256, 66], 39: [32, 17],
    40: [64, 36], 41: [128, 18], 42: [64, 18],
};

let nlc;
try {
    nlc = await import(pathToFileURL(path.join(nodeModules, "node-llama-cpp/dist/index.js")).href);
} catch (e) {
    console.log(`SKIP: cannot load node-llama-cpp from ${nodeModules}: ${e.message}`);
    process.exit(77);
}

// The real ggml's sizes, when the prebuilt native addon loads.
let sizes = TABLE;
let sizeSource = "the table in independent_reader.mjs";
try {
    const llama = await nlc.getLlama({ gpu: false, build: "never", logLevel: "error", progressLogs: false });
    const fromGgml = {};
    for (let t = 0; t < 64; t++) {
        const ts = llama._bindings.getTypeSizeForGgmlType(t);
        const bs = llama._bindings.getBlockSizeForGgmlType(t);
        if (ts && bs)
            fromGgml[t] = [Number(bs), Number(ts)];
    }
    await llama.dispose();
    if (JSON.stringify(fromGgml) !== JSON.stringify(TABLE)) {
        console.log("FAIL: the block/type size table disagrees with ggml's:");
        console.log("  ggml:  " + JSON.stringify(fromGgml));
        console.log("  table: " + JSON.stringify(TABLE));
        process.exit(1);
    }
    sizes = fromGgml;
    sizeSource = "ggml through node-llama-cpp's bindings";
} catch (e) {
    console.log(`note: node-llama-cpp's native bindings did not load (${e.message.split("\n")[0]}); using the table`);
}

const big = (v) => BigInt(v);
const num = (v, what) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n))
        throw new Error(`${what} = ${v} is beyond 2^53: cannot compare through JSON`);
    return n;
};

function tensorBytes(t) {
    const s = sizes[t.ggmlType];
    if (!s)
        throw new Error(`tensor ${t.name}: ggml type ${t.ggmlType} has no size`);
    const [block, typeSize] = s.map(big);
    const ne = t.dimensions.map(big);
    if (ne.length === 0)
        ne.push(1n);
    if (ne[0] % block !== 0n)
        throw new Error(`tensor ${t.name}: ne0 ${ne[0]} is not a multiple of ${block}`);
    let bytes = (ne[0] / block) * typeSize;
    for (const d of ne.slice(1))
        bytes *= d;
    return bytes;
}

const ROUTED = /^blk\.(0|[1-9][0-9]{0,5})\.ffn_(gate_up|gate|up|down)_exps\.weight$/;
const SHARED = /^blk\.(0|[1-9][0-9]{0,5})\.ffn_(gate|up|down)_shexp\.weight$/;
const SLOT = { gate: 0, gate_up: 0, up: 1, down: 2 };

async function expected(model) {
    const info = await nlc.readGgufFileInfo(model, { logWarnings: false });
    const tensors = info.fullTensorInfo ?? info.tensorInfo;
    const md = info.metadata;
    const arch = md.general?.architecture ?? null;
    const archMd = (arch && md[arch]) || {};
    const split = (info.splicedParts ?? 1) > 1;

    let routed = new Map(), shared = 0n, other = 0n;
    for (const t of tensors) {
        const bytes = tensorBytes(t);
        const m = ROUTED.exec(t.name);
        if (m) {
            const layer = Number(m[1]);
            if (!routed.has(layer))
                routed.set(layer, []);
            routed.get(layer).push({ t, slot: SLOT[m[2]], bytes });
        } else if (SHARED.test(t.name)) {
            shared += bytes;
        } else {
            other += bytes;
        }
    }
    const layers = [...routed.keys()].sort((a, b) => a - b);
    let nExpert = 0, total = 0n;
    const experts = [];
    for (const layer of layers) {
        const ts = routed.get(layer).sort((a, b) => a.slot - b.slot);
        const n = Number(ts[0].t.dimensions[2]);
        nExpert = n;
        for (let e = 0; e < n; e++) {
            const ranges = [];
            let bytes = 0n;
            for (const { t, bytes: tb } of ts) {
                const nb2 = tb / big(t.dimensions[2]);
                const r = [num(big(t.fileOffset) + big(e) * nb2, "offset"), num(nb2, "length")];
                if (split)
                    r.push((t.filePart ?? 1) - 1);
                ranges.push(r);
                bytes += nb2;
            }
            total += bytes;
            experts.push({ layer, expert: e, bytes: num(bytes, "bytes"), ranges });
        }
    }
    const out = {
        schema: 1,
        architecture: arch,
        n_layers: layers.length,
        n_experts: nExpert,
        n_experts_used: archMd.expert_used_count != null ? Number(archMd.expert_used_count) : null,
        n_experts_shared: archMd.expert_shared_count != null ? Number(archMd.expert_shared_count) : null,
        expert_bytes_total: num(total, "expert_bytes_total"),
        shared_expert_bytes: num(shared, "shared_expert_bytes"),
        other_bytes_total: num(other, "other_bytes_total"),
        experts,
    };
    const parts = split ? info.sourceData.map((s) => s.path) : [model];
    if (split)
        out.files = parts.map((p) => path.resolve(p));
    out.file_size = parts.reduce((acc, p) => acc + fs.statSync(p).size, 0);
    return out;
}

function canon(v) {
    if (Array.isArray(v))
        return v.map(canon);
    if (v && typeof v === "object")
        return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
    return v;
}

function firstDifference(a, b, where = "") {
    if (JSON.stringify(a) === JSON.stringify(b))
        return null;
    if (a && b && typeof a === "object" && typeof b === "object") {
        const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
        for (const k of keys) {
            const d = firstDifference(a[k], b[k], `${where}${Array.isArray(a) ? `[${k}]` : `.${k}`}`);
            if (d)
                return d;
        }
    }
    return `${where || "(top)"}: node-llama-cpp says ${JSON.stringify(a)}, moetier says ${JSON.stringify(b)}`;
}

let failed = 0;
for (const model of models) {
    let want, got;
    try {
        want = canon(await expected(model));
    } catch (e) {
        console.log(`FAIL: ${model}: node-llama-cpp's reader: ${e.message}`);
        failed++;
        continue;
    }
    try {
        const out = execFileSync(moetier, ["inspect", "--json", model], { encoding: "utf8", maxBuffer: 1 << 30 } /* a Kimi-grid map is megabytes */);
        const all = JSON.parse(out);
        if (Array.isArray(all.files))
            all.files = all.files.map((p) => path.resolve(p)); /* the same files, however named */
        got = canon(Object.fromEntries(Object.keys(want).map((k) => [k, all[k]])));
    } catch (e) {
        console.log(`FAIL: ${model}: moetier inspect --json: ${e.message}`);
        failed++;
        continue;
    }
    const d = firstDifference(want, got);
    if (d) {
        console.log(`FAIL: ${model}: ${d}`);
        failed++;
    } else {
        console.log(`ok: ${model}: ${want.n_layers} MoE layers x ${want.n_experts} experts, ` +
                    `${want.experts.length} experts agree byte for byte`);
    }
}
console.log(`sizes from ${sizeSource}; ${models.length - failed} of ${models.length} models agree`);
process.exit(failed ? 1 : 0);
