// Run a MicroPython program on the WebAssembly port (npm @micropython/micropython-webassembly-pyscript)
// with host files copied into its filesystem.
//
//   node run.mjs MANIFEST.json
//
// MANIFEST: {"files": {"/lib/drivers/bus.py": "/host/path/bus.py", ...},
//            "main": "python source to run", "heap": bytes}
// MicroPython's stdout goes to stdout. A Python exception is printed to stderr, exit 1.
import fs from "node:fs";
import path from "node:path";

const manifest = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const { loadMicroPython } = await import("@micropython/micropython-webassembly-pyscript");
// Line-buffered: the port decodes each whole line as UTF-8.
const mp = await loadMicroPython({
  heapsize: manifest.heap || 8 * 1024 * 1024,
  linebuffer: true,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});

function makeDirs(dir) {
  if (dir === "/" || mp.FS.analyzePath(dir).exists) return;
  makeDirs(path.posix.dirname(dir));
  mp.FS.mkdir(dir);
}

for (const [target, source] of Object.entries(manifest.files)) {
  makeDirs(path.posix.dirname(target));
  mp.FS.writeFile(target, fs.readFileSync(source));
}

try {
  mp.runPython(manifest.main);
} catch (error) {
  if (error.name !== "PythonError") throw error;
  process.stderr.write(error.message);
  process.exitCode = 1;
}
