// Greedy text generation through node-llama-cpp (a second real llama.cpp
// client: node loads the prebuilt llama.cpp addon, and node-llama-cpp may start
// a child node process that inherits LD_PRELOAD).
//   node generate.mjs NODE_MODULES_DIR MODEL.gguf [--no-mmap] [--twice]
// --twice loads, generates, unloads and does it all again in one process (the
// second load may reuse the first one's freed weight memory), printing both.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, modelPath, ...flags] = process.argv.slice(2);
const nlc = await import(pathToFileURL(join(modules, "node-llama-cpp", "dist", "index.js")).href);
const llama = await nlc.getLlama({ gpu: false, build: "never", logLevel: "error", progressLogs: false });
for (let round = 0; round < (flags.includes("--twice") ? 2 : 1); round++) {
    const model = await llama.loadModel({ modelPath, useMmap: !flags.includes("--no-mmap") });
    const context = await model.createContext({ contextSize: 512, threads: 1 });
    const completion = new nlc.LlamaCompletion({ contextSequence: context.getSequence() });
    const text = await completion.generateCompletion("The river ran slowly through the old town", {
        maxTokens: 24,
        temperature: 0,
    });
    console.log("text: " + JSON.stringify(text));
    await context.dispose();
    await model.dispose();
}
await llama.dispose();
