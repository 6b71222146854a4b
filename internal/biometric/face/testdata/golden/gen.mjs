// Runs @vladmandic/face-api's own TF.js pipeline (TinyFaceDetector,
// FaceLandmark68Net, FaceRecognitionNet, WASM backend) on raw RGB images and
// prints what the Go parity test compares against, as JSON on stdout.
//
//   node gen.mjs inputs.json > golden.json
//
// inputs.json is [{"name": ..., "width": W, "height": H, "rgb": "file"}], each
// file W*H*3 bytes of 8-bit RGB, rows top to bottom. The Go test writes these
// from the JPEGs it decodes, so both sides see the very same pixels
// (face_test.go, TestGoldenRegenerate). Test tool; not shipped.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

// Detector options the Go side uses too (face.DefaultOptions).
const INPUT_SIZE = 416;
const SCORE_THRESHOLD = 0.5;

async function main() {
  const list = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const base = dirname(resolve(process.argv[2]));
  // One thread, local binaries: nothing is fetched, and runs repeat exactly.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setWasmPaths(join(here, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/'));
  await tf.setBackend('wasm');
  await tf.ready();
  const model = join(here, 'node_modules/@vladmandic/face-api/model');
  await faceapi.nets.tinyFaceDetector.loadFromDisk(model);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(model);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(model);
  const opts = new faceapi.TinyFaceDetectorOptions({ inputSize: INPUT_SIZE, scoreThreshold: SCORE_THRESHOLD });

  const out = {
    generator: 'testdata/golden/gen.mjs',
    faceapi: faceapi.version,
    tfjs: tf.version_core,
    backend: tf.getBackend(),
    inputSize: INPUT_SIZE,
    scoreThreshold: SCORE_THRESHOLD,
    images: [],
  };
  for (const item of list) {
    const buf = readFileSync(join(base, item.rgb));
    if (buf.length !== item.width * item.height * 3) throw new Error(`${item.name}: ${buf.length} bytes, want ${item.width * item.height * 3}`);
    const input = tf.tensor3d(new Int32Array(buf), [item.height, item.width, 3], 'int32');
    const results = await faceapi.detectAllFaces(input, opts).withFaceLandmarks().withFaceDescriptors();
    const faces = results.map((r) => {
      const b = r.detection.box;
      const a = r.landmarks.align(null, { useDlibAlignment: true });
      return {
        score: r.detection.score,
        box: [b.x, b.y, b.width, b.height],
        landmarks: r.landmarks.positions.flatMap((p) => [p.x, p.y]),
        aligned: [a.x, a.y, a.width, a.height],
        descriptor: Array.from(r.descriptor),
      };
    });
    tf.dispose(input);
    out.images.push({ name: item.name, width: item.width, height: item.height, faces });
  }
  process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
}

main().catch((e) => { console.error(e); process.exit(1); });
